"""Invitations: how an account that is not the studio's own joins one of its productions.

A studio admin adds the studio's own accounts by e-mail (addMember). Anyone else (crew
whose account another studio made) gets a one-time code from the admin and redeems it
signed in to their own account: the holder agrees to join, and no answer tells the
admin whether some e-mail has an account elsewhere (migration 0018).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, PermissionDeniedException

from api import abuse, auth
from api.archive import refuse_if_archived
from api.auth import Perm, Principal
from api.events import append
from api.productions import record_membership
from api.schemas import (
    AcceptInvitationIn,
    InvitationIn,
    InvitationOut,
    MembershipOut,
    OpenInvitationOut,
)
from api.sql import q
from api.state import AUTHED, services

__all__ = ["AcceptInvitationController", "InvitationController"]


class InvitationController(Controller):
    """Studio admins mint invitation codes to a production."""

    path = "/api/v1/productions/{production_id:uuid}/invitations"
    tags = ["productions"]
    dependencies = AUTHED

    @post("/", operation_id="createInvitation", status_code=201)
    async def create(
        self,
        production_id: UUID,
        data: InvitationIn,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        request: Request[Any, Any, Any],
    ) -> InvitationOut:
        """A one-time code for the account with ``email`` to join the production with
        ``role``, redeemed signed in to that account (studio admin). Shown once; stored as
        a hash. Whether the e-mail has an account is not said. E-mails are not verified
        here: for an e-mail with no account yet, whoever makes that account (a studio
        admin can) and holds the link can redeem it; withdraw what is not wanted."""
        principal.require(production_id, Perm.ADMIN)
        assert principal.user_id is not None  # devices never hold ADMIN
        code = auth.new_secret("pci")
        hours = services(state).settings.invitation_hours
        async with conn.transaction():
            await refuse_if_archived(conn, production_id)
            made = await conn.fetchrow(
                q("insert_member_invitation"),
                auth.hash_secret(code),
                production_id,
                data.role,
                principal.user_id,
                hours * 3600,
                data.email,
            )
            await append(
                conn,
                production_id,
                "member.invited",
                principal.actor,
                None,
                {
                    "invitation_id": made["id"],
                    "role": data.role,
                    "email": data.email,
                    "expires_at": made["expires_at"],
                },
            )
        base = str(request.base_url).rstrip("/")
        return InvitationOut(
            id=made["id"],
            code=code,
            expires_at=made["expires_at"],
            production_id=production_id,
            role=data.role,
            email=data.email,
            invite_url=f"{base}/#invite={code}",
        )

    @get("/", operation_id="listInvitations")
    async def open_ones(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> list[OpenInvitationOut]:
        """The invitations that can still be redeemed (studio admin), without codes."""
        principal.require(production_id, Perm.ADMIN)
        rows = await conn.fetch(q("open_member_invitations"), production_id)
        return [OpenInvitationOut(**dict(r)) for r in rows]

    @post("/{invitation_id:uuid}/withdraw", operation_id="withdrawInvitation", status_code=204)
    async def withdraw(
        self,
        production_id: UUID,
        invitation_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
    ) -> None:
        """Withdraw an invitation not yet used (studio admin): sent to the wrong e-mail,
        or no longer wanted. Its code then joins nobody."""
        principal.require(production_id, Perm.ADMIN)
        async with conn.transaction():
            row = await conn.fetchrow(
                q("withdraw_member_invitation"), production_id, invitation_id, principal.user_id
            )
            if row is None:
                raise NotFoundException("No open invitation of this production has this id.")
            await refuse_if_archived(conn, production_id)
            await append(
                conn,
                production_id,
                "member.invitation_withdrawn",
                principal.actor,
                None,
                {"invitation_id": row["id"], "role": row["role"], "email": row["email"]},
            )


class AcceptInvitationController(Controller):
    """The invited person redeems the code, signed in."""

    path = "/api/v1/invitations"
    tags = ["productions"]
    dependencies = AUTHED

    @post(
        "/accept",
        operation_id="acceptInvitation",
        status_code=200,
        before_request=abuse.limit_signin,
    )
    async def accept(
        self, data: AcceptInvitationIn, principal: Principal, conn: asyncpg.Connection
    ) -> MembershipOut:
        """Join the invitation's production with its role (an account, not a phone).

        Only the account with the invitation's e-mail can redeem it (another gets the 404
        of an unknown code). A member already gets the invitation's role (an admin's
        decision, recorded as a role change). Counted
        with the sign-ins of the caller's address (the codes are 256-bit secrets)."""
        if principal.user_id is None:
            raise PermissionDeniedException("A phone cannot join a production: sign in.")
        async with conn.transaction():
            row = await conn.fetchrow(
                q("claim_member_invitation"),
                auth.hash_secret(data.code.strip()),
                principal.user_id,
                principal.email,
            )
            if row is None:
                # 404, not 401: the caller's own sign-in is fine (a 401 signs the app out).
                raise NotFoundException("This invitation is unknown, used or expired.")
            production_id: UUID = row["production_id"]
            # A code minted just before the production was archived joins nobody to it
            # (the refusal rolls the claim back with everything else).
            await refuse_if_archived(conn, production_id)
            previous = await record_membership(
                conn,
                production_id,
                principal.actor,
                principal.user_id,
                principal.email,
                row["role"],
                invitation=True,
            )
        auth.forget_all()
        return MembershipOut(production_id=production_id, role=row["role"], previous_role=previous)
