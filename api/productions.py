"""Productions, their members, and studio accounts."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, delete, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException

from api import auth
from api.accounts import record_device_signed_out
from api.auth import Perm, Principal
from api.events import append
from api.inspections import check_policy
from api.schemas import (
    MemberIn,
    MemberOut,
    NewEmail,
    NewPassword,
    ProductionCreate,
    ProductionOut,
    Short,
)
from api.sql import q
from api.state import AUTHED
from verifier.rules import Policy

__all__ = ["ProductionController", "StudioController", "production_out", "record_membership"]


async def record_membership(
    conn: asyncpg.Connection,
    production_id: UUID,
    actor: str,
    user_id: UUID,
    email: str | None,
    role: str,
    **extra: Any,
) -> str | None:
    """Make ``user_id`` a member with ``role`` (or change its role) and chain it:
    member.added, or member.role_changed with the role it replaced. Returns that role
    (None: a new member). Inside the caller's transaction."""
    previous: str | None = await conn.fetchval(
        q("upsert_production_member"), production_id, user_id, role
    )
    await append(
        conn,
        production_id,
        "member.added" if previous is None else "member.role_changed",
        actor,
        user_id,
        {"user_id": user_id, "email": email, "role": role, "previous": previous, **extra},
    )
    return previous


def production_out(row: asyncpg.Record) -> ProductionOut:
    """A production row as its response body."""
    return ProductionOut(
        id=row["id"],
        studio_id=row["studio_id"],
        name=row["name"],
        status=row["status"],
        wrap_time=row["wrap_time"],
        timezone=row["timezone"],
        policy=msgspec.json.decode(row["policy"], type=Policy),
        created_at=row["created_at"],
        archived_at=row["archived_at"],
    )


class ProductionController(Controller):
    """Productions: create (studio admin), list, show, archive, members."""

    path = "/api/v1/productions"
    tags = ["productions"]
    dependencies = AUTHED

    @post("/", operation_id="createProduction", status_code=201)
    async def create(
        self, data: ProductionCreate, principal: Principal, conn: asyncpg.Connection
    ) -> ProductionOut:
        """Create a production in a studio the caller administers."""
        role = principal.studio_role(data.studio_id)
        if role is None:
            raise NotFoundException("Not found.")
        if role != "studio_admin":
            raise PermissionDeniedException("Only a studio admin creates productions.")
        check_policy(data.policy)
        async with conn.transaction():
            row = await conn.fetchrow(
                q("insert_production"),
                data.studio_id,
                data.name,
                data.wrap_time,
                data.timezone,
                msgspec.json.encode(data.policy).decode(),
            )
            out = production_out(row)
            await append(conn, out.id, "production.created", principal.actor, out.id, out)
        auth.forget_all()  # studio roles now reach one more production
        return out

    @get("/", operation_id="listProductions")
    async def list_productions(
        self, principal: Principal, conn: asyncpg.Connection
    ) -> list[ProductionOut]:
        """Every production the caller can see."""
        ids = [UUID(p) for p in principal.production_roles]
        return [production_out(r) for r in await conn.fetch(q("productions_by_ids"), ids)]

    @get("/{production_id:uuid}", operation_id="getProduction")
    async def show(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> ProductionOut:
        """One production."""
        principal.require(production_id, Perm.READ)
        row = await conn.fetchrow(q("production_by_id"), production_id)
        if row is None:
            raise NotFoundException("Not found.")
        return production_out(row)

    @post("/{production_id:uuid}/archive", operation_id="archiveProduction", status_code=200)
    async def archive(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> ProductionOut:
        """Archive a production (studio admin): its tags stop verifying as CLEARED."""
        principal.require(production_id, Perm.ADMIN)
        async with conn.transaction():
            row = await conn.fetchrow(q("archive_production"), production_id)
            if row is None:
                row = await conn.fetchrow(q("production_by_id"), production_id)
                return production_out(row)
            out = production_out(row)
            await append(conn, production_id, "production.archived", principal.actor, None, {})
            # Its phones are signed out: they would otherwise keep reading the snapshot
            # (every tag code) of a production nobody works on any more.
            for r in await conn.fetch(q("revoke_production_devices"), production_id):
                await record_device_signed_out(
                    conn, production_id, principal.actor, r["id"], why="production archived"
                )
        auth.forget_all()
        return out

    @get("/{production_id:uuid}/members", operation_id="listMembers")
    async def members(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> list[MemberOut]:
        """Members of a production and their roles."""
        principal.require(production_id, Perm.READ)
        rows = await conn.fetch(q("production_members"), production_id)
        return [MemberOut(**dict(r)) for r in rows]

    @post("/{production_id:uuid}/members", operation_id="addMember", status_code=200)
    async def add_member(
        self, production_id: UUID, data: MemberIn, principal: Principal, conn: asyncpg.Connection
    ) -> list[MemberOut]:
        """Add one of the studio's accounts to the production, or change its role (studio
        admin). Anyone else joins with an invitation (createInvitation)."""
        principal.require(production_id, Perm.ADMIN)
        async with conn.transaction():
            # Only the studio's own accounts: another studio's people join by invitation
            # (api/invitations.py), and their e-mails answer as unknown ones do.
            user_id = await conn.fetchval(q("studio_account_by_email"), data.email, production_id)
            if user_id is None:
                raise NotFoundException(
                    "No account of this studio has this e-mail: create one (createAccount), "
                    "or send its holder an invitation (createInvitation)."
                )
            await record_membership(
                conn, production_id, principal.actor, user_id, data.email, data.role
            )
            rows = await conn.fetch(q("production_members"), production_id)
        auth.forget_all()
        return [MemberOut(**dict(r)) for r in rows]

    @delete("/{production_id:uuid}/members/{user_id:uuid}", operation_id="removeMember")
    async def remove_member(
        self, production_id: UUID, user_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> None:
        """Remove a member (studio admin)."""
        principal.require(production_id, Perm.ADMIN)
        async with conn.transaction():
            role = await conn.fetchval(q("delete_production_member"), production_id, user_id)
            if role is None:
                raise NotFoundException("Not a member.")
            await append(
                conn,
                production_id,
                "member.removed",
                principal.actor,
                user_id,
                {"user_id": user_id, "role": role},
            )
        auth.forget_all()


class AccountCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    email: NewEmail
    password: NewPassword
    display_name: Short = ""
    studio_role: Literal["studio_admin", "studio_auditor"] | None = None


class AccountOut(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    email: str
    display_name: str
    studio_role: str | None


class StudioOut(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    role: str


class StudioController(Controller):
    """Studios: the caller's studios, and accounts created by a studio admin."""

    path = "/api/v1/studios"
    tags = ["studios"]
    dependencies = AUTHED

    @get("/", operation_id="listStudios")
    async def list_studios(self, principal: Principal) -> list[StudioOut]:
        """Studios where the caller has a studio-wide role."""
        return [StudioOut(id=UUID(s), role=r) for s, r in sorted(principal.studio_roles.items())]

    @post("/{studio_id:uuid}/accounts", operation_id="createAccount", status_code=201)
    async def create_account(
        self,
        studio_id: UUID,
        data: AccountCreate,
        principal: Principal,
        conn: asyncpg.Connection,
    ) -> AccountOut:
        """Create an account (studio admin); optionally with a studio-wide role."""
        role = principal.studio_role(studio_id)
        if role is None:
            raise NotFoundException("Not found.")
        if role != "studio_admin":
            raise PermissionDeniedException("Only a studio admin creates accounts.")
        async with conn.transaction():
            row = await conn.fetchrow(
                q("insert_user"), data.email, data.display_name, auth.hash_password(data.password)
            )
            if data.studio_role:
                await conn.execute(
                    q("upsert_studio_member"), studio_id, row["id"], data.studio_role
                )
            await append(
                conn,
                studio_id,
                "account.created",
                principal.actor,
                row["id"],
                {"email": data.email, "studio_role": data.studio_role},
            )
        auth.forget_all()
        return AccountOut(
            id=row["id"],
            email=row["email"],
            display_name=row["display_name"],
            studio_role=data.studio_role,
        )
