"""Where a query gets its connection: taken from the pool only when first needed.

A request's connection is a LazyConnection: most verifies need none of their own (the
facts are kept and the record is written by the group commit's writer, api/recorder.py),
and one that fails is dropped, not given back. Code that already holds a connection
passes it as Held.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import asyncpg

from api.errors import DB_DOWN

__all__ = ["ConnectionSource", "Held", "LazyConnection", "lazily"]


class ConnectionSource(Protocol):
    """Where a query gets its connection: a request's LazyConnection, or Held."""

    async def get(self) -> asyncpg.Connection:
        """The connection (taken now if need be)."""

    async def release(self) -> None:
        """Give it back if it was taken for this source; it may be taken again."""


class Held:
    """A connection the caller already holds, as a ConnectionSource (never released)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self) -> asyncpg.Connection:
        return self._conn

    async def release(self) -> None:
        return None


class LazyConnection:
    """A request's pooled connection, taken from the pool on its first use.

    Most verifies need no connection of their own: the facts are kept and the record is
    written by the group commit's writer (api/recorder.py). A pool round (acquire, and a
    release that asyncpg runs as a task of its own) costs about 30 us of the event loop,
    a tenth of a verify's (propcheck bench verify).
    """

    __slots__ = ("_conn", "_pool", "_wait_s")

    def __init__(self, pool: asyncpg.Pool, wait_s: float) -> None:
        self._pool = pool
        self._wait_s = wait_s
        self._conn: asyncpg.Connection | None = None

    async def get(self) -> asyncpg.Connection:
        """The connection, waited for at most ``wait_s`` (db_timeout_s) on first use."""
        if self._conn is None:
            # asyncio.timeout rather than acquire(timeout=...): asyncpg runs a timed
            # acquire in a task of its own; a cancelled acquire gives its place back.
            async with asyncio.timeout(self._wait_s):
                self._conn = await self._pool.acquire()
        return self._conn

    def drop(self) -> None:
        """Close the connection instead of returning it (it failed, or hung).

        After a timed-out query asyncpg would first wait, up to another timeout, for its
        cancellation (a hung server makes every 503 take twice db_timeout_s); a broken
        one is useless anyway. The pool opens a fresh connection when one is next needed.
        """
        if self._conn is not None:
            self._conn.terminate()

    async def release(self) -> None:
        """Give the connection back to the pool, if one was taken (get takes another)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._pool.release(conn)

    async def spare(self) -> None:
        """Give the connection back if the pool has no other left for anyone who waits.

        For holders that keep a connection between uses (the group commit's writer):
        they take their turn at the pool again instead of starving other requests.
        """
        pool = self._pool
        if pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size():
            await self.release()

    def another(self) -> AbstractAsyncContextManager[LazyConnection]:
        """A connection source of its own on the same pool, for work that outlives this
        request (the group commit's writer task)."""
        return lazily(self._pool, self._wait_s)


@asynccontextmanager
async def lazily(pool: asyncpg.Pool, wait_s: float) -> AsyncIterator[LazyConnection]:
    """A connection of ``pool`` for the block, taken on first use (waited for at most
    ``wait_s``), given back at the end; dropped if the database failed under it."""
    lazy = LazyConnection(pool, wait_s)
    try:
        yield lazy
    except DB_DOWN:
        lazy.drop()
        raise
    finally:
        await lazy.release()
