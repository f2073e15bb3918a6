"""What a running API process holds: settings, the pool, the blob store, workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from api.auth import Principal, resolve_principal
from api.errors import DB_DOWN
from api.settings import Settings

__all__ = [
    "AUTHED",
    "ConnectionSource",
    "Held",
    "LazyConnection",
    "Services",
    "lazily_pooled",
    "pooled",
    "provide_conn",
    "provide_principal",
    "services",
]


class Services(msgspec.Struct, kw_only=True):
    """Process-wide services, created by the app's lifespan."""

    settings: Settings
    pool: asyncpg.Pool
    store: Any  # api.storage.BlobStore
    media_key: bytes
    decode_slots: asyncio.Semaphore
    executor: Any  # concurrent.futures.Executor for CPU-bound image work
    limits: Any  # api.abuse.Limits: this process's request-rate and probe counters
    facts: Any  # api.facts_cache.FactsCache: verdict facts of recently scanned tags


def services(state: State) -> Services:
    """The services of this process."""
    svc: Services = state.services
    return svc


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """Dependency: the authenticated caller (401 when absent or unknown)."""
    svc = services(state)
    return await resolve_principal(
        request, svc.pool, svc.settings.auth_cache_s, wait_s=svc.settings.db_timeout_s
    )


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
    written by the group commit's leader (api/recorder.py). A pool round (acquire, and a
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


@asynccontextmanager
async def lazily_pooled(svc: Services) -> AsyncIterator[LazyConnection]:
    """A pooled connection for the block, taken on first use; dropped if it failed."""
    lazy = LazyConnection(svc.pool, svc.settings.db_timeout_s)
    try:
        yield lazy
    except DB_DOWN:
        lazy.drop()
        raise
    finally:
        await lazy.release()


@asynccontextmanager
async def pooled(svc: Services) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection, waited for at most db_timeout_s; dropped if it failed."""
    async with lazily_pooled(svc) as lazy:
        yield await lazy.get()


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """Dependency: one pooled connection for the request."""
    async with pooled(services(state)) as conn:
        yield conn


async def provide_conn_after_auth(
    state: State, principal: Principal
) -> AsyncGenerator[asyncpg.Connection, None]:
    """The request's pooled connection, taken once the caller is known.

    Depending on the principal makes Litestar resolve the two one after the other, so a
    request with a bad token never takes a connection (resolved concurrently, a 401
    raised by the principal could leave the connection's clean-up unrun), and the
    hottest path saves a task group per request.
    """
    async with pooled(services(state)) as conn:
        yield conn


#: Dependencies of every authenticated controller: the caller, then a connection.
AUTHED: dict[str, Provide] = {
    "principal": Provide(provide_principal),
    "conn": Provide(provide_conn_after_auth),
}
