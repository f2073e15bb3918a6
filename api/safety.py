"""Safety operations shared by several endpoints: quarantine, incidents, inspections.

Each runs inside the caller's transaction and appends its events there. An incident
about an item quarantines it at once; a failed inspection too. A quarantined item
returns to active only through a passing inspection made when no incident about it is
open (so necessarily after the last resolution).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from api.events import append
from api.sql import q

__all__ = ["open_incident", "quarantine", "record_inspection", "resolve_incident"]


async def quarantine(
    conn: asyncpg.Connection, production_id: UUID, item_id: UUID, actor: str, why: str
) -> bool:
    """Quarantine the item now; False when it already was."""
    previous = await conn.fetchval(q("quarantine_item"), item_id)
    if previous is None:
        return False
    await append(
        conn,
        production_id,
        "item.quarantined",
        actor,
        item_id,
        {"previous_status": previous, "why": why},
    )
    return True


async def open_incident(
    conn: asyncpg.Connection,
    *,
    production_id: UUID,
    item_id: UUID | None,
    kind: str,
    description: str,
    actor: str,
    verification_id: UUID | None = None,
    photo_id: UUID | None = None,
    client_id: UUID | None = None,
) -> tuple[UUID, bool]:
    """Report an incident (quarantining its item); returns (id, created_now)."""
    if item_id is not None:
        # The item's row before the chain head (the append below), as every writer takes
        # them (migration 0012). The incident's insert already takes it, through the
        # trigger that bumps the item's facts version (migration 0007); said here so the
        # order does not hang on a trigger (a quarantine after the append taking the item
        # first would deadlock with a check-out holding it and waiting for the chain).
        await conn.fetchrow(q("item_lock"), item_id)
    row = await conn.fetchrow(
        q("insert_incident"),
        client_id,
        production_id,
        item_id,
        verification_id,
        kind,
        description,
        photo_id,
        actor,
    )
    if row is None:  # replayed client_id
        existing: UUID = await conn.fetchval(q("incident_by_client_id"), client_id)
        return existing, False
    await append(
        conn,
        production_id,
        "incident.reported",
        actor,
        item_id,
        {
            "incident_id": row["id"],
            "kind": kind,
            "description": description,
            "verification_id": verification_id,
            "photo_id": photo_id,
            "photo_sha256": row["photo_sha256"],
            "client_id": client_id,
        },
    )
    if item_id is not None:
        await quarantine(conn, production_id, item_id, actor, f"incident {row['id']} ({kind})")
    return row["id"], True


async def resolve_incident(
    conn: asyncpg.Connection, production_id: UUID, incident_id: UUID, notes: str, actor: str
) -> bool:
    """Resolve an incident once; the item stays quarantined until it passes inspection."""
    created = await conn.fetchval(q("insert_resolution"), incident_id, notes, actor)
    if created is None:
        return False
    await append(
        conn,
        production_id,
        "incident.resolved",
        actor,
        incident_id,
        {"incident_id": incident_id, "notes": notes},
    )
    return True


async def record_inspection(
    conn: asyncpg.Connection,
    *,
    production_id: UUID,
    item_id: UUID,
    kind: str,
    result: str,
    notes: str,
    actor: str,
    photo_id: UUID | None = None,
    client_id: UUID | None = None,
) -> dict[str, Any] | None:
    """Record an inspection and apply it: fail quarantines, pass may reactivate.

    Returns the stored row, or None for a replayed client_id.
    """
    item = await conn.fetchrow(q("item_lock"), item_id)
    row = await conn.fetchrow(
        q("insert_inspection"),
        client_id,
        production_id,
        item_id,
        kind,
        result,
        notes,
        photo_id,
        actor,
    )
    if row is None:
        return None
    await append(
        conn,
        production_id,
        "inspection.recorded",
        actor,
        item_id,
        {
            "inspection_id": row["id"],
            "kind": kind,
            "result": result,
            "notes": notes,
            "photo_id": photo_id,
            "photo_sha256": row["photo_sha256"],
            "client_id": client_id,
        },
    )
    if result == "fail":
        await quarantine(conn, production_id, item_id, actor, f"failed inspection {row['id']}")
    elif (
        item["status"] == "quarantined"
        and await conn.fetchval(q("open_incident_count"), item_id) == 0
    ):
        await conn.fetchval(q("reactivate_item"), item_id)
        await append(
            conn,
            production_id,
            "item.reactivated",
            actor,
            item_id,
            {"inspection_id": row["id"]},
        )
    stored = dict(row)
    del stored["photo_sha256"]  # for the event; the inspection's own fields are the rest
    return stored
