"""Abuse limits: request rates, sign-in backoff, and tag-code probing.

* **Rates** (Litestar's RateLimitMiddleware, per process): sign-in and enrollment per
  client address; verification per bearer token (one phone), so that one caller cannot
  flood the record. Over the limit: 429 with Retry-After (and a STOP body on verify).
* **Sign-in backoff** (PostgreSQL, shared by every process): after
  ``signin_max_failures`` failed sign-ins of one account within
  ``signin_failure_window_s``, the account refuses sign-in for ``signin_backoff_s``,
  doubling with each further failure (capped at the window), with 429 + Retry-After.
  The refusal comes before the password is checked, so it also costs no argon2 work.
* **Code probing** (per process): tag codes are 84-bit random, so guessing one is
  hopeless, but a burst of unknown or mistyped codes from one token is still a signal.
  After ``probe_max_codes`` of them within ``probe_window_s``, every scan from that
  token answers 429 with a STOP body until the window ends, and one ``code_probing``
  incident is opened in the scanning production.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request
from litestar.exceptions import HTTPException
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.stores.base import Store

from api.settings import Settings
from api.sql import q

__all__ = [
    "PROBE_REASONS",
    "SIGNIN_PATHS",
    "VERIFY_PATHS",
    "check_signin_backoff",
    "clear_signin_failures",
    "email_key",
    "note_probe",
    "probe_retry_after",
    "probe_store",
    "rate_limits",
    "record_signin_failure",
]

#: Paths that take a credential in the body: limited per client address.
SIGNIN_PATHS = frozenset({"/api/v1/auth/sign-in", "/api/v1/auth/enroll"})
#: Paths that record a verification: limited per bearer token.
VERIFY_PATHS = frozenset({"/api/v1/verify"})
#: Server reasons that mean "this code is not a registered tag" (what a prober sees).
PROBE_REASONS = frozenset({"unknown_code", "bad_check_character", "bad_format"})

_PROBE_STORE = "propcheck_probe"


def _token_identity(request: Request[Any, Any, Any]) -> str:
    """The bearer token's hash (never the token itself), or the address without one."""
    header = request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip()
    if not token:
        return f"verify-ip:{get_remote_address(request)}"
    return "verify:" + hashlib.sha256(token.encode()).hexdigest()[:32]


# The middleware runs its check on every request. These are coroutines on purpose:
# Litestar runs a plain function given here in a worker thread, a thread hop per request
# per limit, which cost about as much CPU as a whole verify (measured: bench verify).
async def _is_signin(request: Request[Any, Any, Any]) -> bool:
    return request.url.path in SIGNIN_PATHS


async def _is_verify(request: Request[Any, Any, Any]) -> bool:
    return request.url.path in VERIFY_PATHS


def rate_limits(settings: Settings) -> list[RateLimitConfig]:
    """The request-rate limits of the app (a limit of 0 is off)."""
    out = []
    if settings.rate_signin_per_min > 0:
        out.append(
            RateLimitConfig(
                rate_limit=("minute", settings.rate_signin_per_min),
                identifier_for_request=lambda r: f"signin:{get_remote_address(r)}",
                check_throttle_handler=_is_signin,
                store="propcheck_rate_signin",
            )
        )
    if settings.rate_verify_per_s > 0:
        # Per second: the middleware keeps one timestamp per request of the window, so a
        # short window keeps that cheap on the hottest path.
        out.append(
            RateLimitConfig(
                rate_limit=("second", settings.rate_verify_per_s),
                identifier_for_request=_token_identity,
                check_throttle_handler=_is_verify,
                store="propcheck_rate_verify",
            )
        )
    return out


def email_key(email: str) -> bytes:
    """How the failure table names an account: SHA-256 of the lower-cased e-mail."""
    return hashlib.sha256(email.strip().lower().encode()).digest()


def _too_many(detail: str, retry_after: float) -> HTTPException:
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
        raise _too_many(
            "Too many failed sign-ins for this account. Wait, then try again.", remaining
        )


async def record_signin_failure(conn: asyncpg.Connection, key: bytes) -> None:
    """Count one failed sign-in of the account."""
    await conn.execute(q("record_signin_failure"), key)


async def clear_signin_failures(conn: asyncpg.Connection, key: bytes) -> None:
    """A successful sign-in forgets the account's failures."""
    await conn.execute(q("clear_signin_failures"), key)


class _Probe(msgspec.Struct, frozen=True):
    n: int
    until: float


# One lock per store (that is, per app and so per event loop): get and set are two
# awaits, and counts must not be lost between them. Keyed by id, holding the store so
# that the id cannot be reused (Litestar's stores take no weak references).
_locks: dict[int, tuple[Store, asyncio.Lock]] = {}


def _lock(store: Store) -> asyncio.Lock:
    held = _locks.get(id(store))
    if held is None or held[0] is not store:
        held = _locks[id(store)] = (store, asyncio.Lock())
    return held[1]


async def _load(store: Store, key: str) -> _Probe | None:
    raw = await store.get(key)
    if raw is None:
        return None
    probe = msgspec.json.decode(raw, type=_Probe)
    return probe if probe.until > time.time() else None


async def probe_retry_after(store: Store, token_id: UUID, settings: Settings) -> float | None:
    """Seconds until this token may scan again, or None when it is not throttled."""
    if settings.probe_max_codes <= 0:
        return None
    probe = await _load(store, f"probe:{token_id}")
    if probe is None or probe.n < settings.probe_max_codes:
        return None
    return probe.until - time.time()


async def note_probe(store: Store, token_id: UUID, settings: Settings) -> int | None:
    """Count one unknown or mistyped code from this token.

    Returns the count exactly once per window, when it reaches the limit (the caller
    records the incident then); None otherwise.
    """
    if settings.probe_max_codes <= 0:
        return None
    key = f"probe:{token_id}"
    async with _lock(store):
        probe = await _load(store, key) or _Probe(n=0, until=time.time() + settings.probe_window_s)
        probe = _Probe(n=probe.n + 1, until=probe.until)
        await store.set(
            key, msgspec.json.encode(probe), expires_in=max(1, math.ceil(probe.until - time.time()))
        )
    return probe.n if probe.n == settings.probe_max_codes else None


def probe_store(request: Request[Any, Any, Any]) -> Store:
    """This process's store of probe counts."""
    return request.app.stores.get(_PROBE_STORE)
