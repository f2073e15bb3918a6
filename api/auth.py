"""Who is calling, and what they may do where.

Tokens are opaque random strings; the database stores only their SHA-256. A resolved
token is cached in-process for a few seconds (settings.auth_cache_s) so that a verify
costs no extra round trip; sign-out clears this process's cache at once, and other
processes within that delay.

Access is decided per production. A caller who cannot see a production gets 404 for
anything in it (never 403, which would confirm that it exists); a caller who can see it
but lacks the permission gets 403.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar import Request
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException

from api import clock
from api.connections import lazily
from api.sql import q

__all__ = [
    "Perm",
    "Principal",
    "check_password",
    "forget_token",
    "hash_password",
    "hash_secret",
    "new_secret",
    "resolve_principal",
]

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A real hash to compare against when the e-mail is unknown, so timing does not tell.
_DUMMY_HASH = _hasher.hash("propcheck-dummy-password")


class Perm(StrEnum):
    """What a role may do in a production."""

    READ = "read"  # see the production, items, records
    VERIFY = "verify"  # verify, confirm, report incidents
    ACT = "act"  # prop master work: register, tag, inspect, hand off, resolve, policy
    ADMIN = "admin"  # studio admin: production settings, archive, members


_ROLE_PERMS: dict[str, frozenset[Perm]] = {
    "prop_master": frozenset({Perm.READ, Perm.VERIFY, Perm.ACT}),
    "scanner": frozenset({Perm.READ, Perm.VERIFY}),
    "auditor": frozenset({Perm.READ}),
    "studio_admin": frozenset({Perm.READ, Perm.ADMIN}),
    "studio_auditor": frozenset({Perm.READ}),
}


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller."""

    token_id: UUID
    user_id: UUID | None
    email: str | None
    device_name: str | None
    studio_roles: dict[str, str]
    production_roles: dict[str, list[str]]
    #: The productions this caller may verify in (worked out once per token, not per
    #: scan: see resolve_principal).
    verifying: tuple[UUID, ...] = ()

    @property
    def actor(self) -> str:
        """How the record names this caller."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"device:{self.token_id}"

    def perms(self, production_id: UUID) -> frozenset[Perm]:
        """Everything this caller may do in one production (empty: cannot see it)."""
        roles = self.production_roles.get(str(production_id), [])
        out: frozenset[Perm] = frozenset()
        for role in roles:
            out |= _ROLE_PERMS.get(role, frozenset())
        return out

    def require(self, production_id: UUID, perm: Perm) -> None:
        """Raise 404 when the production is invisible to the caller, 403 when not allowed."""
        perms = self.perms(production_id)
        if not perms:
            raise NotFoundException("Not found.")
        if perm not in perms:
            raise PermissionDeniedException(f"Your role may not do this ({perm.value}).")

    def studio_role(self, studio_id: UUID) -> str | None:
        """The caller's studio-wide role, if any."""
        return self.studio_roles.get(str(studio_id))


def new_secret(prefix: str) -> str:
    """A fresh opaque secret (256 bits) with a readable prefix."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> bytes:
    """What the database stores for a token or enrollment code."""
    return hashlib.sha256(secret.encode()).digest()


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    """Constant-effort password check; an unknown user still costs one hash."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


#: token hash -> (when resolved, for how many seconds it may be reused, caller). The
#: age is api/clock.py's: a host that slept does not keep a token that expired or was
#: signed out meanwhile.
_cache: dict[bytes, tuple[clock.Stamp, float, Principal]] = {}
_CACHE_MAX = 10_000


def forget_token(token_hash: bytes) -> None:
    """Drop a token from this process's cache (sign-out)."""
    _cache.pop(token_hash, None)


def forget_all() -> None:
    """Drop every cached token (after membership changes in this process)."""
    _cache.clear()


def _bearer(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("Sign in first: send 'Authorization: Bearer <token>'.")
    token = token.strip()
    if len(token) > 200 or not token.isascii():
        raise NotAuthorizedException("The token is not valid.")
    return token


async def resolve_principal(
    request: Request[Any, Any, Any], pool: asyncpg.Pool, ttl: float, wait_s: float
) -> Principal:
    """The caller of ``request``, from the cache or the database; 401 when unknown.

    ``wait_s`` bounds the wait for a pooled connection (settings.db_timeout_s).
    """
    token_hash = hash_secret(_bearer(request))
    now = clock.stamp()
    hit = _cache.get(token_hash)
    if hit is not None and (age := clock.elapsed(hit[0])) is not None and age < hit[1]:
        return hit[2]
    async with lazily(pool, wait_s) as db:
        row = await (await db.get()).fetchrow(q("principal_by_token"), token_hash)
    if row is None:
        _cache.pop(token_hash, None)
        raise NotAuthorizedException("The token is unknown, expired or signed out.")
    principal = Principal(
        token_id=row["token_id"],
        user_id=row["user_id"],
        email=row["email"],
        device_name=row["device_name"],
        studio_roles=msgspec.json.decode(row["studio_roles"]),
        production_roles=msgspec.json.decode(row["production_roles"]),
    )
    principal = msgspec.structs.replace(
        principal,
        verifying=tuple(
            UUID(p) for p in principal.production_roles if Perm.VERIFY in principal.perms(UUID(p))
        ),
    )
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    # Never cache past the token's own expiry.
    keep = max(0.0, min(ttl, row["expires_at"].timestamp() - now[1]))
    _cache[token_hash] = (now, keep, principal)
    return principal
