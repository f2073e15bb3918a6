"""Group commit of verifications (api/recorder.py) against the real database."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from api.audit_io import verify_database
from api.connections import LazyConnection
from api.events import canonical
from api.recorder import DEPTH, record_verification
from tests.conftest import World, record_as_request

pytestmark = pytest.mark.asyncio


def _args(production: str, *, client_id: uuid.UUID | None = None, tag_id: Any = None) -> Any:
    vid = uuid.uuid4()
    args = [vid, client_id, uuid.UUID(production), "PC-TEST", tag_id, None, "STOP"]
    args += [["unknown_code"], False, "check", None, "code", None, "user:test", "test"]
    args += [False, None]
    return args, canonical({"verification_id": vid, "client_id": client_id})


async def test_concurrent_verifications_share_commits_and_keep_one_chain(
    app_pool: asyncpg.Pool, world: World, db: asyncpg.Connection
) -> None:
    rows = []
    for _ in range(4):
        calls = [_args(world.production_id) for _ in range(10)]
        rows += await asyncio.gather(*(record_as_request(app_pool, a, b) for a, b in calls))
    assert all(r is not None for r in rows)
    seqs = sorted(r["seq"] for r in rows)
    assert seqs == list(range(seqs[0], seqs[0] + len(rows)))  # no gap, no fork
    commits = await db.fetchval(
        "SELECT count(DISTINCT created_at) FROM verifications WHERE id = ANY($1::uuid[])",
        [r["id"] for r in rows],
    )
    assert commits < len(rows)  # batched: fewer commits than verifications
    (chain,) = await verify_database(db, uuid.UUID(world.production_id))
    assert chain.report.ok, chain.report.problem


async def test_the_same_client_id_twice_in_one_batch_is_stored_once(
    app_pool: asyncpg.Pool, world: World, db: asyncpg.Connection
) -> None:
    client_id = uuid.uuid4()
    calls = [_args(world.production_id) for _ in range(6)]
    calls[2] = _args(world.production_id, client_id=client_id)
    calls[4] = _args(world.production_id, client_id=client_id)
    rows = await asyncio.gather(*(record_as_request(app_pool, a, b) for a, b in calls))
    assert (rows[2] is None) != (rows[4] is None)  # one stored, the other is the replay
    assert sum(r is None for r in rows) == 1
    assert (
        await db.fetchval("SELECT count(*) FROM verifications WHERE client_id = $1", client_id) == 1
    )


async def test_a_bad_row_fails_alone_and_its_batch_is_stored(
    app_pool: asyncpg.Pool, world: World, db: asyncpg.Connection
) -> None:
    calls = [_args(world.production_id) for _ in range(6)]
    calls[3] = _args(world.production_id, tag_id=uuid.uuid4())  # no such tag
    results = await asyncio.gather(
        *(record_as_request(app_pool, a, b) for a, b in calls),
        return_exceptions=True,
    )
    assert isinstance(results[3], asyncpg.ForeignKeyViolationError)
    good = [r for i, r in enumerate(results) if i != 3]
    assert all(isinstance(r, asyncpg.Record) for r in good), good
    stored = await db.fetchval(
        "SELECT count(*) FROM verifications WHERE id = ANY($1::uuid[])",
        [a[0] for a, _ in calls],
    )
    assert stored == 5


async def test_a_leader_gets_a_connection_while_its_followers_hold_the_whole_pool(
    database: str, world: World, db: asyncpg.Connection
) -> None:
    # Two requests hold the pool's only two connections (they read facts) and then
    # queue behind a third, which leads the write and has no connection yet. Followers
    # give theirs back while they wait, so the leader gets one at once instead of
    # timing out with its whole batch (every verify of the production a 503).
    pool = await asyncpg.create_pool(
        database, min_size=2, max_size=2, server_settings={"role": "propcheck_app"}
    )
    assert pool is not None
    try:
        leader, *followers = (LazyConnection(pool, 2.0) for _ in range(3))
        for f in followers:
            await f.get()
        calls = [_args(world.production_id) for _ in range(3)]
        lead = asyncio.create_task(record_verification(leader, *calls[0]))
        await asyncio.sleep(0.05)  # it leads, waiting for the pool
        async with asyncio.timeout(1.5):  # under the pool wait: nobody timed out
            rows = await asyncio.gather(
                lead,
                *(record_verification(f, *c) for f, c in zip(followers, calls[1:], strict=True)),
            )
        assert all(isinstance(r, asyncpg.Record) for r in rows)
        for lazy in (leader, *followers):
            await lazy.release()
        assert pool.get_idle_size() == 2
    finally:
        pool.terminate()
    stored = await db.fetchval(
        "SELECT count(*) FROM verifications WHERE id = ANY($1::uuid[])",
        [a[0] for a, _ in calls],
    )
    assert stored == 3


async def _stored(db: asyncpg.Connection, calls: list[Any]) -> set[uuid.UUID]:
    rows = await db.fetch(
        "SELECT id FROM verifications WHERE id = ANY($1::uuid[])", [a[0] for a, _ in calls]
    )
    return {r["id"] for r in rows}


async def _queued_behind_a_held_chain(
    app_pool: asyncpg.Pool, db: asyncpg.Connection, production: str, n: int
) -> tuple[list[Any], list[asyncio.Task[Any]]]:
    """n verifications of one production: the first DEPTH are being written, blocked on
    the chain head (which ``db`` holds locked in an open transaction), the first by its
    own request, the next by a writer; the others are queued behind them."""
    await db.execute("BEGIN")
    await db.execute(
        "SELECT seq FROM chain_heads WHERE chain_id = $1 FOR UPDATE", uuid.UUID(production)
    )
    calls = [_args(production) for _ in range(n)]
    sent = []
    for call in calls[:DEPTH]:
        sent.append(asyncio.create_task(record_as_request(app_pool, *call)))
        # Its statement now reaches the database and waits for the chain head's lock.
        for _ in range(500):
            if await _waiting_for_the_chain(db) >= len(sent):
                break
            await asyncio.sleep(0.02)
    rest = [asyncio.create_task(record_as_request(app_pool, *c)) for c in calls[DEPTH:]]
    await asyncio.sleep(0.05)
    return calls, [*sent, *rest]


async def _waiting_for_the_chain(db: asyncpg.Connection) -> int:
    """Recording statements of this database waiting for a lock (the chain head's)."""
    # Activity is read once per transaction unless its snapshot is dropped (``db`` is
    # holding the chain head in one).
    await db.execute("SELECT pg_stat_clear_snapshot()")
    n: int = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE '%propcheck_record_verifications%' AND datname = current_database()"
    )
    return n


async def test_a_request_cancelled_while_it_waits_is_not_stored_and_the_rest_are(
    app_pool: asyncpg.Pool, world: World, db: asyncpg.Connection
) -> None:
    calls, tasks = await _queued_behind_a_held_chain(app_pool, db, world.production_id, 5)
    waiting = DEPTH + 1  # the second of the rows not sent yet
    tasks[waiting].cancel()  # the phone gave up while its row waited for the next write
    await db.execute("ROLLBACK")
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    assert isinstance(results[waiting], asyncio.CancelledError)
    assert all(isinstance(r, asyncpg.Record) for i, r in enumerate(results) if i != waiting), (
        results
    )
    stored = await _stored(db, calls)
    assert calls[waiting][0][0] not in stored
    assert len(stored) == 4


async def test_the_next_write_waits_for_the_chain_inside_the_database(
    app_pool: asyncpg.Pool, world: World, db: asyncpg.Connection
) -> None:
    # While one write of a production holds (here: waits for) the chain head, the rows
    # that arrive meanwhile are already sent, to take the lock the moment it is free,
    # and are chained after it.
    calls, tasks = await _queued_behind_a_held_chain(app_pool, db, world.production_id, 3)
    blocked = await _waiting_for_the_chain(db)
    await db.execute("ROLLBACK")
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert blocked == DEPTH >= 2
    assert len(await _stored(db, calls)) == len(results) == 3
    seqs = sorted(r["seq"] for r in results)
    assert seqs == list(range(seqs[0], seqs[0] + 3))  # one chain, no gap, no fork
    (chain,) = await verify_database(db, uuid.UUID(world.production_id))
    assert chain.report.ok, chain.report.problem


async def test_the_rows_queued_behind_a_cancelled_write_are_stored_by_the_writer(
    app_pool: asyncpg.Pool, world: World, db: asyncpg.Connection
) -> None:
    # The request writing its own row is cancelled mid-statement (its client went
    # away): the rows queued behind it belong to other phones and are still stored.
    calls, tasks = await _queued_behind_a_held_chain(app_pool, db, world.production_id, 5)
    tasks[0].cancel()
    await asyncio.sleep(0.2)
    await db.execute("ROLLBACK")
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(r, asyncpg.Record) for r in results[1:]), results
    stored = await _stored(db, calls)
    assert stored == {a[0] for a, _ in calls[1:]}  # the cancelled statement stored nothing
    (chain,) = await verify_database(db, uuid.UUID(world.production_id))
    assert chain.report.ok, chain.report.problem


async def test_the_writer_gives_its_connection_back_when_no_row_waits(
    app_pool: asyncpg.Pool, world: World
) -> None:
    for _ in range(3):
        calls = [_args(world.production_id) for _ in range(10)]
        await asyncio.gather(*(record_as_request(app_pool, a, b) for a, b in calls))
    for _ in range(100):  # the last release runs as a task of asyncpg's
        if app_pool.get_idle_size() == app_pool.get_size():
            break
        await asyncio.sleep(0.01)
    assert app_pool.get_idle_size() == app_pool.get_size()


async def test_a_connection_kept_between_uses_is_spared_only_when_the_pool_runs_out(
    database: str,
) -> None:
    pool = await asyncpg.create_pool(
        database, min_size=2, max_size=2, server_settings={"role": "propcheck_app"}
    )
    assert pool is not None
    try:
        keeper, other = LazyConnection(pool, 2.0), LazyConnection(pool, 2.0)
        kept = await keeper.get()
        await keeper.spare()  # one connection is still free: kept
        assert await keeper.get() is kept
        await other.get()
        await keeper.spare()  # none left for anyone else: given back
        assert pool.get_idle_size() == 1
        await other.release()
    finally:
        pool.terminate()


async def test_a_writer_cancelled_before_it_starts_fails_its_waiters(
    app_pool: asyncpg.Pool, world: World
) -> None:
    # The loop shutting down can cancel the writer task before its first step, when its
    # own clean-up has not started: the rows waiting for it get an error, not silence.
    from api import recorder
    from api.connections import lazily

    production = uuid.UUID(world.production_id)
    chains = recorder._chains.setdefault(asyncio.get_running_loop(), {})
    chain = chains[production] = recorder._Chain()
    loop = asyncio.get_running_loop()
    waiting = [recorder._Entry(*_args(world.production_id), (None, None), loop.create_future())]
    chain.pending.extend(waiting)
    chain.leading = False
    recorder._start_writer(chains, production, chain, lazily(app_pool, 2.0))
    (writer,) = chain.writers
    writer.cancel()
    with pytest.raises(RuntimeError, match="writer stopped"):
        await asyncio.wait_for(waiting[0].future, 2)
    assert production not in chains  # the next verify of this production writes itself


async def test_a_writer_that_left_fails_none_of_the_rows_queued_after_it(
    app_pool: asyncpg.Pool, world: World
) -> None:
    # A writer finds nothing waiting and leaves; giving its connection back then fails
    # (the database went away). A row queued meanwhile belongs to the write still in
    # progress (here: the leading request's), which starts a writer for it: this one's
    # failure is not that row's.
    from contextlib import asynccontextmanager

    from api import recorder

    production = uuid.UUID(world.production_id)
    loop = asyncio.get_running_loop()
    chains = recorder._chains.setdefault(loop, {})
    chain = chains[production] = recorder._Chain()  # its leader still writing
    queued = recorder._Entry(*_args(world.production_id), (None, None), loop.create_future())

    @asynccontextmanager
    async def failing_release() -> Any:
        yield LazyConnection(app_pool, 2.0)
        chain.pending.append(queued)  # queued after the writer left
        raise ConnectionResetError("the database went away")

    try:
        recorder._start_writer(chains, production, chain, failing_release())
        (writer,) = chain.writers
        await asyncio.wait_for(writer, 2)
        assert not queued.future.done()  # not failed by a writer that had left
        assert chain.pending == [queued] and chains[production] is chain
    finally:
        chains.pop(production, None)


@pytest.mark.parametrize("purpose", ["check", "checkout"])
async def test_a_record_and_a_writer_of_its_item_never_wait_for_each_other(
    app_pool: asyncpg.Pool, db: asyncpg.Connection, world: World, client: Any, purpose: str
) -> None:
    # A writer locks the item's row, then appends to the chain (a check-out, a
    # quarantine). Meanwhile a scan of that item is recorded: the record locks the chain
    # head and key-shares (a hand-off: updates) the item's row. In opposite orders the
    # two waited for each other until PostgreSQL failed one (migration 0012).
    from api.events import canonical
    from api.recorder import _Entry, _write
    from api.sql import q
    from tests.api.helpers import ready_item

    item = await ready_item(client, world)
    iid, production = uuid.UUID(item["id"]), uuid.UUID(world.production_id)
    tag_id = await db.fetchval("SELECT id FROM tags WHERE item_id = $1", iid)
    vid = uuid.uuid4()
    args = [vid, None, production, "PC-TEST", tag_id, iid, "CLEARED", [], True, purpose]
    args += ["Ava" if purpose == "checkout" else None, "code", None, "user:test", "t", False, None]
    entry = _Entry(
        args, canonical({"v": str(vid)}), (None, None), asyncio.get_running_loop().create_future()
    )
    writer, recorder = await app_pool.acquire(), await app_pool.acquire()
    try:
        async with writer.transaction():
            await writer.fetchrow(q("item_lock"), iid)
            record = asyncio.ensure_future(_write(recorder, [entry]))
            await asyncio.sleep(0.3)  # the record reaches its locks
            await writer.fetchval(
                "SELECT propcheck_append_event($1, 'custody.checked_out', 'test', $2, '{}')",
                production,
                iid,
            )
        (row,) = await asyncio.wait_for(record, 10)
    finally:
        await app_pool.release(writer)
        await app_pool.release(recorder)
    assert isinstance(row, asyncpg.Record), row
    kinds = await db.fetch(
        "SELECT kind FROM events WHERE chain_id = $1 AND subject_id = $2 ORDER BY seq DESC LIMIT 2",
        production,
        iid,
    )
    assert {r["kind"] for r in kinds} == {"verification", "custody.checked_out"}
