"""Creating accounts and demo data from the command line (and tests)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from api import auth
from api.events import append
from api.sql import q

__all__ = ["app_connection", "create_admin"]


async def app_connection(dsn: str) -> asyncpg.Connection:
    """A connection with the application's restricted role, like the API's."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn, server_settings={"role": "propcheck_app"})
    return conn


async def create_admin(dsn: str, email: str, password: str, studio: str) -> dict[str, Any]:
    """Create (or reuse) a studio and make ``email`` its studio admin.

    An existing account keeps its password; a new one gets ``password``.
    """
    conn = await app_connection(dsn)
    try:
        async with conn.transaction():
            row = await conn.fetchrow(q("studio_by_name"), studio)
            if row is None:
                row = await conn.fetchrow(q("insert_studio"), studio)
                await append(conn, row["id"], "studio.created", "cli", row["id"], {"name": studio})
            studio_id: UUID = row["id"]
            user_id = await conn.fetchval(q("user_id_by_email"), email)
            if user_id is None:
                user = await conn.fetchrow(
                    q("insert_user"), email, "", auth.hash_password(password)
                )
                user_id = user["id"]
                await append(conn, studio_id, "account.created", "cli", user_id, {"email": email})
            await conn.execute(q("upsert_studio_member"), studio_id, user_id, "studio_admin")
            await append(
                conn,
                studio_id,
                "member.added",
                "cli",
                user_id,
                {"email": email, "role": "studio_admin"},
            )
    finally:
        await conn.close()
    return {"studio_id": str(studio_id), "user_id": str(user_id), "email": email}
