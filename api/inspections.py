"""Inspections (prop master) and the production's safety policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException

from api.archive import refuse_if_archived
from api.auth import Perm, Principal
from api.events import append
from api.forms import json_or_multipart
from api.items import item_production
from api.safety import record_inspection
from api.schemas import Long
from api.sql import q
from api.state import AUTHED, services
from api.uploads import optional_photo, save_optional_photo
from verifier.rules import CLEARABLE_CLASSES, Policy

__all__ = ["InspectionController", "PolicyController", "check_policy"]


def check_policy(policy: Policy) -> None:
    """Refuse a policy that would make a restricted class clearable (its number limits
    are part of the Policy type: out of range is a 400 when the body is read)."""
    bad = sorted(set(policy.clearable_classes) - CLEARABLE_CLASSES)
    if bad:
        raise ClientException(f"These classes can never be cleared: {', '.join(bad)}.")


class InspectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    kind: Literal["before_use", "after_use", "periodic"]
    result: Literal["pass", "fail"]
    notes: Long = ""
    client_id: UUID | None = None


class InspectionOut(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    item_id: UUID
    kind: str
    result: str
    notes: str
    photo_id: UUID | None
    actor: str
    created_at: datetime
    item_status: str | None = None


class InspectionController(Controller):
    """Inspections of an item: before use, after use, periodic."""

    path = "/api/v1/items/{item_id:uuid}/inspections"
    tags = ["safety"]
    dependencies = AUTHED

    @post("/", operation_id="recordInspection", status_code=201)
    async def create(
        self,
        item_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        request: Request[Any, Any, Any],
    ) -> InspectionOut:
        """Record an inspection (JSON, or multipart ``inspection`` + optional ``photo``).

        A failed inspection quarantines the item at once; a passing one returns a
        quarantined item to active when no incident about it is open.
        """
        production_id = await item_production(conn, principal, item_id)
        principal.require(production_id, Perm.ACT)
        await refuse_if_archived(conn, production_id)
        data, files = await json_or_multipart(
            request, InspectionIn, json_field="inspection", file_field="photo"
        )
        photo = await optional_photo(services(state), files, "inspection")
        async with conn.transaction():
            await refuse_if_archived(conn, production_id)  # again, with the row held
            photo_id = await save_optional_photo(
                conn,
                photo,
                production_id=production_id,
                item_id=item_id,
                purpose="inspection",
                actor=principal.actor,
            )
            row = await record_inspection(
                conn,
                production_id=production_id,
                item_id=item_id,
                kind=data.kind,
                result=data.result,
                notes=data.notes,
                actor=principal.actor,
                photo_id=photo_id,
                client_id=data.client_id,
            )
            if row is None:  # raised inside: a photo saved for the replay rolls back
                raise HTTPException(status_code=409, detail="This inspection was already recorded.")
        status = await conn.fetchval(q("item_status"), item_id)
        return InspectionOut(**row, item_status=status)

    @get("/", operation_id="listInspections")
    async def list_inspections(
        self, item_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> list[InspectionOut]:
        """Inspections of an item, newest first."""
        await item_production(conn, principal, item_id)
        return [InspectionOut(**dict(r)) for r in await conn.fetch(q("item_inspections"), item_id)]


class PolicyController(Controller):
    """A production's safety policy."""

    path = "/api/v1/productions/{production_id:uuid}/policy"
    tags = ["safety"]
    dependencies = AUTHED

    @get("/", operation_id="getPolicy")
    async def show(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> Policy:
        """The policy the verdict applies in this production."""
        principal.require(production_id, Perm.READ)
        row = await conn.fetchrow(q("production_by_id"), production_id)
        return msgspec.json.decode(row["policy"], type=Policy)

    @put("/", operation_id="setPolicy")
    async def update(
        self, production_id: UUID, data: Policy, principal: Principal, conn: asyncpg.Connection
    ) -> Policy:
        """Replace the policy (prop master). Restricted classes can never be made clearable."""
        principal.require(production_id, Perm.ACT)
        check_policy(data)
        encoded = msgspec.json.encode(data).decode()
        async with conn.transaction():
            previous = await conn.fetchval(q("set_policy"), production_id, encoded)
            # Checked with the production's row held by the update above (a check first,
            # share-locked, would make two concurrent policy changes deadlock).
            await refuse_if_archived(conn, production_id)
            await append(
                conn,
                production_id,
                "policy.changed",
                principal.actor,
                production_id,
                {"before": msgspec.json.decode(previous), "after": data},
            )
        return data
