"""An archived production's record is closed to new changes.

Archiving a production (api/productions.py) ends it: its tags verify STOP, its enrolled
phones are signed out. What may still be recorded afterwards is what safety needs: an
incident, its resolution, a check-in of an item still out, a tag revoked. Everything
else that would change what the record says about its items is refused here.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
from litestar.exceptions import ClientException

from api.sql import q

__all__ = ["refuse_if_archived"]


async def refuse_if_archived(conn: asyncpg.Connection, production_id: UUID) -> None:
    """400 when the production is archived. Inside a transaction, the production's row
    stays share-locked to its end, so an archive cannot commit between this check and
    the write that follows it."""
    if await conn.fetchval(q("production_status_for_write"), production_id) != "active":
        raise ClientException("This production is archived: its record takes no new changes.")
