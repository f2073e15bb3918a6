"""The production snapshot a phone keeps for offline verdicts.

It holds exactly the facts verifier.rules needs (pwa/js/rules.js offline), the policy,
and the server time it was taken at; the phone refuses to clear anything once the
snapshot is older than the policy allows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from api.auth import Perm, Principal
from api.media import media_url
from api.sql import q
from api.state import AUTHED, services
from verifier import codes
from verifier.rules import Policy

__all__ = ["SnapshotController"]


class SnapshotItem(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    name: str
    capability_class: str
    status: str
    make: str
    model: str
    distinctive_marks: list[str]
    has_evidence: bool
    last_passed_inspection_at: datetime | None
    last_incident_at: datetime | None
    class_changed_at: datetime | None
    open_incidents: int
    checked_out_to: str | None
    last_returned_at: datetime | None
    thumb_url: str | None
    display_url: str | None


class SnapshotTag(msgspec.Struct, kw_only=True, frozen=True):
    code: str
    display: str
    item_id: UUID
    status: str


class Snapshot(msgspec.Struct, kw_only=True, frozen=True):
    production_id: UUID
    production_name: str
    production_status: str
    policy: Policy
    #: Server time when the snapshot was read; its age is measured from this.
    taken_at: datetime
    items: list[SnapshotItem]
    tags: list[SnapshotTag]


class SnapshotController(Controller):
    """Offline data for phones."""

    path = "/api/v1/productions/{production_id:uuid}/snapshot"
    tags = ["offline"]
    dependencies = AUTHED

    @get("/", operation_id="getSnapshot")
    async def snapshot(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection, state: State
    ) -> Snapshot:
        """Everything a phone needs to compute verdicts offline for this production."""
        principal.require(production_id, Perm.VERIFY)
        key = services(state).media_key
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            prod = await conn.fetchrow(q("production_by_id"), production_id)
            taken_at = await conn.fetchval(q("db_now"))
            items = await conn.fetch(q("snapshot_items"), production_id)
            tags = await conn.fetch(q("snapshot_tags"), production_id)

        def item(r: asyncpg.Record) -> SnapshotItem:
            photo: dict[str, Any] | None = (
                msgspec.json.decode(r["photo"]) if r["photo"] is not None else None
            )
            fields = dict(r)
            fields.pop("photo")
            return SnapshotItem(
                **fields,
                thumb_url=media_url(key, photo["thumb_sha"]) if photo else None,
                display_url=media_url(key, photo["display_sha"]) if photo else None,
            )

        return Snapshot(
            production_id=production_id,
            production_name=prod["name"],
            production_status=prod["status"],
            policy=msgspec.json.decode(prod["policy"], type=Policy),
            taken_at=taken_at,
            items=[item(r) for r in items],
            tags=[
                SnapshotTag(
                    code=t["code"],
                    display=codes.format_code(t["code"]),
                    item_id=t["item_id"],
                    status=t["status"],
                )
                for t in tags
            ],
        )
