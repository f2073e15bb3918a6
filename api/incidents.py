"""Incidents: anyone verifying in a production reports; a prop master resolves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Parameter
from msgspec import Meta

from api.auth import Perm, Principal
from api.errors import Replayed
from api.forms import json_or_multipart
from api.safety import open_incident, resolve_incident
from api.schemas import Long
from api.sql import q
from api.state import AUTHED, services
from api.uploads import optional_photo, save_optional_photo

__all__ = ["IncidentController"]

IncidentKind = Literal[
    "mismatch",
    "damaged",
    "suspected_functional",
    "missing",
    "tag_damaged",
    "unregistered_weapon_found",
    "other",
]


class IncidentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    kind: IncidentKind
    description: Long = ""
    item_id: UUID | None = None
    client_id: UUID | None = None


class ResolveIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    notes: Annotated[str, Meta(min_length=1, max_length=5000, pattern=r"^[^\x00]*$")]


class IncidentOut(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    production_id: UUID
    item_id: UUID | None
    item_name: str | None
    verification_id: UUID | None
    kind: str
    description: str
    photo_id: UUID | None
    actor: str
    created_at: datetime
    resolution_notes: str | None
    resolved_by: str | None
    resolved_at: datetime | None


async def _views(
    conn: asyncpg.Connection, production_id: UUID, incident_id: UUID | None, open_only: bool | None
) -> list[IncidentOut]:
    rows = await conn.fetch(q("incident_views"), production_id, incident_id, open_only)
    return [IncidentOut(**dict(r)) for r in rows]


class IncidentController(Controller):
    """Incident reports and their resolution."""

    path = "/api/v1"
    tags = ["safety"]
    dependencies = AUTHED

    @post(
        "/productions/{production_id:uuid}/incidents",
        operation_id="reportIncident",
        status_code=201,
    )
    async def report(
        self,
        production_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        request: Request[Any, Any, Any],
    ) -> IncidentOut:
        """Report an incident (JSON, or multipart ``incident`` + optional ``photo``).

        An incident about an item quarantines it at once. Replaying the same client_id
        stores it once.
        """
        principal.require(production_id, Perm.VERIFY)
        data, files = await json_or_multipart(
            request, IncidentIn, json_field="incident", file_field="photo"
        )
        if data.item_id is not None:
            owner = await conn.fetchval(q("item_production"), data.item_id)
            if owner != production_id:
                raise NotFoundException("No such item in this production.")
        photo = await optional_photo(services(state), files, "incident")
        try:
            async with conn.transaction():
                photo_id = await save_optional_photo(
                    conn,
                    photo,
                    production_id=production_id,
                    item_id=data.item_id,
                    purpose="incident",
                    actor=principal.actor,
                )
                incident_id, created = await open_incident(
                    conn,
                    production_id=production_id,
                    item_id=data.item_id,
                    kind=data.kind,
                    description=data.description,
                    actor=principal.actor,
                    photo_id=photo_id,
                    client_id=data.client_id,
                )
                if not created:
                    # A replay (a phone resending after a timeout): the photo row saved
                    # for it goes with the rolled-back transaction.
                    raise Replayed(incident_id)
        except Replayed as replay:
            incident_id = replay.existing
            if not await _views(conn, production_id, incident_id, None):
                # Another production's client id: not a replay here, and nothing is stored.
                raise HTTPException(
                    status_code=409, detail="This client_id is already used."
                ) from None
        (out,) = await _views(conn, production_id, incident_id, None)
        return out

    @get("/productions/{production_id:uuid}/incidents", operation_id="listIncidents")
    async def list_incidents(
        self,
        production_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        open_only: Annotated[bool | None, Parameter(query="open")] = None,
    ) -> list[IncidentOut]:
        """Incidents of a production, newest first; ``open=true`` for unresolved ones."""
        principal.require(production_id, Perm.READ)
        return await _views(conn, production_id, None, open_only)

    @post("/incidents/{incident_id:uuid}/resolve", operation_id="resolveIncident", status_code=200)
    async def resolve(
        self, incident_id: UUID, data: ResolveIn, principal: Principal, conn: asyncpg.Connection
    ) -> IncidentOut:
        """Resolve an incident (prop master). The report stays; the item stays quarantined
        until it passes an inspection recorded after this resolution."""
        row = await conn.fetchrow(q("incident_production"), incident_id)
        if row is None or not principal.perms(row["production_id"]):
            raise NotFoundException("Not found.")
        production_id: UUID = row["production_id"]
        principal.require(production_id, Perm.ACT)
        async with conn.transaction():
            if not await resolve_incident(
                conn, production_id, incident_id, data.notes, principal.actor
            ):
                raise HTTPException(status_code=409, detail="This incident is already resolved.")
        (out,) = await _views(conn, production_id, incident_id, None)
        return out
