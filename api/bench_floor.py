"""The floor of this stack, for ``propcheck bench verify``: not product code.

A minimal Litestar app on the same ASGI server, pool settings and database as the
product, whose one endpoint decodes a JSON body and does one indexed SELECT of a tag
row. Whatever the product's verify costs beyond this is the product's own overhead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from uuid import UUID

import msgspec
from litestar import Litestar, get, post
from litestar.datastructures import State

from api.app import open_pool, tune_gc
from api.settings import get_settings
from api.sql import q

__all__ = ["create_app"]


class _CodeIn(msgspec.Struct, kw_only=True, frozen=True):
    code: str


class _TagOut(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID | None
    status: str | None
    production_id: UUID | None


@post("/floor", status_code=200)
async def floor(data: _CodeIn, state: State) -> _TagOut:
    """One indexed SELECT of a tag row by its code."""
    row = await state.pool.fetchrow(q("bv_floor_tag"), data.code)
    if row is None:
        return _TagOut(id=None, status=None, production_id=None)
    return _TagOut(id=row[0], status=row[1], production_id=row[2])


@get("/health")
async def health(state: State) -> dict[str, bool]:
    """Ready when the pool is open."""
    return {"ok": await state.pool.fetchval("SELECT true")}


def create_app() -> Litestar:
    """The floor app; DATABASE_URL must name the benchmark's database."""
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        app.state.pool = await open_pool(settings, settings.database_url)
        tune_gc()  # as the product does
        try:
            yield
        finally:
            await app.state.pool.close()

    return Litestar(route_handlers=[floor, health], lifespan=[lifespan], debug=False)
