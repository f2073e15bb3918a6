"""The benchmark's placements (api/bench_cores.py) move what they say they move."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from api.bench_cores import OWN, SHARED, Cores

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="placements need Linux and two cores (CI has both)",
)


def test_own_cores_confine_the_database_tree_and_the_generator_not_the_server() -> None:
    # A stand-in for the postmaster, with a child (a backend) of its own.
    script = "import subprocess, time; subprocess.Popen(['sleep', '30']); time.sleep(30)"
    postmaster = subprocess.Popen([sys.executable, "-c", script])
    server = subprocess.Popen(["sleep", "30"])
    mine = os.sched_getaffinity(0)
    try:
        for _ in range(100):
            if psutil.Process(postmaster.pid).children():
                break
            time.sleep(0.05)
        (backend,) = psutil.Process(postmaster.pid).children()
        cores = Cores(postmaster.pid, server_cores=1)
        assert cores.placements == [OWN, SHARED]
        everything = set(cores.all)

        cores.apply(OWN)
        spare = set(cores.spare)
        assert spare and not spare & {cores.all[0]}  # the server's core is nobody else's
        assert os.sched_getaffinity(0) == spare
        assert os.sched_getaffinity(postmaster.pid) == spare
        assert os.sched_getaffinity(backend.pid) == spare
        assert os.sched_getaffinity(server.pid) == everything  # the server is left free

        cores.apply(SHARED)
        for pid in (0, postmaster.pid, backend.pid, server.pid):
            assert os.sched_getaffinity(pid) == everything
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
