"""Abuse limits: request rates, sign-in backoff, and tag-code probing.

* **Rates** (the ``limits`` library's moving window, in this process's memory):
  sign-in and enrollment per client address; verification per bearer token (one
  phone), so that one caller cannot flood the record. Over the limit: 429 with
  Retry-After (and a STOP body on verify).
* **Sign-in backoff** (PostgreSQL, shared by every process): after
  ``signin_max_failures`` failed sign-ins of one account within
  ``signin_failure_window_s``, the account refuses sign-in for ``signin_backoff_s``,
  doubling with each further failure (capped at the window), with 429 + Retry-After.
  The refusal comes before the password is checked, so it also costs no argon2 work.
* **Code probing** (per process, a fixed window): tag codes are 84-bit random, so
  guessing one is hopeless, but a burst of unknown or mistyped codes from one token is
  still a signal. After ``probe_max_codes`` of them within ``probe_window_s``, every
  scan from that token answers 429 with a STOP body until the window ends, and one
  ``code_probing`` incident is opened in the scanning production.

Why ``limits`` (its asyncio memory store, fixed windows) and not Litestar's
RateLimitMiddleware: the middleware ran on every request of the app and kept each
caller's history as JSON in an async store behind a lock, about 80 us of CPU per verify
(measured with ``propcheck bench verify``); a check here is a dictionary lookup of a few
microseconds, made only where a limit applies. Not its thread-based memory store: that
one starts a timer thread every few milliseconds under load, and starting a thread
blocks the event loop.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any
from uuid import UUID

import asyncpg
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from litestar import Request
from litestar.exceptions import HTTPException

from api.settings import Settings
from api.sql import q

__all__ = [
    "PROBE_REASONS",
    "Limits",
    "check_signin_backoff",
    "clear_signin_failures",
    "email_key",
    "limit_signin",
    "record_signin_failure",
    "too_many",
]

#: Server reasons that mean "this code is not a registered tag" (what a prober sees).
PROBE_REASONS = frozenset({"unknown_code", "bad_check_character", "bad_format"})


def _address(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else "unknown"


class Limits:
    """One app's request-rate and probe counters (a limit of 0 is off)."""

    def __init__(self, settings: Settings) -> None:
        self._fixed = FixedWindowRateLimiter(MemoryStorage())
        self._signin: RateLimitItem | None = None
        self._verify: RateLimitItem | None = None
        self._probe: RateLimitItem | None = None
        if settings.rate_signin_per_min > 0:
            self._signin = RateLimitItemPerMinute(settings.rate_signin_per_min)
        if settings.rate_verify_per_s > 0:
            self._verify = RateLimitItemPerSecond(settings.rate_verify_per_s)
        if settings.probe_max_codes > 0:
            window = max(1, math.ceil(settings.probe_window_s))
            self._probe = RateLimitItemPerSecond(settings.probe_max_codes, window)

    async def _retry_after(self, item: RateLimitItem, *ids: str) -> float:
        reset = (await self._fixed.get_window_stats(item, *ids)).reset_time
        return max(0.0, float(reset) - time.time())

    async def signin(self, request: Request[Any, Any, Any]) -> None:
        """Count a sign-in or enrollment request from its address; 429 over the limit."""
        if self._signin is None:
            return
        key = _address(request)
        if not await self._fixed.hit(self._signin, "signin", key):
            raise too_many(
                "Too many sign-in attempts from this address. Wait, then try again.",
                await self._retry_after(self._signin, "signin", key),
            )

    async def verify(self, token_id: UUID) -> None:
        """Count a verification from this token (one phone); 429 over the limit."""
        if self._verify is None:
            return
        key = str(token_id)
        if not await self._fixed.hit(self._verify, "verify", key):
            raise too_many(
                "Too many verifications from this phone. Wait a moment, then scan again.",
                await self._retry_after(self._verify, "verify", key),
            )

    async def probe_retry_after(self, token_id: UUID) -> float | None:
        """Seconds until this token may scan again, or None when it is not throttled."""
        if self._probe is None or await self._fixed.test(self._probe, "probe", str(token_id)):
            return None
        return await self._retry_after(self._probe, "probe", str(token_id))

    async def note_probe(self, token_id: UUID) -> int | None:
        """Count one unknown or mistyped code from this token.

        Returns the limit exactly once per window, on the code that reaches it (the
        caller records the incident then); None otherwise.
        """
        if self._probe is None:
            return None
        key = str(token_id)
        if not await self._fixed.hit(self._probe, "probe", key):
            return None
        if (await self._fixed.get_window_stats(self._probe, "probe", key)).remaining > 0:
            return None
        return self._probe.amount


async def limit_signin(request: Request[Any, Any, Any]) -> None:
    """before_request hook of the sign-in and enrollment routes: counted before the
    body is read, so malformed requests count too."""
    await request.app.state.services.limits.signin(request)


def email_key(email: str) -> bytes:
    """How the failure table names an account: SHA-256 of the lower-cased e-mail."""
    return hashlib.sha256(email.strip().lower().encode()).digest()


def too_many(detail: str, retry_after: float) -> HTTPException:
    """429 with Retry-After in whole seconds (at least 1)."""
    return HTTPException(
        status_code=429, detail=detail, headers={"Retry-After": str(max(1, math.ceil(retry_after)))}
    )


async def check_signin_backoff(conn: asyncpg.Connection, key: bytes, settings: Settings) -> None:
    """Raise 429 with Retry-After while the account is backing off after failures."""
    if settings.signin_max_failures <= 0:
        return
    row = await conn.fetchrow(q("signin_failures_recent"), key, settings.signin_failure_window_s)
    extra = row["n"] - settings.signin_max_failures
    if extra < 0:
        return
    lock_s = min(settings.signin_backoff_s * 2**extra, settings.signin_failure_window_s)
    remaining = (row["last"] - row["db_now"]).total_seconds() + lock_s
    if remaining > 0:
        raise too_many(
            "Too many failed sign-ins for this account. Wait, then try again.", remaining
        )


async def record_signin_failure(conn: asyncpg.Connection, key: bytes) -> None:
    """Count one failed sign-in of the account."""
    await conn.execute(q("record_signin_failure"), key)


async def clear_signin_failures(conn: asyncpg.Connection, key: bytes) -> None:
    """A successful sign-in forgets the account's failures."""
    await conn.execute(q("clear_signin_failures"), key)
