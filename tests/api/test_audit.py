"""The record: append-only enforcement, the hash chain, and tampering being caught.

The tests play the attacker with a superuser connection: they switch the append-only
trigger off for their own session (session_replication_role = replica) and edit the
stored events the ways someone covering tracks would. Each edit must be found, at the
right event, with the right kind of break.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.audit import GENESIS, ChainHead, event_text, verify_chain
from api.audit_io import export_chain, verify_database, verify_file
from api.events import append
from api.seed import app_connection
from tests.conftest import World

_EVENTS = 12


async def _build_chain(db: asyncpg.Connection, n: int = _EVENTS) -> uuid.UUID:
    """A fresh chain of ``n`` varied events (its own id: tampering stays local)."""
    chain = uuid.uuid4()
    async with db.transaction():
        for i in range(n):
            subject = uuid.uuid4() if i % 3 else None
            body = {"i": i, "note": "ünïcode ✓\nnew line", "list": [i, None, True]}
            await append(db, chain, f"test.kind{i % 4}", f"user:{i}", subject, body)
    return chain


@pytest.fixture
async def chain(db: asyncpg.Connection) -> AsyncIterator[uuid.UUID]:
    yield await _build_chain(db)


async def _tamper(db: asyncpg.Connection, sql: str, *args: Any) -> None:
    """Run ``sql`` with the append-only trigger off for this session only."""
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute(sql, *args)


async def _check(db: asyncpg.Connection, chain: uuid.UUID) -> Any:
    (result,) = await verify_database(db, chain)
    return result.report


async def test_an_untouched_chain_verifies(db: asyncpg.Connection, chain: uuid.UUID) -> None:
    report = await _check(db, chain)
    assert report.ok, report
    assert report.events == _EVENTS
    head = await db.fetchrow("SELECT seq, hash FROM chain_heads WHERE chain_id = $1", chain)
    assert (report.last_seq, report.last_hash) == (head["seq"], head["hash"])


async def test_python_hash_matches_the_database_function(
    db: asyncpg.Connection, chain: uuid.UUID
) -> None:
    # The documented text, computed independently, gives the stored hash.
    row = await db.fetchrow("SELECT * FROM events WHERE chain_id = $1 AND seq = 2", chain)
    text = event_text(
        row["prev_hash"],
        row["seq"],
        row["chain_id"],
        row["kind"],
        row["actor"],
        row["subject_id"],
        row["at"],
        row["body"],
    )
    assert hashlib.sha256(text.encode()).hexdigest() == row["hash"]
    sql_text = await db.fetchval(
        "SELECT propcheck_event_text(prev_hash, seq, chain_id, kind, actor, subject_id, at, body)"
        " FROM events WHERE chain_id = $1 AND seq = 2",
        chain,
    )
    assert sql_text == text


async def test_changed_body_is_found_at_its_event(db: asyncpg.Connection, chain: uuid.UUID) -> None:
    await _tamper(
        db,
        "UPDATE events SET body = replace(body, '\"i\":5', '\"i\":6')"
        " WHERE chain_id = $1 AND seq = 6",
        chain,
    )
    report = await _check(db, chain)
    assert not report.ok
    assert (report.problem.seq, report.problem.kind) == (6, "content_changed")
    assert report.events == 5


async def test_changed_kind_is_found(db: asyncpg.Connection, chain: uuid.UUID) -> None:
    await _tamper(
        db, "UPDATE events SET kind = 'item.retired' WHERE chain_id = $1 AND seq = 3", chain
    )
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (3, "content_changed")


async def test_changed_time_is_found(db: asyncpg.Connection, chain: uuid.UUID) -> None:
    await _tamper(
        db,
        "UPDATE events SET at = at - interval '1 microsecond' WHERE chain_id = $1 AND seq = 9",
        chain,
    )
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (9, "content_changed")


async def test_deleted_middle_event_is_a_gap(db: asyncpg.Connection, chain: uuid.UUID) -> None:
    await _tamper(db, "DELETE FROM events WHERE chain_id = $1 AND seq = 7", chain)
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (8, "gap")
    assert "expected seq 7" in report.problem.detail
    assert (report.events, report.last_seq) == (6, 6)


async def test_deleted_last_event_is_a_head_mismatch(
    db: asyncpg.Connection, chain: uuid.UUID
) -> None:
    await _tamper(db, "DELETE FROM events WHERE chain_id = $1 AND seq = $2", chain, _EVENTS)
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (_EVENTS, "head_mismatch")
    assert report.events == _EVENTS - 1


async def test_swapped_contents_are_found_at_the_first(
    db: asyncpg.Connection, chain: uuid.UUID
) -> None:
    # Two events trade everything but their place in the sequence.
    await _tamper(
        db,
        """UPDATE events e SET kind = o.kind, actor = o.actor, subject_id = o.subject_id,
                  at = o.at, body = o.body, prev_hash = o.prev_hash, hash = o.hash
           FROM events o
           WHERE e.chain_id = $1 AND o.chain_id = $1
             AND ((e.seq = 4 AND o.seq = 10) OR (e.seq = 10 AND o.seq = 4))""",
        chain,
    )
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (4, "link_broken")


async def test_swapped_bodies_are_found_at_the_first(
    db: asyncpg.Connection, chain: uuid.UUID
) -> None:
    await _tamper(
        db,
        """UPDATE events e SET body = o.body FROM events o
           WHERE e.chain_id = $1 AND o.chain_id = $1
             AND ((e.seq = 2 AND o.seq = 11) OR (e.seq = 11 AND o.seq = 2))""",
        chain,
    )
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (2, "content_changed")


async def test_rehashed_edit_breaks_the_next_link(db: asyncpg.Connection, chain: uuid.UUID) -> None:
    # The attacker edits event 5 and recomputes its own hash correctly: event 5 now
    # checks out on its own, but event 6 still points at the old hash.
    await _tamper(
        db,
        """UPDATE events SET body = '{"forged":true}',
                  hash = encode(sha256(convert_to(propcheck_event_text(prev_hash, seq, chain_id,
                      kind, actor, subject_id, at, '{"forged":true}'), 'UTF8')), 'hex')
           WHERE chain_id = $1 AND seq = 5""",
        chain,
    )
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (6, "link_broken")
    assert report.events == 5


async def test_relinked_event_with_recomputed_hash_is_found(
    db: asyncpg.Connection, chain: uuid.UUID
) -> None:
    # prev_hash rewritten (as if an event before it were dropped) and the hash recomputed.
    await _tamper(
        db,
        """UPDATE events e SET prev_hash = p.prev_hash,
                  hash = encode(sha256(convert_to(propcheck_event_text(p.prev_hash, e.seq,
                      e.chain_id, e.kind, e.actor, e.subject_id, e.at, e.body), 'UTF8')), 'hex')
           FROM events p
           WHERE e.chain_id = $1 AND p.chain_id = $1 AND e.seq = 8 AND p.seq = 7""",
        chain,
    )
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (8, "link_broken")


async def test_rewritten_tail_is_caught_by_the_chain_head(
    db: asyncpg.Connection, chain: uuid.UUID
) -> None:
    # The last event is rewritten with a correct hash: only the separately kept head
    # (which the application role cannot write) disagrees.
    await _tamper(
        db,
        """UPDATE events SET body = '{}',
                  hash = encode(sha256(convert_to(propcheck_event_text(prev_hash, seq, chain_id,
                      kind, actor, subject_id, at, '{}'), 'UTF8')), 'hex')
           WHERE chain_id = $1 AND seq = $2""",
        chain,
        _EVENTS,
    )
    report = await _check(db, chain)
    assert (report.problem.seq, report.problem.kind) == (_EVENTS, "head_mismatch")


async def test_every_chain_is_checked_and_each_break_named(
    db: asyncpg.Connection, world: World
) -> None:
    good, bad = await _build_chain(db, 3), await _build_chain(db, 3)
    await _tamper(db, "UPDATE events SET actor = 'x' WHERE chain_id = $1 AND seq = 2", bad)
    results = {r.chain_id: r for r in await verify_database(db)}
    assert results[str(good)].report.ok
    problem = results[str(bad)].report.problem
    assert problem is not None and problem.seq == 2
    assert results[str(bad)].owner is None  # an orphan chain: neither production nor studio
    production = results[world.production_id]
    assert production.report.ok and production.owner == "production"
    assert production.report.events > 0


async def test_unknown_chain_is_an_error(db: asyncpg.Connection) -> None:
    with pytest.raises(LookupError):
        await verify_database(db, uuid.uuid4())


async def test_the_log_is_append_only_for_the_superuser(
    db: asyncpg.Connection, chain: uuid.UUID
) -> None:
    for sql in (
        "UPDATE events SET body = '{}' WHERE chain_id = $1",
        "DELETE FROM events WHERE chain_id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(sql, chain)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        async with db.transaction():
            await db.execute("TRUNCATE events")
    assert (await _check(db, chain)).ok


async def test_the_app_role_cannot_change_the_log(
    database: str, db: asyncpg.Connection, chain: uuid.UUID
) -> None:
    app = await app_connection(database)
    try:
        for sql in (
            "UPDATE events SET body = '{}' WHERE chain_id = $1",
            "DELETE FROM events WHERE chain_id = $1",
            "UPDATE chain_heads SET seq = 0 WHERE chain_id = $1",
            "DELETE FROM chain_heads WHERE chain_id = $1",
            "INSERT INTO events VALUES ($1, 99, 'k', 'a', NULL, now(), '{}', '', '')",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(sql, chain)
        for table in ("events", "chain_heads"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(f"TRUNCATE {table}")
        # What it may do: append through the function, which keeps the chain.
        await append(app, chain, "test.app", "user:app", None, {})
    finally:
        await app.close()
    report = await _check(db, chain)
    assert report.ok and report.events == _EVENTS + 1


async def test_concurrent_writers_keep_one_linear_chain(
    database: str, db: asyncpg.Connection
) -> None:
    chain = uuid.uuid4()
    writers = 50
    conns = await asyncio.gather(*(app_connection(database) for _ in range(writers)))
    start = asyncio.Event()

    async def write(conn: asyncpg.Connection, i: int) -> None:
        await start.wait()
        async with conn.transaction():
            await append(conn, chain, "test.concurrent", f"writer:{i}", None, {"i": i})
            await asyncio.sleep(0.001)  # hold the head lock a moment: others must queue

    try:
        tasks = [asyncio.create_task(write(c, i)) for i, c in enumerate(conns)]
        start.set()
        await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    seqs = [r["seq"] for r in await db.fetch("SELECT seq FROM events WHERE chain_id = $1", chain)]
    assert sorted(seqs) == list(range(1, writers + 1))
    report = await _check(db, chain)
    assert report.ok and report.events == writers


async def test_export_round_trip_verifies_without_a_database(
    db: asyncpg.Connection, chain: uuid.UUID, tmp_path: Path
) -> None:
    out = tmp_path / "chain.jsonl"
    written = await export_chain(db, chain, out)
    assert written.ok
    lines = out.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "propcheck-audit-export"
    assert header["head"]["seq"] == _EVENTS and len(lines) == _EVENTS + 1
    first = json.loads(lines[1])
    assert first["prev_hash"] == GENESIS and first["seq"] == 1
    got_header, report = verify_file(out)
    assert report.ok and report.events == _EVENTS
    assert got_header is not None and got_header.head == ChainHead(
        seq=report.last_seq, hash=report.last_hash
    )


@pytest.mark.parametrize(
    ("edit", "seq", "found_at", "kind"),
    [
        ("body", 4, 4, "content_changed"),
        ("drop_line", 5, 6, "gap"),
        ("drop_last", _EVENTS, _EVENTS, "head_mismatch"),
        ("actor", 7, 7, "content_changed"),
    ],
)
async def test_tampered_export_is_found(
    db: asyncpg.Connection,
    chain: uuid.UUID,
    tmp_path: Path,
    edit: str,
    seq: int,
    found_at: int,
    kind: str,
) -> None:
    out = tmp_path / "chain.jsonl"
    await export_chain(db, chain, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    if edit == "body":
        e = json.loads(lines[seq])
        e["body"] = e["body"].replace("new line", "old line")
        lines[seq] = json.dumps(e)
    elif edit == "actor":
        e = json.loads(lines[seq])
        e["actor"] = "user:someone-else"
        lines[seq] = json.dumps(e)
    elif edit == "drop_line":
        del lines[seq]
    else:
        del lines[-1]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, report = verify_file(out)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (found_at, kind)


def test_verify_chain_accepts_datetimes_and_names_the_first_break() -> None:
    from datetime import UTC, datetime

    chain = str(uuid.uuid4())
    rows = []
    prev = GENESIS
    for seq in range(1, 4):
        at = datetime(2025, 1, 2, 3, 4, 5, 6 * seq, tzinfo=UTC)
        h = hashlib.sha256(
            event_text(prev, seq, chain, "k", "a", None, at, "{}").encode()
        ).hexdigest()
        rows.append((chain, seq, "k", "a", None, at, "{}", prev, h))
        prev = h
    assert verify_chain(rows, ChainHead(seq=3, hash=prev)).ok
    assert "2025-01-02T03:04:05.000006Z" in event_text(
        GENESIS, 1, chain, "k", "a", None, rows[0][5], "{}"
    )
    broken = verify_chain([rows[0], rows[2]])
    assert broken.problem is not None and (broken.problem.seq, broken.problem.kind) == (3, "gap")
    repeated = verify_chain([rows[0], rows[1], rows[1]])
    assert repeated.problem is not None and repeated.problem.kind == "gap"
    cut = verify_chain(rows, ChainHead(seq=4, hash=prev)).problem
    assert cut is not None and (cut.seq, cut.kind) == (4, "head_mismatch")


async def test_a_line_break_in_kind_or_actor_is_refused_and_fails_the_check(
    db: asyncpg.Connection,
) -> None:
    # The hashed text has one field per line: "a\nb" as a kind with actor "c" reads the
    # same as kind "a" with actor "b\nc". Found by review: nothing guaranteed it.
    chain = uuid.uuid4()
    with pytest.raises(asyncpg.CheckViolationError):
        await append(db, chain, "item.edited\nuser:x", "user:y", None, {"a": 1})
    with pytest.raises(asyncpg.CheckViolationError):
        await append(db, chain, "item.edited", "user:x\nsystem", None, {"a": 1})
    # An export (or a table written before the constraint) holding one fails the
    # check even when every hash is consistent with it.
    at = "2026-01-01T00:00:00.000000Z"
    text = event_text(GENESIS, 1, chain, "a", "b\nc", None, at, "{}")
    rows = [
        (chain, 1, "a", "b\nc", None, at, "{}", GENESIS, hashlib.sha256(text.encode()).hexdigest())
    ]
    report = verify_chain(rows)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (1, "content_changed")
