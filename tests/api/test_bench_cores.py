"""The benchmark's placements (api/bench_cores.py) move what they say they move."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from api import bench_cores
from api.bench_cores import OWN, SHARED, Cores

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="placements need Linux and two cores (CI has both)",
)


def _threads(pid: int) -> set[frozenset[int]]:
    return {frozenset(os.sched_getaffinity(t.id)) for t in psutil.Process(pid).threads()}


def test_own_cores_keep_the_database_and_the_generator_off_the_servers_core() -> None:
    # A stand-in for the postmaster, with a child (a backend) of its own, and a server
    # with two threads (its event loop and a photo-decoding thread).
    script = "import subprocess, time; subprocess.Popen(['sleep', '30']); time.sleep(30)"
    postmaster = subprocess.Popen([sys.executable, "-c", script])
    threaded = "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start()"
    server = subprocess.Popen([sys.executable, "-c", threaded])
    mine = os.sched_getaffinity(0)
    try:
        for _ in range(100):
            if (
                psutil.Process(postmaster.pid).children()
                and psutil.Process(server.pid).threads()[1:]
            ):
                break
            time.sleep(0.05)
        (backend,) = psutil.Process(postmaster.pid).children()
        cores = Cores(postmaster.pid, server_cores=1)
        assert cores.placements == [OWN, SHARED]
        everything = set(cores.all)
        spare, servers_core = set(cores.spare), {cores.all[0]}

        cores.apply(OWN, [server.pid], pin=True)  # the measured rounds
        assert os.sched_getaffinity(0) == spare
        assert os.sched_getaffinity(postmaster.pid) == spare
        assert os.sched_getaffinity(backend.pid) == spare
        assert _threads(server.pid) == {frozenset(servers_core)}  # every thread of it

        cores.apply(OWN, [server.pid], pin=False)  # the photo phase: decoding anywhere
        assert os.sched_getaffinity(backend.pid) == spare
        assert _threads(server.pid) == {frozenset(everything)}

        cores.apply(OWN, [server.pid], pin=True)
        cores.apply(SHARED, [server.pid], pin=True)
        for pid in (0, postmaster.pid, backend.pid):
            assert os.sched_getaffinity(pid) == everything
        assert _threads(server.pid) == {frozenset(everything)}
    finally:
        os.sched_setaffinity(0, mine)
        for child in psutil.Process(postmaster.pid).children():
            child.kill()
        postmaster.kill()
        server.kill()
        postmaster.wait()
        server.wait()


def test_with_no_core_to_spare_everything_shares() -> None:
    cores = Cores(None, server_cores=len(os.sched_getaffinity(0)))
    assert cores.placements == [SHARED]
    assert "none to spare" in cores.describe(SHARED)


def test_without_the_right_to_move_the_database_everything_shares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Root running the embedded server as its own user, in a container without
    # CAP_SYS_NICE: the run reports shared cores rather than failing.
    def refuse(pid: int, cpus: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(bench_cores.os, "sched_setaffinity", refuse)
    cores = Cores(os.getpid(), server_cores=1)
    assert cores.placements == [SHARED]
    assert "may not be moved" in cores.describe(SHARED)
