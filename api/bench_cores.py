"""Where ``propcheck bench verify``'s processes run: the server with cores nobody else
uses, or everything on every core.

The benchmark runs the server, PostgreSQL and its own load generator on one machine;
on two cores they take turns on both. Deployed, the API process shares its cores with
neither: PostgreSQL is a managed server of its own and the clients are phones. Sharing
penalises the product more than the floor, for a reason that is not the product's cost:
a verify makes PostgreSQL work (its durable, chained record), and on shared cores that
work preempts the server's event loop, the one thread every request of a worker needs
(measured with /proc/<pid>/schedstat: the loop waited for a core 10 to 13% of the time
under verify load, under 2% under the floor's). With the server's cores kept free of
the others, that wait is gone. The benchmark measures both placements in alternating
rounds of the same run and reports both; the targets are judged on the deployed one.

Only PostgreSQL's processes (the postmaster first: the backends it forks later inherit
its cores) and the load generator's thread are confined, to the cores the server's
workers do not need; the server itself is left free, so that its photo-decoding
threads may use any core. Linux only (sched_setaffinity); elsewhere, or with fewer
cores than workers + 1, everything shares.
"""

from __future__ import annotations

import os
from contextlib import suppress

__all__ = ["OWN", "SHARED", "Cores"]

#: The server's cores are its own: PostgreSQL and the load generator use the others.
OWN = "own cores"
#: Server, PostgreSQL and load generator on every core.
SHARED = "shared cores"


class Cores:
    """Moves PostgreSQL (when it runs here) and this thread between placements."""

    def __init__(self, pg_pid: int | None, *, server_cores: int) -> None:
        self.pg_pid = pg_pid
        self.all = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        #: What PostgreSQL and the load generator get when the server has its own cores.
        self.spare = self.all[server_cores:]

    @property
    def placements(self) -> list[str]:
        """The placements this machine allows, the deployed one first."""
        return [OWN, SHARED] if self.spare and hasattr(os, "sched_setaffinity") else [SHARED]

    def describe(self, placement: str) -> str:
        """What ``placement`` means here, for the report."""
        if placement == SHARED:
            return f"server, PostgreSQL and load generator on all {len(self.all)} cores"
        others = "PostgreSQL and the load generator" if self.pg_pid else "the load generator"
        mine = [c for c in self.all if c not in self.spare]
        return (
            f"{others} confined to core(s) {','.join(map(str, self.spare))}, "
            f"core(s) {','.join(map(str, mine))} left to the server"
        )

    def apply(self, placement: str) -> None:
        """Confine PostgreSQL and this thread to the spare cores (OWN), or free them."""
        if not hasattr(os, "sched_setaffinity") or not self.all:
            return
        cpus = set(self.spare if placement == OWN else self.all)
        os.sched_setaffinity(0, cpus)  # this thread: the load generator's event loop
        if self.pg_pid is None:
            return
        import psutil

        with suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.pg_pid)
            for proc in [root, *root.children(recursive=True)]:
                with suppress(psutil.NoSuchProcess, ProcessLookupError):
                    os.sched_setaffinity(proc.pid, cpus)
