"""Signed attestations: "this production had this status at this point of its record".

An attestation states a production's firearm-free status with every reason, the time,
and the chain head (seq and hash of the last event) it was computed against, signed
with Ed25519. Anyone holding it can later show that the record then ended at that hash:
an export or database whose chain does not pass through it was rewritten.

The signature covers the UTF-8 bytes of the ``attestation`` object serialised with keys
sorted and no white space (RFC 8785 canonical JSON; every value is a string, an integer,
a boolean, null, a list or an object). The private key lives outside the database:
PROPCHECK_SIGNING_KEY (a PEM file path, or base64 of the 32 raw private key bytes), or a
key file created on first use under settings.key_dir with mode 0600. The public key is
served at /.well-known/propcheck-attestation-key.

Who may request one: anyone who can read the production. An attestation reveals
nothing the status endpoint does not, and studio staff, production auditors and prop
masters all have reasons to hand one to an insurer or a union representative.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from litestar import Controller, get, post
from litestar.datastructures import State

from api.auth import Perm, Principal
from api.state import AUTHED, services
from api.status import production_status

__all__ = [
    "ATTESTATION_FORMAT",
    "AttestationCheck",
    "AttestationController",
    "PublicKeyOut",
    "WellKnownController",
    "check_attestation",
    "key_id",
    "load_public_key",
    "load_signing_key",
    "make_attestation",
    "public_key_out",
]

ATTESTATION_FORMAT = "propcheck-attestation"
_KEY_FILE = "attestation-ed25519.pem"
_canonical = msgspec.json.Encoder(order="sorted")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: ``ed25519:`` + 16 hex of its SHA-256."""
    return "ed25519:" + hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def _from_pem(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key is not an Ed25519 key")
    return key


def _create_key_file(path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not each write their own key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())


@lru_cache(maxsize=4)
def load_signing_key(key_dir: Path, configured: str | None = None) -> Ed25519PrivateKey:
    """The signing key: ``configured`` (PEM path or base64 raw), else the key file.

    ``configured`` defaults to PROPCHECK_SIGNING_KEY. The key file is created on first
    use under ``key_dir`` (mode 0600), never in the database, so a database backup never
    carries the means to forge attestations.
    """
    value = os.environ.get("PROPCHECK_SIGNING_KEY", "") if configured is None else configured
    value = value.strip()
    if value:
        path = Path(value)
        if path.is_file():
            return _from_pem(path.read_bytes())
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise ValueError("PROPCHECK_SIGNING_KEY is neither a file nor base64") from exc
        if len(raw) != 32:
            raise ValueError("PROPCHECK_SIGNING_KEY must be 32 raw bytes in base64")
        return Ed25519PrivateKey.from_private_bytes(raw)
    path = key_dir / _KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return _from_pem(path.read_bytes())


class PublicKeyOut(msgspec.Struct, frozen=True, kw_only=True):
    """The attestation public key, as served at the well-known URL."""

    algorithm: str
    key_id: str
    #: base64 of the 32 raw public key bytes
    public_key: str
    pem: str


def public_key_out(key: Ed25519PublicKey) -> PublicKeyOut:
    """The public key in every form a checker may want."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return PublicKeyOut(
        algorithm="Ed25519",
        key_id=key_id(key),
        public_key=base64.b64encode(_raw_public(key)).decode(),
        pem=pem,
    )


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A public key from the well-known JSON, a PEM file, or base64 raw bytes."""
    text = data.strip()
    if text.startswith(b"{"):
        doc = msgspec.json.decode(text)
        text = str(doc.get("public_key", "")).encode()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    raw = base64.b64decode(text, validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


def make_attestation(key: Ed25519PrivateKey, attestation: dict[str, Any]) -> dict[str, Any]:
    """Sign an attestation object; returns the envelope a client stores."""
    public = key.public_key()
    body = {**attestation, "key_id": key_id(public)}
    body = msgspec.json.decode(_canonical.encode(body))  # exactly what a checker will see
    signature = key.sign(_canonical.encode(body))
    return {
        "attestation": body,
        "signature": base64.b64encode(signature).decode(),
        "public_key": base64.b64encode(_raw_public(public)).decode(),
    }


class AttestationCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of checking an attestation offline."""

    ok: bool
    #: The signature was checked against a key the caller supplied (not only the one
    #: embedded in the document, which anyone could have made).
    trusted_key: bool
    key_id: str | None
    problem: str | None = None
    attestation: dict[str, Any] | None = None


def check_attestation(data: bytes, key: Ed25519PublicKey | None = None) -> AttestationCheck:
    """Check an attestation envelope's signature, with ``key`` or its embedded key."""
    try:
        envelope = msgspec.json.decode(data)
        body = envelope["attestation"]
        signature = base64.b64decode(envelope["signature"], validate=True)
        claimed = body["key_id"]
        if body.get("format") != ATTESTATION_FORMAT:
            raise ValueError("not a propcheck attestation")
    except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
        return AttestationCheck(ok=False, trusted_key=False, key_id=None, problem=str(exc))
    trusted = key is not None
    if key is None:
        try:
            key = Ed25519PublicKey.from_public_bytes(
                base64.b64decode(envelope.get("public_key", ""), validate=True)
            )
        except ValueError as exc:
            return AttestationCheck(
                ok=False, trusted_key=False, key_id=claimed, problem=f"no usable key: {exc}"
            )
    if key_id(key) != claimed:
        return AttestationCheck(
            ok=False,
            trusted_key=trusted,
            key_id=claimed,
            problem=f"signed by key {claimed}, but the key given is {key_id(key)}",
        )
    try:
        key.verify(signature, _canonical.encode(body))
    except InvalidSignature:
        return AttestationCheck(
            ok=False,
            trusted_key=trusted,
            key_id=claimed,
            problem="the signature does not match: the document was changed",
        )
    return AttestationCheck(ok=True, trusted_key=trusted, key_id=claimed, attestation=body)


class AttestationController(Controller):
    """Signed statements of a production's status."""

    path = "/api/v1/productions/{production_id:uuid}/attestations"
    tags = ["record"]
    dependencies = AUTHED

    @post("/", operation_id="attestProduction", status_code=201)
    async def attest(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection, state: State
    ) -> dict[str, Any]:
        """A signed statement of the production's firearm-free status, every reason, the
        time and the chain head it was computed against (anyone who can read it)."""
        principal.require(production_id, Perm.READ)
        # One snapshot: the reasons and the chain head describe the same moment.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            status = await production_status(conn, production_id)
        body = {
            "format": ATTESTATION_FORMAT,
            "version": 1,
            "production": {
                "id": status.production_id,
                "name": status.name,
                "studio_id": status.studio_id,
                "archived": status.archived,
            },
            "status": status.status,
            "firearm_free": status.firearm_free,
            "reasons": status.reasons,
            "at": status.checked_at,
            "chain_head": status.chain_head,
            "requested_by": principal.actor,
        }
        key = load_signing_key(services(state).settings.key_dir)
        return make_attestation(key, msgspec.to_builtins(body))


class WellKnownController(Controller):
    """Public, unauthenticated documents."""

    path = "/.well-known"
    tags = ["record"]

    @get("/propcheck-attestation-key", operation_id="attestationKey")
    async def attestation_key(self, state: State) -> PublicKeyOut:
        """The public key that checks this installation's attestations."""
        key = load_signing_key(services(state).settings.key_dir)
        return public_key_out(key.public_key())
