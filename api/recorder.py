"""Group commit of verifications: many concurrent verifies of one production, one commit.

Every verification appends an event to its production's chain, and the append holds
the chain head's row lock until the transaction's commit has been flushed to disk
(synchronous_commit stays on: a CLEARED is only sent once its record is durable). One
commit per verify therefore caps a production at one verify per disk flush, however
many cores there are. PostgreSQL's own group commit cannot help: the next writer of the
chain waits for the lock, which is released only after the flush.

So the verifies of one production that arrive while a write is in progress wait, and
the next write stores them all in one statement and one commit: the first waiting
request leads (takes its request's pooled connection and writes), the others take their
rows' results (a waiting follower holds no connection, so a leader never waits for its
followers' to come back). With no concurrency a batch is one verification and nothing
waits. Each row is stored and chained exactly as a batch of one would be; a batch that
fails for a reason other than the database being unreachable is retried row by row, so
one bad row cannot fail its neighbours.

Each row carries the facts versions its verdict was decided on (migration 0007): a row
whose item or production has changed since is not stored, and its caller gets
StaleFacts, to read the facts again and decide again.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from api.connections import ConnectionSource
from api.errors import DB_DOWN
from api.sql import q

__all__ = ["MAX_BATCH", "StaleFacts", "Versions", "record_verification", "store_now"]

#: Most verifications stored by one statement.
MAX_BATCH = 128

_LEAD = object()  # a follower's future resolves to this when it must lead the next write

#: The item's and the production's facts_version a verdict was decided on (None: the
#: facts did not come from that row, nothing to check).
Versions = tuple[int | None, int | None]
_UNCHECKED: Versions = (None, None)


class StaleFacts(Exception):
    """The facts a verdict was decided on changed before it was stored: decide again."""


class _Entry:
    __slots__ = ("args", "body", "future", "versions")

    def __init__(
        self,
        args: Sequence[Any],
        body: str,
        versions: Versions,
        future: asyncio.Future[Any],
    ) -> None:
        self.args = args
        self.body = body
        self.versions = versions
        self.future = future


class _Chain:
    """Waiting verifications of one production, in one process and event loop."""

    __slots__ = ("busy", "pending")

    def __init__(self) -> None:
        self.busy = False
        self.pending: list[_Entry] = []


_chains: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[UUID, _Chain]] = (
    weakref.WeakKeyDictionary()
)


async def record_verification(
    db: ConnectionSource, args: Sequence[Any], body: str, versions: Versions = _UNCHECKED
) -> asyncpg.Record | None:
    """Store one verification and append its event, batched with concurrent ones.

    ``db`` is the caller's connection source: a caller that waits for another's write
    gives back any connection it holds first, and takes one only if it leads a write.
    ``args`` are the verifications columns in record_verifications' order ($1..$17),
    ``body`` the event's canonical JSON. Returns the stored row (id, created_at, seq),
    or None when a verification with the same client_id was already stored (a replay);
    raises StaleFacts when ``versions`` are no longer current.
    """
    loop = asyncio.get_running_loop()
    chains = _chains.setdefault(loop, {})
    chain_id: UUID = args[2]
    chain = chains.get(chain_id)
    if chain is not None and chain.busy:
        # A follower holds no connection while it waits: the leader may need the
        # pool's last one, and waits for none of its followers'. Given back before the
        # row is queued, so that a failure here cannot leave it to be written.
        await db.release()
        chain = chains.get(chain_id)  # the write may have ended meanwhile
    if chain is None:
        chain = chains[chain_id] = _Chain()
    entry = _Entry(args, body, versions, loop.create_future())
    chain.pending.append(entry)
    if chain.busy:
        try:
            outcome = await entry.future
        except asyncio.CancelledError:
            _abandon(chains, chain_id, chain, entry)
            raise
        if outcome is not _LEAD:
            result: asyncpg.Record | None = outcome
            return result
    chain.busy = True
    batch = chain.pending[:MAX_BATCH]
    del chain.pending[:MAX_BATCH]
    try:
        results = await _write(await db.get(), batch)
    except BaseException as exc:
        failed = list(batch)
        if isinstance(exc, DB_DOWN):
            # The database is unreachable or hung: the waiting verifications fail now
            # too (503), rather than each leading a write that waits out the timeout
            # again, which would stretch a 503 to a multiple of db_timeout_s.
            failed += chain.pending
            chain.pending.clear()
        for e in failed:
            if e is not entry and not e.future.done():
                e.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
        raise
    finally:
        _hand_over(chains, chain_id, chain)
    mine: asyncpg.Record | Exception | None = None
    # Every follower's outcome is handed over before the leader's own error is raised:
    # a follower left unresolved would wait forever.
    for e, row in zip(batch, results, strict=True):
        if e is entry:
            mine = row
        elif not e.future.done():
            if isinstance(row, BaseException):
                e.future.set_exception(row)
            else:
                e.future.set_result(row)
    if isinstance(mine, BaseException):
        raise mine
    return mine


def _hand_over(chains: dict[UUID, _Chain], chain_id: UUID, chain: _Chain) -> None:
    """Let the first live waiter lead the next write, or mark the chain idle."""
    while chain.pending:
        nxt = chain.pending[0]
        if nxt.future.done():  # cancelled while waiting: its row was never written
            chain.pending.pop(0)
            continue
        nxt.future.set_result(_LEAD)
        return
    chain.busy = False
    if chains.get(chain_id) is chain:
        del chains[chain_id]


def _abandon(chains: dict[UUID, _Chain], chain_id: UUID, chain: _Chain, entry: _Entry) -> None:
    """A waiter was cancelled: drop its row, and pass on the lead if it had been given it."""
    led = entry.future.done() and not entry.future.cancelled() and entry.future.result() is _LEAD
    if entry in chain.pending:
        chain.pending.remove(entry)
    if led:
        _hand_over(chains, chain_id, chain)


async def store_now(
    conn: asyncpg.Connection, args: Sequence[Any], body: str, versions: Versions = _UNCHECKED
) -> asyncpg.Record | None:
    """Store one verification at once, in the caller's transaction if it has one (a
    verification with a photo, or one that opens an incident with it). Same statement,
    same answers as record_verification."""
    alone = _Entry(args, body, versions, asyncio.get_running_loop().create_future())
    (row,) = await _write(conn, [alone])
    if isinstance(row, BaseException):
        raise row
    return row


async def _write(
    conn: asyncpg.Connection, batch: list[_Entry]
) -> list[asyncpg.Record | Exception | None]:
    """One statement for the batch; row by row if it fails for a reason of its data, so
    that a bad row gets its own error and its neighbours are stored."""
    try:
        return await _statement(conn, batch)
    except DB_DOWN:
        raise
    except asyncpg.PostgresError:
        if len(batch) == 1:
            raise
    out: list[asyncpg.Record | Exception | None] = []
    for e in batch:
        try:
            out += await _statement(conn, [e])
        except DB_DOWN:
            raise
        except asyncpg.PostgresError as exc:
            out.append(exc)
    return out


async def _statement(
    conn: asyncpg.Connection, batch: list[_Entry]
) -> list[asyncpg.Record | Exception | None]:
    columns: list[list[Any]] = [[] for _ in range(17)]
    for e in batch:
        for i, value in enumerate(e.args):
            columns[i].append(value)
    # reasons is text[] per row: sent as array literals (reason codes are plain words).
    columns[7] = ["{" + ",".join(r) + "}" for r in columns[7]]
    rows = await conn.fetch(
        q("record_verifications"),
        *columns,
        [e.body for e in batch],
        batch[0].args[2],
        [e.versions[0] for e in batch],
        [e.versions[1] for e in batch],
    )
    by_id = {r["id"]: r for r in rows}
    out: list[asyncpg.Record | Exception | None] = []
    for e in batch:
        row = by_id.get(e.args[0])
        out.append(StaleFacts() if row is not None and row["stale"] else row)
    return out
