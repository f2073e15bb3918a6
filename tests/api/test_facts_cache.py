"""Kept verdict facts (api/facts_cache.py) and the facts versions that make them safe.

A process keeps the facts of scanned tags; a verification is recorded only if the
item's and production's facts_version are still the ones its verdict was decided on
(migration 0007, api/queries/recorder.sql). These tests change the facts behind the
process's back, as another API process would, and check that the next scan never
answers on the kept facts; and that every kind of write bumps the version.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.events import canonical
from api.facts_cache import FactsCache
from api.recorder import StaleFacts
from api.settings import Settings
from tests.api.helpers import (
    inspect,
    lapse_inspection_in,
    ready_item,
    reason_codes,
    register,
    verify,
)
from tests.conftest import World, another_process, make_world, record_as_request
from verifier import codes

pytestmark = pytest.mark.asyncio

Change = Callable[[asyncpg.Connection, dict[str, Any], World], Awaitable[Any]]


async def _quarantine(db: asyncpg.Connection, item: dict[str, Any], w: World) -> None:
    await db.execute("UPDATE items SET status = 'quarantined' WHERE id = $1", uuid.UUID(item["id"]))


async def _revoke(db: asyncpg.Connection, item: dict[str, Any], w: World) -> None:
    await db.execute(
        "UPDATE tags SET status = 'revoked', revoked_at = now() WHERE item_id = $1",
        uuid.UUID(item["id"]),
    )


async def _incident(db: asyncpg.Connection, item: dict[str, Any], w: World) -> None:
    await db.execute(
        "INSERT INTO incidents (production_id, item_id, kind, actor)"
        " VALUES ($1, $2, 'damaged', 'x')",
        uuid.UUID(w.production_id),
        uuid.UUID(item["id"]),
    )


async def _archive(db: asyncpg.Connection, item: dict[str, Any], w: World) -> None:
    await db.execute(
        "UPDATE productions SET status = 'archived', archived_at = now() WHERE id = $1",
        uuid.UUID(w.production_id),
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_quarantine, "quarantined"),
        (_revoke, "revoked_tag"),
        (_incident, "open_incident"),
        (_archive, "production_archived"),
    ],
    ids=["item quarantined", "tag revoked", "incident opened", "production archived"],
)
async def test_a_change_made_elsewhere_is_never_verified_on_kept_facts(
    client: AsyncTestClient[Any],
    db: asyncpg.Connection,
    change: Change,
    reason: str,
) -> None:
    w = await make_world(db, client)  # its own production: one case archives it
    item = await ready_item(client, w)
    code = item["tag"]["code"]
    assert (await verify(client, w, code))["verdict"] == "CLEARED"
    facts = client.app.state.services.facts
    assert facts.get(codes.parse(code)) is not None  # kept by this process
    # Straight in the database, as another API process would: this process's kept
    # row is not told. Its next scan must still see the change.
    await change(db, item, w)
    answer = await verify(client, w, code)
    assert answer["verdict"] == "STOP"
    assert reason in reason_codes(answer), answer
    stored = await db.fetchrow(
        "SELECT verdict, reasons FROM verifications WHERE id = $1",
        uuid.UUID(answer["verification_id"]),
    )
    assert stored["verdict"] == "STOP" and reason in stored["reasons"]


async def test_changes_through_the_api_are_seen_by_the_next_scan(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    code = item["tag"]["code"]
    assert (await verify(client, world, code))["verdict"] == "CLEARED"
    await inspect(client, world, item["id"], result="fail")
    assert "quarantined" in reason_codes(await verify(client, world, code))
    await inspect(client, world, item["id"], result="pass")
    assert (await verify(client, world, code))["verdict"] == "CLEARED"
    url = f"/api/v1/items/{item['id']}"
    current = (await client.get(url, headers=world.h("prop_master"))).json()
    r = await client.patch(
        url,
        json={"capability_class": "blank_firing", "version": current["version"]},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    assert "restricted_class" in reason_codes(await verify(client, world, code))


async def _version(db: asyncpg.Connection, item_id: uuid.UUID) -> int:
    version: int = await db.fetchval("SELECT facts_version FROM items WHERE id = $1", item_id)
    return version


async def test_every_write_the_verdict_reads_bumps_the_item_version(
    client: AsyncTestClient[Any], db: asyncpg.Connection, world: World
) -> None:
    item = await register(client, world)
    iid = uuid.UUID(item["id"])
    pid = uuid.UUID(world.production_id)
    tag_id = await db.fetchval("SELECT id FROM tags WHERE item_id = $1", iid)
    photo = ("a" * 64, "b" * 64, "c" * 64, 10, 10, "d" * 64, "x")

    async def bumps(sql: str, *args: Any) -> bool:
        before = await _version(db, iid)
        await db.execute(sql, *args)
        return await _version(db, iid) > before

    vid = uuid.uuid4()
    incident = uuid.uuid4()
    photo_sql = (
        "INSERT INTO photos (production_id, item_id, purpose, original_sha, display_sha,"
        " thumb_sha, width, height, upload_sha, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    verification_sql = (
        "INSERT INTO verifications (id, production_id, code_scanned, tag_id, item_id, verdict,"
        " reasons, purpose, handoff_to, method, actor, device)"
        " VALUES ($1, $2, 'X', $3, $4, 'CLEARED', '{}', $5, $6, 'code', 'x', 'd')"
    )
    assert await bumps("UPDATE items SET name = name || '!' WHERE id = $1", iid)
    assert await bumps(
        "INSERT INTO inspections (production_id, item_id, kind, result, actor)"
        " VALUES ($1, $2, 'before_use', 'pass', 'x')",
        pid,
        iid,
    )
    assert await bumps(
        "INSERT INTO incidents (id, production_id, item_id, kind, actor)"
        " VALUES ($1, $2, $3, 'damaged', 'x')",
        incident,
        pid,
        iid,
    )
    assert await bumps(
        "INSERT INTO incident_resolutions (incident_id, notes, actor) VALUES ($1, 'ok', 'x')",
        incident,
    )
    assert await bumps(photo_sql, pid, iid, "item", *photo)
    assert not await bumps(photo_sql, pid, iid, "verification", *photo)
    assert not await bumps(verification_sql, uuid.uuid4(), pid, tag_id, iid, "check", None)
    assert await bumps(verification_sql, vid, pid, tag_id, iid, "checkout", "Performer")
    assert await bumps(
        "INSERT INTO checkouts (production_id, item_id, performer, out_verification_id, out_by)"
        " VALUES ($1, $2, 'Performer', $3, 'x')",
        pid,
        iid,
        vid,
    )
    assert await bumps("UPDATE checkouts SET in_at = now(), in_by = 'x' WHERE item_id = $1", iid)
    assert await bumps("UPDATE tags SET status = 'revoked' WHERE id = $1", tag_id)
    before = await db.fetchval("SELECT facts_version FROM productions WHERE id = $1", pid)
    await db.execute("UPDATE productions SET policy = policy WHERE id = $1", pid)
    assert await db.fetchval("SELECT facts_version FROM productions WHERE id = $1", pid) > before


def _cleared_row(world: World, item_id: uuid.UUID) -> tuple[list[Any], str]:
    """A CLEARED check of ``item_id``, as the recorder takes it: the verifications
    columns in record_verifications' order, and the event's body."""
    vid = uuid.uuid4()
    args = [vid, None, uuid.UUID(world.production_id), "PC-TEST", None, item_id, "CLEARED"]
    args += [[], False, "check", None, "code", None, "user:test", "test", False, None]
    return args, canonical({"v": str(vid)})


async def test_a_stale_row_in_a_batch_fails_alone_and_nobody_waits_forever(
    app_pool: asyncpg.Pool,
    db: asyncpg.Connection,
    world: World,
    client: AsyncTestClient[Any],
) -> None:
    item = await ready_item(client, world)
    iid = uuid.UUID(item["id"])
    current = await _version(db, iid)

    def call(i: int) -> Awaitable[Any]:
        # Every other row, the first (the batch's leader) included, was decided on an
        # older version of the item.
        versions = (current - 1 if i % 2 == 0 else current, None)
        return record_as_request(app_pool, *_cleared_row(world, iid), versions)

    results = await asyncio.wait_for(
        asyncio.gather(*(call(i) for i in range(10)), return_exceptions=True), 10
    )
    stale = [r for r in results if isinstance(r, StaleFacts)]
    stored = [r for r in results if isinstance(r, asyncpg.Record)]
    assert len(stale) == len(stored) == 5, results
    ids = [r["id"] for r in stored]
    assert await db.fetchval("SELECT count(*) FROM verifications WHERE id = ANY($1)", ids) == len(
        ids
    )


async def test_a_cleared_that_lapsed_before_its_record_is_refused_alone(
    app_pool: asyncpg.Pool,
    db: asyncpg.Connection,
    world: World,
    client: AsyncTestClient[Any],
) -> None:
    # Each row carries the instant its CLEARED lapses (its inspection's age limit): one
    # that has passed by the time the chain is locked is not stored (migration 0017).
    item = await ready_item(client, world)
    iid = uuid.UUID(item["id"])
    db_now: datetime = await db.fetchval("SELECT clock_timestamp()")
    lapsed, good = db_now - timedelta(seconds=1), db_now + timedelta(hours=1)

    def call(i: int) -> Awaitable[Any]:
        lapses = lapsed if i % 2 == 0 else good
        return record_as_request(app_pool, *_cleared_row(world, iid), (None, None), lapses)

    results = await asyncio.wait_for(
        asyncio.gather(*(call(i) for i in range(10)), return_exceptions=True), 10
    )
    assert [type(r).__name__ for r in results[::2]] == ["StaleFacts"] * 5, results
    assert all(isinstance(r, asyncpg.Record) for r in results[1::2]), results
    ids = [r["id"] for r in results[1::2]]
    assert await db.fetchval("SELECT count(*) FROM verifications WHERE id = ANY($1)", ids) == 5


async def test_an_inspection_that_lapses_while_the_record_waits_is_recorded_stop(
    client: AsyncTestClient[Any], db: asyncpg.Connection, database: str
) -> None:
    # The verify decides CLEARED with the inspection a few seconds short of the
    # policy's age limit, then waits for the chain head (another process's write holds
    # it) past that limit. It used to be stored and answered CLEARED, chained after the
    # limit; now it is decided again at the time of its record: STOP.
    world = await make_world(db, client)  # its own: the policy below is short
    item = await ready_item(client, world)
    iid, pid = uuid.UUID(item["id"]), uuid.UUID(world.production_id)
    await lapse_inspection_in(client, db, world, item, 2)
    with another_process(database, [("SELECT propcheck_lock_chain($1)", [pid])], hold_s=3.5):
        answer = await verify(client, world, item["tag"]["code"])
    assert answer["verdict"] == "STOP"
    assert reason_codes(answer) == ["inspection_stale"]
    stored = await db.fetchrow(
        "SELECT v.verdict, e.body::jsonb ->> 'verdict' AS event_verdict FROM verifications v"
        " JOIN events e ON e.chain_id = v.production_id"
        " AND e.body::jsonb ->> 'verification_id' = v.id::text WHERE v.id = $1",
        uuid.UUID(answer["verification_id"]),
    )
    assert tuple(stored) == ("STOP", "STOP")
    cleared = await db.fetchval(
        "SELECT count(*) FROM verifications WHERE item_id = $1 AND verdict = 'CLEARED'", iid
    )
    assert cleared == 0


async def test_facts_that_keep_changing_answer_503_stop_and_record_nothing(
    client: AsyncTestClient[Any],
    db: asyncpg.Connection,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import api.verify

    item = await ready_item(client, world)
    attempts = []

    async def always_stale(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        raise StaleFacts

    monkeypatch.setattr(api.verify, "record_verification", always_stale)
    before = await db.fetchval("SELECT count(*) FROM verifications")
    r = await client.post(
        "/api/v1/verify", json={"code": item["tag"]["code"]}, headers=world.h("scanner")
    )
    assert r.status_code == 503
    assert r.json()["verdict"] == "STOP"
    assert reason_codes(r.json()) == ["service_unavailable"]
    assert len(attempts) == 3  # decided again on fresh facts twice, then gave up
    assert await db.fetchval("SELECT count(*) FROM verifications") == before


async def test_a_quarantine_committed_while_the_record_waits_for_the_chain_is_seen(
    client: AsyncTestClient[Any], db: asyncpg.Connection, world: World, database: str
) -> None:
    # Another process quarantines the item: it changes the row and appends its event,
    # which holds the production's chain head until it commits. A verify recorded
    # meanwhile waits for the chain head; once the quarantine commits, the verify must
    # see it (before, its versions were compared as they were when its statement began,
    # and it was stored CLEARED, chained after the quarantine).
    item = await ready_item(client, world)
    code = item["tag"]["code"]
    assert (await verify(client, world, code))["verdict"] == "CLEARED"  # facts now kept
    quarantine = [
        ("UPDATE items SET status = 'quarantined' WHERE id = $1", [uuid.UUID(item["id"])]),
        (
            "SELECT propcheck_append_event($1, 'item.quarantined', 'other', $2, '{}')",
            [uuid.UUID(world.production_id), uuid.UUID(item["id"])],
        ),
    ]
    # The verify's record waits for the chain head while the quarantine holds it.
    with another_process(database, quarantine):
        answer = await verify(client, world, code)
    assert answer["verdict"] == "STOP"
    assert "quarantined" in reason_codes(answer)
    last = await db.fetch(
        "SELECT e.kind, v.verdict FROM events e"
        " LEFT JOIN verifications v ON v.id = (e.body::jsonb ->> 'verification_id')::uuid"
        " WHERE e.chain_id = $1 AND e.subject_id = $2 ORDER BY e.seq DESC LIMIT 2",
        uuid.UUID(world.production_id),
        uuid.UUID(item["id"]),
    )
    assert [(r["kind"], r["verdict"]) for r in last] == [
        ("verification", "STOP"),
        ("item.quarantined", None),
    ]


async def test_two_hand_off_scans_of_one_item_in_one_batch_are_decided_one_after_the_other(
    app_pool: asyncpg.Pool, db: asyncpg.Connection, world: World, client: AsyncTestClient[Any]
) -> None:
    # A copied tag scanned for hand-offs to two performers at once, by two phones: both
    # were decided before either was stored. The second must be decided again with the
    # first on record (the duplicate-tag rule compares a hand-off with earlier ones).
    from api.recorder import _Entry, _write

    item = await ready_item(client, world)
    iid = uuid.UUID(item["id"])
    tag_id = await db.fetchval("SELECT id FROM tags WHERE item_id = $1", iid)
    production = uuid.UUID(world.production_id)
    versions = (
        await _version(db, iid),
        await db.fetchval("SELECT facts_version FROM productions WHERE id = $1", production),
    )
    loop = asyncio.get_running_loop()
    batch = []
    for device, to in (("phone-A", "Ava"), ("phone-B", "Bo")):
        vid = uuid.uuid4()
        args = [vid, None, production, "PC-TEST", tag_id, iid, "CLEARED", [], True]
        args += ["checkout", to, "code", None, "user:test", device, False, None]
        batch.append(_Entry(args, canonical({"v": str(vid)}), versions, loop.create_future()))
    async with app_pool.acquire() as conn:
        first, second = await _write(conn, batch)
    assert isinstance(first, asyncpg.Record)
    assert isinstance(second, StaleFacts)
    stored = await db.fetchval(
        "SELECT count(*) FROM verifications WHERE id = ANY($1)", [e.args[0] for e in batch]
    )
    assert stored == 1


async def test_a_hand_off_scan_drops_its_kept_row_and_the_next_scan_reads_afresh(
    client: AsyncTestClient[Any], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = await ready_item(client, world)
    code = item["tag"]["code"]
    facts = client.app.state.services.facts
    assert (await verify(client, world, code))["verdict"] == "CLEARED"
    assert facts.get(codes.parse(code)) is not None
    out = await verify(client, world, code, purpose="checkout", handoff_to="Lead actor")
    assert out["verdict"] == "CLEARED", out
    # The hand-off bumped the item's facts version: keeping the row would only cost
    # the next scan a recording attempt on stale facts.
    assert facts.get(codes.parse(code)) is None
    stale: list[int] = []
    forget = facts.forget
    monkeypatch.setattr(facts, "forget", lambda c: (stale.append(1), forget(c)))
    assert (await verify(client, world, code))["verdict"] == "CLEARED"
    assert stale == []  # read afresh, decided once


async def test_kept_facts_span_the_takes_of_a_set() -> None:
    # A prop is scanned again every 10-30 minutes on a set; a minute kept none of those.
    assert Settings().facts_cache_s >= 30 * 60
    kept = FactsCache(ttl_s=3600)
    row = {"db_now": datetime(2026, 1, 1)}
    kept.put("PC1", row, (time.monotonic() - 30 * 60, time.time() - 30 * 60))  # type: ignore[arg-type]
    hit = kept.get("PC1")
    assert hit is not None and (hit[1] - row["db_now"]).total_seconds() >= 30 * 60
    kept.put("PC2", row, (time.monotonic() - 3601, time.time() - 3601))  # type: ignore[arg-type]
    assert kept.get("PC2") is None


async def test_a_row_kept_across_a_sleep_of_the_host_is_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The monotonic clock stops while the host sleeps: an evening's row would judge a
    # morning scan by the evening's time, and an inspection that lapsed overnight
    # would look fresh. The wall clock goes on, so the two ages disagree.
    kept = FactsCache(ttl_s=3600)
    row = {"db_now": datetime(2026, 1, 1, 19, 30)}
    kept.put("PC1", row, (time.monotonic(), time.time()))  # type: ignore[arg-type]
    assert kept.get("PC1") is not None
    # Asleep during the query itself: read at 19:30 by both clocks, put in the morning.
    kept.put("PC3", row, (time.monotonic(), time.time() - 12 * 3600))  # type: ignore[arg-type]
    assert kept.get("PC3") is None
    woke = time.time() + 12 * 3600
    monkeypatch.setattr("api.clock.time.time", lambda: woke)
    assert kept.get("PC1") is None
    # A clock set back on this host is the same disagreement.
    kept.put("PC2", row, (time.monotonic(), woke))  # type: ignore[arg-type]
    monkeypatch.setattr("api.clock.time.time", lambda: woke - 24 * 3600)
    assert kept.get("PC2") is None
