"""Signed attestations: made online, checked offline, and any change to them is caught."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar.testing import AsyncTestClient

from api.attest import check_attestation, key_id, load_public_key, load_signing_key
from tests.conftest import World


async def _attest(client: AsyncTestClient[Any], w: World, role: str = "auditor") -> Any:
    return await client.post(
        f"/api/v1/productions/{w.production_id}/attestations", headers=w.h(role)
    )


async def test_attestation_states_status_and_chain_head_and_checks_offline(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection
) -> None:
    r = await _attest(client, world)
    assert r.status_code == 201, r.text
    envelope = r.json()
    body = envelope["attestation"]
    assert body["format"] == "propcheck-attestation"
    assert body["production"]["id"] == world.production_id
    assert body["status"] in ("FIREARM-FREE", "AT RISK", "NOT FIREARM-FREE")
    head = await db.fetchrow(
        "SELECT seq, hash FROM events WHERE chain_id = $1::uuid AND seq = $2",
        world.production_id,
        body["chain_head"]["seq"],
    )
    assert head["hash"] == body["chain_head"]["hash"]  # the head is a real event

    published = await client.get("/.well-known/propcheck-attestation-key")
    assert published.status_code == 200
    assert published.json()["key_id"] == body["key_id"]
    key = load_public_key(published.content)
    raw = json.dumps(envelope).encode()
    check = check_attestation(raw, key)
    assert check.ok and check.trusted_key
    embedded = check_attestation(raw)
    assert embedded.ok and not embedded.trusted_key


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.update(status="FIREARM-FREE", reasons=[], firearm_free=True),
        lambda b: b["chain_head"].update(seq=b["chain_head"]["seq"] + 1),
        lambda b: b.update(at="2020-01-01T00:00:00Z"),
    ],
)
async def test_a_changed_attestation_fails(
    client: AsyncTestClient[Any], world: World, edit: Any
) -> None:
    envelope = (await _attest(client, world)).json()
    if envelope["attestation"]["status"] == "FIREARM-FREE":
        envelope["attestation"]["status"] = "AT RISK"  # the first edit must change something
    else:
        edit(envelope["attestation"])
    check = check_attestation(json.dumps(envelope).encode())
    assert not check.ok and "changed" in (check.problem or "")


async def test_a_foreign_key_is_refused(client: AsyncTestClient[Any], world: World) -> None:
    envelope = (await _attest(client, world)).json()
    other = Ed25519PrivateKey.generate().public_key()
    check = check_attestation(json.dumps(envelope).encode(), other)
    assert not check.ok and key_id(other) in (check.problem or "")
    # Re-signing with another key and embedding it cannot pass as the published key.
    forger = Ed25519PrivateKey.generate()
    from api.attest import make_attestation

    forged = make_attestation(forger, {**envelope["attestation"], "status": "FIREARM-FREE"})
    published = load_public_key(
        (await client.get("/.well-known/propcheck-attestation-key")).content
    )
    assert check_attestation(json.dumps(forged).encode()).ok  # self-consistent...
    assert not check_attestation(json.dumps(forged).encode(), published).ok  # ...but not ours


async def test_who_may_attest(client: AsyncTestClient[Any], world: World) -> None:
    for role in ("scanner", "prop_master", "studio_auditor"):
        assert (await _attest(client, world, role)).status_code == 201, role
    for role in ("q_prop_master", "other_studio_admin"):
        assert (await _attest(client, world, role)).status_code == 404, role


def test_key_file_is_private_and_stable(tmp_path: Path) -> None:
    a = load_signing_key(tmp_path / "keys", "")
    mode = stat.S_IMODE((tmp_path / "keys" / "attestation-ed25519.pem").stat().st_mode)
    assert mode == 0o600
    load_signing_key.cache_clear()
    b = load_signing_key(tmp_path / "keys", "")
    assert key_id(a.public_key()) == key_id(b.public_key())


def test_configured_key_wins(tmp_path: Path) -> None:
    raw = bytes(range(32))
    key = load_signing_key(tmp_path, base64.b64encode(raw).decode())
    assert key_id(key.public_key()) == key_id(
        Ed25519PrivateKey.from_private_bytes(raw).public_key()
    )
    assert not (tmp_path / "attestation-ed25519.pem").exists()
    with pytest.raises(ValueError):
        load_signing_key(tmp_path, "not-base64-and-not-a-file")
