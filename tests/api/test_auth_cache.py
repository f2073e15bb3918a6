"""The in-process token cache (api/auth.py): a sign-out or expiry elsewhere takes effect
within auth_cache_s, and a host that slept does not stretch that."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import pytest
from litestar.exceptions import NotAuthorizedException

from api import auth
from api.sql import q
from tests.conftest import World

pytestmark = pytest.mark.asyncio


class _Request:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = {k.lower(): v for k, v in headers.items()}


async def test_a_token_signed_out_elsewhere_is_refused_after_the_host_slept(
    world: World,
    db: asyncpg.Connection,
    app_pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = app_pool
    # A token of its own (the world's are shared with other tests): the scanner's
    # account signed in once more.
    token = auth.new_secret("pct")
    await db.fetchrow(
        q("insert_token"),
        auth.hash_secret(token),
        await db.fetchval(
            "SELECT user_id FROM tokens WHERE token_hash = $1",
            auth.hash_secret(world.tokens["scanner"]),
        ),
        None,
        None,
        3600,
    )
    request: Any = _Request({"Authorization": f"Bearer {token}"})
    auth.forget_all()
    try:
        who = await auth.resolve_principal(request, pool, 5.0, wait_s=5.0)
        # Signed out by another API process: this one's cache does not know yet.
        await db.execute(
            "UPDATE tokens SET revoked_at = now() WHERE token_hash = $1", auth.hash_secret(token)
        )
        assert await auth.resolve_principal(request, pool, 5.0, wait_s=5.0) == who
        # The host sleeps for an hour: its monotonic clock stands still, the wall
        # clock goes on. The cached entry is past its time and the token is refused.
        woke = time.time() + 3600
        monkeypatch.setattr("api.clock.time.time", lambda: woke)
        with pytest.raises(NotAuthorizedException):
            await auth.resolve_principal(request, pool, 5.0, wait_s=5.0)
    finally:
        auth.forget_all()
