"""A phone's offline outbox replayed twice, concurrently: every event is stored once.

500 queued events, as a phone on a ranch collects them: offline verifications (with the
verdict the phone showed), visual confirmations, hand-offs (scan, confirm, check-out,
scan, check-in, in order per item) and incident reports, each with a client-made id.
Two replays of the same queue run at the same time (a phone that reconnects twice, or
two tabs), each in FIFO order like the PWA's outbox. Each event must end up stored
exactly once, with exactly one event in the chain, and both replays must be told the
same stored answer.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from api.audit_io import verify_database
from api.bench_verify import HOST, start_server
from tests.api.helpers import ready_item
from tests.conftest import World

pytestmark = pytest.mark.asyncio

ITEMS = 10
CYCLES = 4  # hand-off cycles per item: 5 events each
CHECKS = 200
CHECK_CONFIRMATIONS = 50
INCIDENTS = 50


def _queue(w: World, codes: list[str]) -> list[tuple[str, str, dict[str, Any], str]]:
    """The outbox: (role, path, body, client_id) in FIFO order, 500 entries."""
    now = datetime.now(UTC).isoformat()
    pid = w.production_id

    def offline_scan(code: str, **extra: Any) -> dict[str, Any]:
        return {
            "code": code,
            "client_id": str(uuid.uuid4()),
            "client_time": now,
            "offline": {
                "verdict": "CLEARED",
                "reasons": [],
                "needs_confirmation": True,
                "snapshot_at": now,
            },
            **extra,
        }

    def confirm(scan: dict[str, Any], role: str) -> tuple[str, str, dict[str, Any], str]:
        cid = str(uuid.uuid4())
        # The phone knows only its own id for the scan: the path takes the client_id.
        path = f"/api/v1/verifications/{scan['client_id']}/confirm"
        return role, path, {"match": True, "client_id": cid}, cid

    rng = random.Random(8)
    per_item: list[list[tuple[str, str, dict[str, Any], str]]] = []
    for code in codes:
        entries = []
        for cycle in range(CYCLES):
            performer = f"Performer {cycle}"
            out = offline_scan(code, purpose="checkout", handoff_to=performer)
            back = offline_scan(code, purpose="checkin")
            checkout_id, checkin_id = str(uuid.uuid4()), str(uuid.uuid4())
            entries += [
                ("prop_master", "/api/v1/verify", out, out["client_id"]),
                confirm(out, "prop_master"),
                (
                    "prop_master",
                    f"/api/v1/productions/{pid}/checkouts",
                    {
                        "verification_id": out["client_id"],
                        "performer": performer,
                        "client_id": checkout_id,
                        "offline": True,
                    },
                    checkout_id,
                ),
                ("prop_master", "/api/v1/verify", back, back["client_id"]),
                (
                    "prop_master",
                    f"/api/v1/productions/{pid}/checkins",
                    # With the after-use inspection, as the app always sends it: without
                    # it the next hand-off is refused (not_inspected_since_use).
                    {
                        "verification_id": back["client_id"],
                        "client_id": checkin_id,
                        "inspection": {"result": "pass", "notes": ""},
                    },
                    checkin_id,
                ),
            ]
        per_item.append(entries)
    others: list[tuple[str, str, dict[str, Any], str]] = []
    for i in range(CHECKS):
        scan = offline_scan(rng.choice(codes))
        others.append(("scanner", "/api/v1/verify", scan, scan["client_id"]))
        if i < CHECK_CONFIRMATIONS:
            others.append(confirm(scan, "scanner"))
    for i in range(INCIDENTS):
        cid = str(uuid.uuid4())
        body = {"kind": "other", "description": f"queued report {i}", "client_id": cid}
        others.append(("scanner", f"/api/v1/productions/{pid}/incidents", body, cid))
    # Interleave the item sequences and the rest, keeping each sequence's own order.
    streams = [*per_item, others]
    queue = []
    while any(streams):
        stream = rng.choice([s for s in streams if s])
        queue.append(stream.pop(0))
    return queue


async def _replay(
    base: str,
    w: World,
    queue: list[tuple[str, str, dict[str, Any], str]],
    failures: list[tuple[str, int, str]],
    throttled: list[str],
) -> dict[str, tuple[int, Any]]:
    """Send the queue in order, as the PWA's outbox does; {client_id: (status, id)}.

    A 429 (one phone's token, two replays at once) is waited out and resent, as the
    outbox does with a failed entry; any other non-2xx answer is noted in ``failures``.
    """
    out: dict[str, tuple[int, Any]] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        for role, path, body, cid in queue:
            r = await c.post(path, json=body, headers=w.h(role))
            while r.status_code == 429:  # throttled (one phone, two replays): wait, resend
                throttled.append(path)
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                r = await c.post(path, json=body, headers=w.h(role))
            answer = r.json()
            out[cid] = (r.status_code, answer.get("verification_id") or answer.get("id"))
            if r.status_code >= 300:
                failures.append((path.rsplit("/", 1)[-1], r.status_code, r.text[:300]))
    return out


async def test_a_queue_replayed_twice_concurrently_is_stored_once(
    client: AsyncTestClient[Any],
    world: World,
    db: asyncpg.Connection,
    database: str,
    tmp_path: Path,
) -> None:
    items = [await ready_item(client, world) for _ in range(ITEMS)]
    queue = _queue(world, [item["tag"]["code"] for item in items])
    assert len(queue) == 500
    # A real server (the in-process client runs requests one at a time): the two
    # replays' requests for the same entry are truly in flight together.
    server = start_server("api.app:create_app", database, tmp_path / "var", workers=1)
    try:
        await server.ready()
        base = f"http://{HOST}:{server.port}"
        failures: list[tuple[str, int, str]] = []
        throttled: list[str] = []
        first, second = await asyncio.gather(
            _replay(base, world, queue, failures, throttled),
            _replay(base, world, queue, failures, throttled),
        )
    finally:
        server.stop()

    # Both replays were told success, and the same stored object, for every event.
    assert not failures, sorted({(f[0], f[1], f[2][:90]) for f in failures})
    assert all(first[cid][0] in (200, 201) for *_, cid in queue), sorted(
        {s for s, _ in first.values()}
    )
    assert first == second

    ids = [uuid.UUID(cid) for *_, cid in queue]
    stored = await db.fetchval(
        """SELECT (SELECT count(*) FROM verifications WHERE client_id = ANY($1::uuid[]))
                + (SELECT count(*) FROM confirmations WHERE client_id = ANY($1::uuid[]))
                + (SELECT count(*) FROM checkouts WHERE client_id = ANY($1::uuid[]))
                + (SELECT count(*) FROM checkouts WHERE in_client_id = ANY($1::uuid[]))
                + (SELECT count(*) FROM incidents WHERE client_id = ANY($1::uuid[]))""",
        ids,
    )
    assert stored == len(queue)
    # One event per queued entry in the chain, never two.
    events = await db.fetch(
        """SELECT body::jsonb->>'client_id' AS cid, count(*) AS n FROM events
           WHERE chain_id = $1 AND body::jsonb->>'client_id' = ANY($2::text[])
           GROUP BY 1""",
        uuid.UUID(world.production_id),
        [cid for *_, cid in queue],
    )
    assert len(events) == len(queue)
    assert all(e["n"] == 1 for e in events), [e for e in events if e["n"] != 1][:5]
    # Every replayed hand-off was one the server agreed with: none opened an incident.
    # (Its own items only: the session's world holds other tests' incidents.)
    system = await db.fetch(
        "SELECT description FROM incidents WHERE production_id = $1 AND actor = 'system'"
        " AND item_id = ANY($2::uuid[])",
        uuid.UUID(world.production_id),
        [uuid.UUID(item["id"]) for item in items],
    )
    assert [r["description"] for r in system] == []
    (chain,) = await verify_database(db, uuid.UUID(world.production_id))
    assert chain.report.ok, chain.report.problem
    print(
        f"\noffline replay: {len(queue)} events replayed twice at once, each stored once; "
        f"{len(throttled)} requests throttled (429) and resent"
    )
