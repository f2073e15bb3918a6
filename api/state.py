"""What a running API process holds: settings, the pool, the blob store, workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from api.auth import Principal, resolve_principal
from api.connections import LazyConnection, lazily
from api.settings import Settings

__all__ = [
    "AUTHED",
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


@asynccontextmanager
async def lazily_pooled(svc: Services) -> AsyncIterator[LazyConnection]:
    """A pooled connection for the block, taken on first use; dropped if it failed."""
    async with lazily(svc.pool, svc.settings.db_timeout_s) as lazy:
        yield lazy


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
