"""Abuse limits: request rates, sign-in backoff, and tag-code probing.

* **Rates** (the ``limits`` library's fixed window, in this process's memory):
  sign-in and enrollment per client address; verification per bearer token (one
  phone), so that one caller cannot flood the record. Over the limit: 429 with
  Retry-After (and a STOP body on verify).
* **Sign-in backoff** (PostgreSQL, shared by every process): after
  ``signin_max_failures`` failed sign-ins of one account within
  ``signin_failure_window_s``, the account refuses sign-in for ``signin_backoff_s``,
  doubling with each further failure (capped at the window), with 429 + Retry-After.
  The refusal comes before the password is checked, so it also costs no argon2 work.
* **Code probing** (counted in PostgreSQL, shared by every process): tag codes are
  84-bit random, so guessing one is hopeless, but a burst of unknown or mistyped codes
  from one token is still a signal. After ``probe_max_codes`` of them within
  ``probe_window_s`` (a window that opens at the token's first such code), every scan
  from that token answers 429 with a STOP body until the window ends, and one
  ``code_probing`` incident is opened in the scanning production (the count and the
  incident in one transaction: exactly one scan reaches the limit). The pause itself is
  kept by each process, which pauses the token when it sees the shared count at or over
  the limit: a prober spread over N processes gets at most N - 1 more codes answered
  (each STOP, and recorded) before every process refuses it, rather than N times the
  limit with a count per process.

Why ``limits`` (its fixed-window strategy, on LoopStorage below) and not Litestar's
RateLimitMiddleware: the middleware ran on every request of the app and kept each
caller's history as JSON in an async store behind a lock, about 80 us of CPU per verify
(measured with ``propcheck bench verify``); a check here is a dictionary update, made
only where a limit applies.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any
from uuid import UUID

import asyncpg
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from litestar import Request
from litestar.exceptions import HTTPException
from litestar.middleware.rate_limit import get_remote_address

from api.settings import Settings
from api.sql import q

__all__ = [
    "PROBE_REASONS",
    "Limits",
    "LoopStorage",
    "check_signin_backoff",
    "clear_signin_failures",
    "email_key",
    "limit_signin",
    "record_signin_failure",
    "too_many",
]

#: Server reasons that mean "this code is not a registered tag" (what a prober sees).
PROBE_REASONS = frozenset({"unknown_code", "bad_check_character", "bad_format"})


class LoopStorage(Storage):
    """Fixed-window counters for ``limits`` in a plain dictionary, for one event loop.

    limits' own memory stores cost more than the check on the hottest path: the
    threaded one starts a timer thread every few milliseconds under load (starting a
    thread blocks the event loop), the asyncio one takes a lock and starts a task on
    every hit (about 40 us of the event loop's time per verify, measured with
    ``propcheck bench verify``). Here a hit is a dictionary update; everything runs on
    the event loop's thread, so nothing needs a lock; expired windows are dropped when
    read and, in bulk, when the dictionary grows.
    """

    STORAGE_SCHEME = ["propcheck-loop"]
    _SWEEP_AT = 50_000

    def __init__(self) -> None:
        super().__init__()
        self._windows: dict[str, tuple[float, int]] = {}

    @property
    def base_exceptions(self) -> type[Exception]:
        """What this store raises (nothing of its own)."""
        return ValueError

    def _live(self, key: str, now: float) -> tuple[float, int]:
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            return (0.0, 0)
        return window

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Count ``amount`` in the key's window, opening a window of ``expiry`` s."""
        now = time.time()
        ends, n = self._live(key, now)
        if n == 0:
            ends = now + expiry
            if len(self._windows) >= self._SWEEP_AT:
                self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
        self._windows[key] = (ends, n + amount)
        return n + amount

    def get(self, key: str) -> int:
        """The count in the key's current window."""
        return self._live(key, time.time())[1]

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (now when there is none)."""
        now = time.time()
        return self._live(key, now)[0] or now

    def check(self) -> bool:
        """Always reachable: it is this process's memory."""
        return True

    def reset(self) -> int:
        """Forget every window."""
        n = len(self._windows)
        self._windows.clear()
        return n

    def clear(self, key: str) -> None:
        """Forget one key's window."""
        self._windows.pop(key, None)


class Limits:
    """One app's request-rate counters and probe pauses (a limit of 0 is off)."""

    _SWEEP_AT = 50_000

    def __init__(self, settings: Settings) -> None:
        self._fixed = FixedWindowRateLimiter(LoopStorage())
        self._signin: RateLimitItem | None = None
        self._verify: RateLimitItem | None = None
        if settings.rate_signin_per_min > 0:
            self._signin = RateLimitItemPerMinute(settings.rate_signin_per_min)
        if settings.rate_verify_per_s > 0:
            self._verify = RateLimitItemPerSecond(settings.rate_verify_per_s)
        self._probe_max = max(0, settings.probe_max_codes)
        self.probe_window_s = max(1.0, settings.probe_window_s)
        # token -> time.monotonic() when its pause ends
        self._paused: dict[UUID, float] = {}

    def _retry_after(self, item: RateLimitItem, *ids: str) -> float:
        reset = self._fixed.get_window_stats(item, *ids).reset_time
        return max(0.0, float(reset) - time.time())

    def _count(self, item: RateLimitItem | None, scope: str, key: str, message: str) -> None:
        """Count one request of ``key`` against ``item`` (None: off); 429 over the limit."""
        if item is not None and not self._fixed.hit(item, scope, key):
            raise too_many(message, self._retry_after(item, scope, key))

    def signin(self, request: Request[Any, Any, Any]) -> None:
        """Count a sign-in or enrollment request from its address; 429 over the limit."""
        self._count(
            self._signin,
            "signin",
            get_remote_address(request),
            "Too many sign-in attempts from this address. Wait, then try again.",
        )

    def verify(self, token_id: UUID) -> None:
        """Count a verification from this token (one phone); 429 over the limit."""
        self._count(
            self._verify,
            "verify",
            str(token_id),
            "Too many verifications from this phone. Wait a moment, then scan again.",
        )

    @property
    def counts_probes(self) -> bool:
        """Whether unknown and mistyped codes are counted at all."""
        return self._probe_max > 0

    def probe_retry_after(self, token_id: UUID) -> float | None:
        """Seconds until this token may scan again, or None when it is not paused."""
        until = self._paused.get(token_id)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            del self._paused[token_id]
            return None
        return left

    def note_probe(self, token_id: UUID, count: int, left_s: float) -> int | None:
        """Take the token's shared count of unknown or mistyped codes (this one
        included) and the seconds left in its window: at or over the limit, the token
        is paused in this process until the window ends.

        Returns the limit for the code that reaches it exactly (the caller records the
        incident then: one per window, whichever process counted it); None otherwise.
        """
        if not self.counts_probes or count < self._probe_max:
            return None
        now = time.monotonic()
        if len(self._paused) >= self._SWEEP_AT:
            self._paused = {t: u for t, u in self._paused.items() if u > now}
        self._paused[token_id] = now + max(0.0, left_s)
        return self._probe_max if count == self._probe_max else None


async def limit_signin(request: Request[Any, Any, Any]) -> None:
    """before_request hook of the sign-in and enrollment routes: counted before the
    body is read, so malformed requests count too."""
    request.app.state.services.limits.signin(request)


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
