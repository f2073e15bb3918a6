"""Tags: issuing (which supersedes the old tag), revoking, listing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from litestar import Controller, get, post
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Parameter

from api.archive import refuse_if_archived
from api.auth import Perm, Principal
from api.events import append
from api.schemas import TagOut
from api.sql import q
from api.state import AUTHED
from verifier import codes

__all__ = ["TagController", "issue_tag", "tag_out"]

_ISSUE_ATTEMPTS = 5


def tag_out(t: dict[str, Any] | asyncpg.Record) -> TagOut:
    """A tag row (or its JSON form) as a response body."""

    def when(v: Any) -> datetime | None:
        return datetime.fromisoformat(v) if isinstance(v, str) else v

    issued = when(t["issued_at"])
    assert issued is not None
    return TagOut(
        id=UUID(str(t["id"])),
        code=t["code"],
        display=codes.format_code(t["code"]),
        item_id=UUID(str(t["item_id"])),
        status=t["status"],
        issued_at=issued,
        revoked_at=when(t["revoked_at"]),
        first_printed_at=when(t["first_printed_at"]),
    )


async def issue_tag(
    conn: asyncpg.Connection, production_id: UUID, item_id: UUID, actor: str
) -> TagOut:
    """Issue a new active tag for an item, superseding its old one (caller's transaction)."""
    old = await conn.fetch(q("retire_active_tags"), item_id)
    for o in old:
        await append(
            conn,
            production_id,
            "tag.superseded",
            actor,
            item_id,
            {"tag_id": o["id"], "code": o["code"]},
        )
    for _ in range(_ISSUE_ATTEMPTS):
        code = codes.new_code()
        # A collision of 84-bit random codes is practically impossible, but a savepoint
        # keeps even that case from aborting the caller's transaction.
        try:
            async with conn.transaction():
                row = await conn.fetchrow(q("insert_tag"), code, item_id, production_id, actor)
        except asyncpg.UniqueViolationError:
            continue
        await append(
            conn,
            production_id,
            "tag.issued",
            actor,
            item_id,
            {"tag_id": row["id"], "code": row["code"]},
        )
        return tag_out(row)
    raise RuntimeError("could not issue a unique tag code")


class TagController(Controller):
    """Tag issue, revocation and listing (prop master)."""

    path = "/api/v1"
    tags = ["tags"]
    dependencies = AUTHED

    @post("/items/{item_id:uuid}/tags", operation_id="issueTag", status_code=201)
    async def issue(self, item_id: UUID, principal: Principal, conn: asyncpg.Connection) -> TagOut:
        """Issue a new tag for the item; its previous tag is superseded at once."""
        production_id = await conn.fetchval(q("item_production"), item_id)
        if production_id is None or not principal.perms(production_id):
            raise NotFoundException("Not found.")
        principal.require(production_id, Perm.ACT)
        async with conn.transaction():
            await refuse_if_archived(conn, production_id)
            return await issue_tag(conn, production_id, item_id, principal.actor)

    @post("/tags/{tag_id:uuid}/revoke", operation_id="revokeTag", status_code=200)
    async def revoke(self, tag_id: UUID, principal: Principal, conn: asyncpg.Connection) -> TagOut:
        """Revoke a tag (lost, damaged, suspected copy): it verifies STOP from now on."""
        tag = await conn.fetchrow(q("tag_by_id"), tag_id)
        if tag is None or not principal.perms(tag["production_id"]):
            raise NotFoundException("Not found.")
        principal.require(tag["production_id"], Perm.ACT)
        async with conn.transaction():
            row = await conn.fetchrow(q("revoke_tag"), tag_id)
            if row is None:
                raise ClientException(f"This tag is already {tag['status']}.")
            await append(
                conn,
                tag["production_id"],
                "tag.revoked",
                principal.actor,
                row["item_id"],
                {"tag_id": tag_id, "code": row["code"]},
            )
        return tag_out(row)

    @get("/productions/{production_id:uuid}/tags", operation_id="listTags")
    async def list_tags(
        self,
        production_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        never_printed: Annotated[bool | None, Parameter(query="never_printed")] = None,
        status: Literal["active", "revoked", "superseded"] | None = None,
    ) -> list[TagOut]:
        """A production's tags; ``never_printed=true`` lists those not printed yet."""
        principal.require(production_id, Perm.READ)
        rows = await conn.fetch(q("production_tags"), production_id, never_printed, status)
        return [tag_out(r) for r in rows]
