"""Two API processes on one database under concurrent writes.

Two API servers (uvicorn, as propcheck serve) share one database. Scanners verify
through both at once (every verification appends to the same production's chain, from
two processes, each with its own group commit), while a prop master races check-outs of
the same items through both processes. Afterwards the chain is one linear, intact
sequence, every verification has its event, and no item was ever checked out twice.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.audit_io import verify_database
from api.bench_http import drive, json_request
from api.bench_seed import seed_production
from api.bench_verify import HOST, fresh_database, start_server, with_database

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

RACED_ITEMS = 20


async def _handoff_scan(c: httpx.AsyncClient, token: str, code: str, performer: str) -> str:
    """A confirmed CLEARED scan for a hand-off to ``performer``; its verification id."""
    h = {"Authorization": f"Bearer {token}"}
    r = await c.post(
        "/api/v1/verify",
        json={"code": code, "purpose": "checkout", "handoff_to": performer},
        headers=h,
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["verdict"] == "CLEARED", answer
    vid: str = answer["verification_id"]
    r = await c.post(f"/api/v1/verifications/{vid}/confirm", json={"match": True}, headers=h)
    assert r.status_code == 200, r.text
    return vid


async def test_two_processes_keep_one_chain_and_one_checkout_per_item(
    server_dsn: str, tmp_path: Path
) -> None:
    name = f"propcheck_two_{secrets.token_hex(4)}"
    dsn = await fresh_database(server_dsn, name)
    servers: list[Any] = []
    try:
        seeded = await seed_production(dsn, items=200)
        for _ in range(2):  # one after the other: the first creates the media key
            server = start_server(
                "api.app:create_app",
                dsn,
                tmp_path / "var",
                workers=1,
                extra_env={"PROPCHECK_POOL_SIZE": "5"},
            )
            servers.append(server)
            await server.ready()
        a, b = servers
        clients = [httpx.AsyncClient(base_url=f"http://{HOST}:{s.port}") for s in servers]
        pm = seeded.tokens["prop_master"]
        raced = seeded.codes[:RACED_ITEMS]

        # Each item gets a confirmed hand-off scan through each process.
        scans = await asyncio.gather(
            *(_handoff_scan(c, pm, code, "Performer A") for code in raced for c in clients)
        )
        pairs = list(zip(scans[0::2], scans[1::2], strict=True))

        codes = seeded.codes[RACED_ITEMS:]
        reqs = [
            json_request("/api/v1/verify", {"code": c}, host=HOST, token=seeded.tokens["scanner"])
            for c in codes
        ]
        counter = iter(range(10**9))

        def next_req() -> bytes:
            return reqs[next(counter) % len(reqs)]

        async def race(vid_a: str, vid_b: str) -> list[int]:
            body = {"performer": "Performer A", "scene": "12", "take": "3"}
            h = {"Authorization": f"Bearer {pm}"}
            path = f"/api/v1/productions/{seeded.production_id}/checkouts"
            ra, rb = await asyncio.gather(
                clients[0].post(path, json={**body, "verification_id": vid_a}, headers=h),
                clients[1].post(path, json={**body, "verification_id": vid_b}, headers=h),
            )
            return [ra.status_code, rb.status_code]

        async def races() -> list[list[int]]:
            await asyncio.sleep(0.5)  # under the verify load
            return list(await asyncio.gather(*(race(va, vb) for va, vb in pairs)))

        load_a, load_b, outcomes = await asyncio.gather(
            drive(HOST, a.port, next_req, clients=4, duration=6, pace_s=0.03),
            drive(HOST, b.port, next_req, clients=4, duration=6, pace_s=0.03),
            races(),
        )
        for c in clients:
            await c.aclose()

        # Paced under the per-phone rate limit (the scanners share one token): all 200.
        assert set(load_a.statuses) == set(load_b.statuses) == {200}, (
            load_a.statuses,
            load_b.statuses,
        )
        assert load_a.ok > 50 and load_b.ok > 50
        assert load_a.errors == load_b.errors == 0
        # Every race: exactly one hand-off, the other refused.
        assert all(sorted(o) == [201, 409] for o in outcomes), outcomes

        conn = await asyncpg.connect(with_database(server_dsn, name))
        try:
            per_item = await conn.fetch(
                "SELECT i.id, count(c.id) AS n FROM items i JOIN tags t ON t.item_id = i.id "
                "LEFT JOIN checkouts c ON c.item_id = i.id WHERE t.code = ANY($1::text[]) "
                "GROUP BY i.id",
                raced,
            )
            assert len(per_item) == RACED_ITEMS
            assert all(r["n"] == 1 for r in per_item), [r["n"] for r in per_item]
            counts = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM verifications WHERE production_id = $1) AS v,"
                " (SELECT count(*) FROM events WHERE chain_id = $1 AND kind = 'verification')"
                " AS ve,"
                " (SELECT count(*) FROM checkouts WHERE production_id = $1) AS c,"
                " (SELECT count(*) FROM events WHERE chain_id = $1"
                "  AND kind = 'custody.checked_out') AS ce",
                seeded.production_id,
            )
            answered = load_a.ok + load_b.ok + 2 * RACED_ITEMS
            assert counts["v"] == counts["ve"] == answered
            assert counts["c"] == counts["ce"] == RACED_ITEMS
            # One linear chain: seq 1..n without gaps or forks, every link and hash intact.
            (chain,) = await verify_database(conn, seeded.production_id)
            assert chain.report.ok, chain.report.problem
            print(
                f"\ntwo processes: {load_a.ok} + {load_b.ok} verifies, {RACED_ITEMS} check-out "
                f"races each 1 x 201 + 1 x 409; one chain of {chain.report.events} events intact"
            )
            assert chain.report.events == await conn.fetchval(
                "SELECT count(*) FROM events WHERE chain_id = $1", seeded.production_id
            )
        finally:
            await conn.close()
    finally:
        for server in servers:
            server.stop()
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
