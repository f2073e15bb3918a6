"""Health check for load balancers."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from api.state import services

__all__ = ["health"]


@get("/health", operation_id="health", tags=["health"])
async def health(state: State) -> Response[dict[str, Any]]:
    """200 when the database answers within a second, 503 otherwise."""
    svc = services(state)
    try:
        async with asyncio.timeout(1.0):
            await svc.pool.fetchval("SELECT 1")
    except Exception:
        return Response(
            {"status": "unavailable", "database": False},
            status_code=503,
            headers={"Retry-After": "2"},
        )
    return Response({"status": "ok", "database": True}, status_code=200)
