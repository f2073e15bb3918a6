"""Group commit of verifications: many concurrent verifies of one production, one commit.

Every verification appends an event to its production's chain, and the append holds
the chain head's row lock until the transaction's commit has been flushed to disk
(synchronous_commit stays on: a CLEARED is only sent once its record is durable). One
commit per verify therefore caps a production at one verify per disk flush, however
many cores there are. PostgreSQL's own group commit cannot help: the next writer of the
chain waits for the lock, which is released only after the flush.

So a verify of an idle production writes its row at once, with its request's own
connection; the verifies that arrive while that write is in progress wait (holding no
connection), and a writer task of the production stores them all in one statement and
one commit, then the next waiting ones, until none wait. Two writes of a production are
in flight at once (DEPTH): the second waits for the chain head inside PostgreSQL and
takes it the moment the first commits, rather than after the first's answer has
crossed back and waited its turn on a busy event loop. A writer sends its next batch in
the same step of the event loop in which its last one's answer arrived; handing the
write to a waiting request instead cost one more trip round the loop per commit, about
0.6 ms of the ~4 ms a commit took under load (propcheck bench verify), and a pool round.
A writer holds one pooled connection while its production has rows waiting and gives it
back between batches when the pool has none left for anyone else. Each row is stored and
chained exactly as a batch of one would be; a batch that fails for a reason other than
the database being unreachable is retried row by row, so one bad row cannot fail its
neighbours.

Each row carries the facts versions its verdict was decided on (migration 0007): a row
whose item or production has changed since is not stored, and its caller gets
StaleFacts, to read the facts again and decide again. So does a CLEARED whose passing
inspection grew too old while it waited to be stored (migration 0017): the row carries
the instant it lapses, compared with the database's clock once the chain is locked.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.connections import LazyConnection
from api.errors import DB_DOWN
from api.sql import q

__all__ = ["MAX_BATCH", "StaleFacts", "Versions", "record_verification", "store_now"]

_log = logging.getLogger("propcheck.recorder")

#: Most verifications stored by one statement.
MAX_BATCH = 128

#: Writes of one production in flight at once: the one holding the chain head and the
#: next, queued on it inside PostgreSQL. A third would only queue behind the second.
#: Measured with the server on a core of its own (propcheck bench verify), where its
#: event loop had been idle 11% of the time waiting for commits: 4% more verifies per
#: second, for somewhat smaller batches (more commits, ~20% more PostgreSQL CPU a verify).
DEPTH = 2

#: The item's and the production's facts_version a verdict was decided on (None: the
#: facts did not come from that row, nothing to check).
Versions = tuple[int | None, int | None]
_UNCHECKED: Versions = (None, None)


class StaleFacts(Exception):
    """The facts a verdict was decided on changed before it was stored: decide again."""


class _Entry:
    __slots__ = ("args", "body", "future", "lapses", "versions")

    def __init__(
        self,
        args: Sequence[Any],
        body: str,
        versions: Versions,
        future: asyncio.Future[Any],
        lapses: datetime | None = None,
    ) -> None:
        self.args = args
        self.body = body
        self.versions = versions
        self.future = future
        self.lapses = lapses


class _Chain:
    """One production's writes in progress and the verifications waiting for the next."""

    __slots__ = ("leading", "pending", "writers")

    def __init__(self) -> None:
        self.pending: list[_Entry] = []
        #: The tasks storing the waiting rows, at most DEPTH with the leading write (a
        #: strong reference: the event loop keeps only weak ones).
        self.writers: set[asyncio.Task[None]] = set()
        #: Whether the request that found the production idle is still writing its row.
        self.leading = True

    def room(self) -> bool:
        """Whether rows waiting here may be sent now, by one more writer."""
        return bool(self.pending) and len(self.writers) + self.leading < DEPTH

    def idle(self) -> bool:
        """Whether nothing is written or waits: the next verify writes itself."""
        return not (self.pending or self.writers or self.leading)


_chains: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[UUID, _Chain]] = (
    weakref.WeakKeyDictionary()
)


async def record_verification(
    db: LazyConnection,
    args: Sequence[Any],
    body: str,
    versions: Versions = _UNCHECKED,
    lapses: datetime | None = None,
) -> asyncpg.Record | None:
    """Store one verification and append its event, batched with concurrent ones.

    ``db`` is the caller's pooled connection, taken only if this row is written at once
    (a caller that waits for another's write gives back any it holds first; the writer
    takes one of its own from the same pool). ``args`` are the verifications columns in
    record_verifications' order ($1..$17), ``body`` the event's canonical JSON. Returns
    the stored row (id, created_at, seq), or None when a verification with the same
    client_id was already stored (a replay); raises StaleFacts when ``versions`` are no
    longer current, or ``lapses`` (when a CLEARED's inspection grows too old) has passed
    by the time the chain is locked.
    """
    loop = asyncio.get_running_loop()
    chains = _chains.setdefault(loop, {})
    chain_id: UUID = args[2]
    if chain_id in chains:
        # A waiting verification holds no connection: the writer may need the pool's
        # last one. Given back before the row is queued, so that a failure here cannot
        # leave it to be written.
        await db.release()
    entry = _Entry(args, body, versions, loop.create_future(), lapses)
    chain = chains.get(chain_id)  # the write may have ended meanwhile
    if chain is not None:
        chain.pending.append(entry)
        if chain.room():
            _start_writer(chains, chain_id, chain, db.another())
        try:
            result: asyncpg.Record | None = await entry.future
        except asyncio.CancelledError:
            if entry in chain.pending:  # not taken yet: never written
                chain.pending.remove(entry)
            raise
        return result
    # An idle production: this row is written now, with the request's own connection.
    chain = chains[chain_id] = _Chain()
    try:
        (row,) = await _write(await db.get(), [entry])
    except DB_DOWN as exc:
        # The database is unreachable or hung: the rows that queued meanwhile fail now
        # too (503), rather than waiting out the timeout again in the writer.
        _fail(chain.pending, exc if isinstance(exc, Exception) else RuntimeError(exc))
        chain.pending.clear()
        raise
    finally:
        chain.leading = False
        if chain.room():
            _start_writer(chains, chain_id, chain, db.another())
        else:
            _forget_if_idle(chains, chain_id, chain)
    if isinstance(row, BaseException):
        raise row
    return row


def _start_writer(
    chains: dict[UUID, _Chain],
    chain_id: UUID,
    chain: _Chain,
    source: AbstractAsyncContextManager[LazyConnection],
) -> None:
    """Start a writer task of the production for the rows waiting in ``chain``."""
    task = asyncio.get_running_loop().create_task(_drain(chains, chain_id, chain, source))
    chain.writers.add(task)

    def done(task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step (the loop shutting down) never runs
        # _drain's own clean-up: its waiters must not wait for ever.
        if task.cancelled() and task in chain.writers:
            _fail(chain.pending, RuntimeError("writer stopped"))
            chain.pending.clear()
            _leave(chains, chain_id, chain, task)

    task.add_done_callback(done)


def _leave(
    chains: dict[UUID, _Chain], chain_id: UUID, chain: _Chain, task: asyncio.Task[None]
) -> None:
    """A writer ends: the production is idle once nothing else writes or waits."""
    chain.writers.discard(task)
    _forget_if_idle(chains, chain_id, chain)


def _forget_if_idle(chains: dict[UUID, _Chain], chain_id: UUID, chain: _Chain) -> None:
    if chain.idle() and chains.get(chain_id) is chain:
        del chains[chain_id]  # the next verify writes itself


async def _drain(
    chains: dict[UUID, _Chain],
    chain_id: UUID,
    chain: _Chain,
    source: AbstractAsyncContextManager[LazyConnection],
) -> None:
    """A writer of the production: store the waiting rows, batch after batch, until none
    wait. Up to DEPTH run at once, each with a connection of its own; each takes what
    waits as soon as its previous write is answered.

    Every waiting row gets its outcome (its stored row, or the error that stopped it),
    whatever happens here: a waiter left unresolved would wait forever.
    """
    me = asyncio.current_task()
    assert me is not None
    batch: list[_Entry] = []
    left = False
    try:
        async with source as db:
            while True:
                batch = [e for e in chain.pending[:MAX_BATCH] if not e.future.done()]
                del chain.pending[:MAX_BATCH]
                if not batch:
                    if chain.pending:  # only cancelled waiters in this slice
                        continue
                    # Left before the connection is given back (an await): a row
                    # queued from now on starts a writer of its own.
                    _leave(chains, chain_id, chain, me)
                    left = True
                    return
                try:
                    results = await _write(await db.get(), batch)
                except DB_DOWN:
                    raise
                except Exception as exc:  # this batch fails; the next ones are tried
                    _fail(batch, exc)
                    batch = []
                    continue
                for e, row in zip(batch, results, strict=True):
                    if not e.future.done():  # a waiter cancelled meanwhile takes nothing
                        if isinstance(row, BaseException):
                            e.future.set_exception(row)
                        else:
                            e.future.set_result(row)
                batch = []
                await db.spare()
    except BaseException as exc:
        if left:
            # Giving the connection back failed after this writer had left: the rows
            # waiting now are another writer's, and their write is not this one's.
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        # Unreachable database (everything waiting answers 503 now, rather than waiting
        # out the timeout again batch by batch), or the loop shutting down.
        failure = exc if isinstance(exc, Exception) else RuntimeError("writer stopped")
        _fail(batch + chain.pending, failure)
        chain.pending.clear()
        _leave(chains, chain_id, chain, me)
        if isinstance(exc, asyncio.CancelledError):
            raise
        if not isinstance(exc, DB_DOWN):
            _log.exception("the writer of chain %s failed", chain_id)


def _fail(entries: list[_Entry], exc: Exception) -> None:
    for e in entries:
        if not e.future.done():
            e.future.set_exception(exc)


async def store_now(
    conn: asyncpg.Connection,
    args: Sequence[Any],
    body: str,
    versions: Versions = _UNCHECKED,
    lapses: datetime | None = None,
) -> asyncpg.Record | None:
    """Store one verification at once, in the caller's transaction if it has one (a
    verification with a photo, or one that opens an incident with it). Same statement,
    same answers as record_verification."""
    alone = _Entry(args, body, versions, asyncio.get_running_loop().create_future(), lapses)
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
        batch[0].args[2],
        *columns,
        [e.body for e in batch],
        [e.versions[0] for e in batch],
        [e.versions[1] for e in batch],
        [e.lapses for e in batch],
    )
    by_id = {r["id"]: r for r in rows}
    out: list[asyncpg.Record | Exception | None] = []
    for e in batch:
        row = by_id.get(e.args[0])
        out.append(StaleFacts() if row is not None and row["stale"] else row)
    return out
