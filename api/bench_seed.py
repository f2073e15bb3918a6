"""Bulk seed for the benchmark and the reliability tests: a production of N items.

Registering 10,000 items through the API would take minutes; this writes the same rows
with a few set-based statements instead. The record stays honest: every item still gets
its ``item.registered``, ``tag.issued`` and ``inspection.recorded`` events, appended by
the same database function (propcheck_append_event) as the API uses, so the chain the
benchmark later checks is a real one. What differs from a real registration: the
events are appended in bulk per kind (registration events first, then tags, then
inspections) and every item shares one photo blob.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import time
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api import auth
from api.events import append, canonical
from api.seed import app_connection, create_admin
from api.sql import q
from verifier import codes

__all__ = ["Seeded", "add_member", "seed_production"]

# Events per call of propcheck_append_events (one chain-head update each).
_EVENT_BATCH = 1000
# The shared photo: its SHA-256 needs no blob for a verify (only URLs are signed).
_PHOTO_SHA = "0" * 63 + "1"


class Seeded(msgspec.Struct, kw_only=True):
    """A seeded production: ids, tokens by role, and every active tag code."""

    studio_id: UUID
    production_id: UUID
    tokens: dict[str, str]
    codes: list[str]
    item_ids: list[UUID]


async def add_member(
    conn: asyncpg.Connection,
    studio_id: UUID,
    production_id: UUID,
    role: str,
    email: str,
    *,
    token_hours: float = 12.0,
) -> str:
    """A new account with ``role`` in the production; returns a bearer token for it."""
    async with conn.transaction():
        user = await conn.fetchrow(
            q("insert_user"), email, role, auth.hash_password(secrets.token_urlsafe(12))
        )
        await append(conn, studio_id, "account.created", "bench", user["id"], {"email": email})
        await conn.fetchval(q("upsert_production_member"), production_id, user["id"], role)
        await append(
            conn,
            production_id,
            "member.added",
            "bench",
            user["id"],
            {"email": email, "role": role},
        )
    token = auth.new_secret("pct")
    await conn.fetchrow(
        q("insert_token"), auth.hash_secret(token), user["id"], None, None, token_hours * 3600
    )
    return token


async def _append_bulk(
    conn: asyncpg.Connection, chain: UUID, kind: str, actor: str, events: list[tuple[UUID, Any]]
) -> None:
    for start in range(0, len(events), _EVENT_BATCH):
        part = events[start : start + _EVENT_BATCH]
        async with conn.transaction():
            await conn.fetchval(
                q("bv_append_events"),
                chain,
                kind,
                actor,
                [s for s, _ in part],
                [canonical(b) for _, b in part],
            )


async def seed_production(dsn: str, *, items: int, label: str | None = None) -> Seeded:
    """A studio and production with ``items`` tagged, inspected items, and a token per
    role (prop_master, scanner, auditor). ``dsn`` may be a superuser's: every write
    goes through the application role, like the API's."""
    label = label or secrets.token_hex(4)
    admin = await create_admin(
        dsn, f"bench-admin-{label}@bench.test", secrets.token_urlsafe(12), f"Bench {label}"
    )
    studio_id = UUID(admin["studio_id"])
    conn = await app_connection(dsn)
    try:
        async with conn.transaction():
            prod = await conn.fetchrow(
                q("insert_production"),
                studio_id,
                f"Bench production {label}",
                time(23, 0),
                "UTC",
                "{}",
            )
            production_id: UUID = prod["id"]
            await append(
                conn, production_id, "production.created", "bench", production_id, {"name": label}
            )
        tokens = {
            role: await add_member(
                conn, studio_id, production_id, role, f"{role}-{label}@bench.test"
            )
            for role in ("prop_master", "scanner", "auditor")
        }
        actor_id = await conn.fetchval(q("user_id_by_email"), f"prop_master-{label}@bench.test")
        actor = f"user:{actor_id}"
        item_ids = [uuid.uuid4() for _ in range(items)]
        photo_ids = [uuid.uuid4() for _ in range(items)]
        tag_ids = [uuid.uuid4() for _ in range(items)]
        inspection_ids = [uuid.uuid4() for _ in range(items)]
        tag_codes = [codes.new_code() for _ in range(items)]
        async with conn.transaction():
            await conn.execute(q("bv_insert_items"), item_ids, production_id, actor_id)
            await conn.execute(
                q("bv_insert_photos"), photo_ids, item_ids, production_id, _PHOTO_SHA, actor
            )
            await conn.execute(
                q("bv_insert_tags"), tag_ids, tag_codes, item_ids, production_id, actor
            )
            await conn.execute(
                q("bv_insert_inspections"), inspection_ids, item_ids, production_id, actor
            )
        n = range(items)
        registered = [
            (
                item_ids[i],
                {
                    "item": {
                        "id": item_ids[i],
                        "name": f"Bench prop #{i + 1}",
                        "capability_class": "non_firing_replica",
                        "status": "active",
                    },
                    "photos": [photo_ids[i]],
                },
            )
            for i in n
        ]
        await _append_bulk(conn, production_id, "item.registered", actor, registered)
        issued = [(item_ids[i], {"tag_id": tag_ids[i], "code": tag_codes[i]}) for i in n]
        await _append_bulk(conn, production_id, "tag.issued", actor, issued)
        inspected = [
            (
                item_ids[i],
                {
                    "inspection_id": inspection_ids[i],
                    "kind": "before_use",
                    "result": "pass",
                    "notes": "bench inspection",
                    "photo_id": None,
                    "client_id": None,
                },
            )
            for i in n
        ]
        await _append_bulk(conn, production_id, "inspection.recorded", actor, inspected)
    finally:
        await conn.close()
    admin_conn = await asyncpg.connect(dsn)
    try:
        # Fresh statistics, so the first minute of load runs on the plans a live
        # database would have.
        await admin_conn.execute(q("bv_analyze"))
    finally:
        await admin_conn.close()
    return Seeded(
        studio_id=studio_id,
        production_id=production_id,
        tokens=tokens,
        codes=tag_codes,
        item_ids=item_ids,
    )
