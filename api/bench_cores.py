"""Where ``propcheck bench verify``'s processes run: the server on a core of its own, or
everything on every core.

The benchmark runs the server, PostgreSQL and its own load generator on one machine;
on two cores they take turns on both. Deployed, the API process shares its cores with
neither: PostgreSQL is a managed server of its own and the clients are phones. Sharing
penalises the product more than the floor, for a reason that is not the product's cost:
a verify makes PostgreSQL work (its durable, chained record), and on shared cores that
work preempts the server's event loop, the one thread every request of a worker needs
(measured with /proc/<pid>/schedstat: the loop waited for a core 10 to 13% of the time
under verify load, under 2% under the floor's). The benchmark measures both placements
in alternating rounds of the same run and reports both; the targets are judged on the
deployed one (OWN).

OWN: PostgreSQL's processes (the postmaster first: the backends it forks later inherit
its cores) and the load generator's thread are confined to the cores the server's
workers do not need. During the cold pass, the warm-ups and the measured rounds the
servers' threads are pinned to the others, so that the scheduler cannot put an event
loop beside PostgreSQL; in the photo and mix phases they are left free (a photo is
decoded in threads of the server's own, which need a core too). Linux only
(sched_setaffinity); elsewhere, with fewer cores than workers + 1, or without the right
to move PostgreSQL's processes (another user's, with no CAP_SYS_NICE), everything
shares, and the report says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

__all__ = ["OWN", "SHARED", "Cores", "process_tree"]

#: The server's cores are its own: PostgreSQL and the load generator use the others.
OWN = "own cores"
#: Server, PostgreSQL and load generator on every core.
SHARED = "shared cores"

_AFFINITY = hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


class Cores:
    """Moves PostgreSQL (when it runs here), the servers and this thread between
    placements."""

    def __init__(self, pg_pid: int | None, *, server_cores: int) -> None:
        self.pg_pid = pg_pid
        self.all = sorted(os.sched_getaffinity(0)) if _AFFINITY else []
        self.mine = self.all[:server_cores]
        #: What PostgreSQL and the load generator get when the server has its own cores.
        self.spare = self.all[server_cores:]
        self.why_shared = ""
        if not _AFFINITY:
            self.why_shared = "this system cannot place processes on cores"
        elif not self.spare:
            self.why_shared = f"{len(self.all)} core(s): none to spare beside the server's"
        elif pg_pid is not None:
            try:  # the same cores again: only whether we may move PostgreSQL at all
                os.sched_setaffinity(pg_pid, os.sched_getaffinity(pg_pid))
            except PermissionError:
                self.why_shared = "PostgreSQL's processes may not be moved by this user"

    @property
    def placements(self) -> list[str]:
        """The placements this machine allows, the deployed one first."""
        return [SHARED] if self.why_shared else [OWN, SHARED]

    def describe(self, placement: str) -> str:
        """What ``placement`` means here, for the report."""
        if placement == SHARED:
            why = f"; {self.why_shared}" if self.why_shared else ""
            cores = len(self.all) or os.cpu_count()
            return f"server, PostgreSQL and load generator on every core ({cores}){why}"
        if self.pg_pid is None:
            return (
                f"the load generator confined to core(s) {_cpus(self.spare)}, the servers "
                f"pinned to core(s) {_cpus(self.mine)}; DATABASE_URL's PostgreSQL is not "
                "placed (on this machine, it shares every core)"
            )
        return (
            f"PostgreSQL and the load generator confined to core(s) {_cpus(self.spare)}, "
            f"core(s) {_cpus(self.mine)} the servers' alone"
        )

    def apply(self, placement: str, servers: Iterable[int] = (), *, pin: bool = False) -> None:
        """Take ``placement``: under OWN, PostgreSQL and this thread on the spare cores
        and each of ``servers`` (pids, with their worker processes) pinned to its cores
        when ``pin``, else free; under SHARED, all of them on every core."""
        if not _AFFINITY or not self.all:
            return
        own = placement == OWN and not self.why_shared
        everything = set(self.all)
        others = set(self.spare) if own else everything
        os.sched_setaffinity(0, others)  # this thread: the load generator's event loop
        for pid in servers:
            _place_tree(pid, set(self.mine) if own and pin else everything, threads=True)
        if self.pg_pid is not None:
            _place_tree(self.pg_pid, others, threads=False)


def _cpus(cores: list[int]) -> str:
    return ",".join(map(str, cores))


def process_tree(pid: int) -> list[Any]:
    """Process ``pid`` and its descendants (psutil.Process), none once it has exited."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _place_tree(pid: int, cpus: set[int], *, threads: bool) -> None:
    """Put process ``pid`` and its descendants (every thread of each, with ``threads``)
    on ``cpus``; the root first, so that a child it forks meanwhile inherits them."""
    import psutil

    try:
        os.sched_setaffinity(pid, cpus)
    except ProcessLookupError:
        return
    for proc in process_tree(pid):
        with suppress(psutil.NoSuchProcess, ProcessLookupError):
            ids = [t.id for t in proc.threads()] if threads else [proc.pid]
            for tid in ids:
                with suppress(ProcessLookupError):
                    os.sched_setaffinity(tid, cpus)
