"""Sign-in, sign-out, who am I, and device enrollment."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException

from api import abuse, auth
from api.archive import refuse_if_archived
from api.auth import Perm, Principal
from api.events import append
from api.schemas import DeviceOut, EnrollIn, EnrollmentCodeOut, MeOut, SignInIn, TokenOut
from api.sql import q
from api.state import AUTHED, provide_conn, provide_principal, services

__all__ = [
    "AccountController",
    "DeviceController",
    "EnrollmentController",
    "record_device_signed_out",
]


class AccountController(Controller):
    """Accounts: sign in with e-mail and password, or enroll a phone with a code."""

    path = "/api/v1/auth"
    tags = ["accounts"]
    dependencies = {"conn": Provide(provide_conn)}

    @post("/sign-in", operation_id="signIn", status_code=200, before_request=abuse.limit_signin)
    async def sign_in(self, data: SignInIn, conn: asyncpg.Connection, state: State) -> TokenOut:
        """Exchange e-mail and password for a bearer token (argon2id checked).

        After repeated failures for one account, answers 429 with Retry-After for a
        growing time (api/abuse.py), whether or not the password is right.
        """
        settings = services(state).settings
        key = abuse.email_key(data.email)
        await abuse.check_signin_backoff(conn, key, settings)
        row = await conn.fetchrow(q("user_by_email"), data.email)
        ok = auth.check_password(row["password_hash"] if row else None, data.password)
        if row is None or not ok or row["disabled_at"] is not None:
            await abuse.record_signin_failure(conn, key)
            raise NotAuthorizedException("E-mail or password is wrong.")
        await abuse.clear_signin_failures(conn, key)
        token = auth.new_secret("pct")
        hours = settings.token_hours
        async with conn.transaction():
            tok = await conn.fetchrow(
                q("insert_token"), auth.hash_secret(token), row["id"], None, None, hours * 3600
            )
            await _record_session(
                conn,
                row["id"],
                "session.started",
                {"token_id": tok["id"], "expires_at": tok["expires_at"]},
            )
        return TokenOut(token=token, expires_at=tok["expires_at"], user_id=row["id"])

    @post(
        "/sign-out",
        operation_id="signOut",
        status_code=204,
        dependencies={"principal": Provide(provide_principal)},
    )
    async def sign_out(
        self, request: Request[Any, Any, Any], principal: Principal, conn: asyncpg.Connection
    ) -> None:
        """Revoke the token this request carries."""
        async with conn.transaction():
            owner = await conn.fetchrow(q("revoke_token"), principal.token_id)
            if owner is not None:
                body = {"token_id": principal.token_id}
                if owner["user_id"] is not None:
                    await _record_session(conn, owner["user_id"], "session.ended", body)
                else:  # an enrolled phone: its production's chain, like its enrollment
                    await record_device_signed_out(
                        conn, owner["production_id"], principal.actor, principal.token_id
                    )
        header = request.headers.get("authorization", "")
        auth.forget_token(auth.hash_secret(header.partition(" ")[2].strip()))

    @get("/me", operation_id="me", dependencies={"principal": Provide(provide_principal)})
    async def me(self, principal: Principal) -> MeOut:
        """Who the token belongs to and what it may see."""
        return MeOut(
            user_id=principal.user_id,
            email=principal.email,
            device_name=principal.device_name,
            studio_roles=principal.studio_roles,
            production_roles=principal.production_roles,
        )

    @post(
        "/enroll", operation_id="enrollDevice", status_code=200, before_request=abuse.limit_signin
    )
    async def enroll(self, data: EnrollIn, conn: asyncpg.Connection, state: State) -> TokenOut:
        """Exchange a one-time enrollment code for a scanner token bound to one production."""
        code_hash = auth.hash_secret(data.code.strip())
        settings = services(state).settings
        async with conn.transaction():
            production_id = await conn.fetchval(q("claim_enrollment_code"), code_hash)
            if production_id is None:
                raise NotAuthorizedException("This enrollment code is unknown, used or expired.")
            # A code minted just before the production was archived joins no phone to it.
            await refuse_if_archived(conn, production_id)
            token = auth.new_secret("pcd")
            tok = await conn.fetchrow(
                q("insert_token"),
                auth.hash_secret(token),
                None,
                production_id,
                data.device_name,
                settings.device_token_hours * 3600,
            )
            await conn.execute(q("link_enrollment_token"), code_hash, tok["id"])
            await append(
                conn,
                production_id,
                "device.enrolled",
                f"device:{tok['id']}",
                None,
                {"device_name": data.device_name, "token_id": tok["id"]},
            )
        return TokenOut(
            token=token, expires_at=tok["expires_at"], production_id=production_id, role="scanner"
        )


async def record_device_signed_out(
    conn: asyncpg.Connection, production_id: UUID, actor: str, token_id: UUID, **why: Any
) -> None:
    """Append an enrolled phone's sign-out to its production's chain: by the phone itself,
    by a prop master (a lost phone) or by the production's archive."""
    await append(
        conn, production_id, "device.signed_out", actor, None, {"token_id": token_id, **why}
    )


async def _record_session(
    conn: asyncpg.Connection, user_id: UUID, kind: str, body: dict[str, Any]
) -> None:
    """Append a sign-in or sign-out to the chain of every studio the user belongs to, so
    the record shows whose token made each later entry and when it began and ended. A
    user who belongs to no studio yet has no chain to record it in (and sees nothing)."""
    for row in await conn.fetch(q("session_chains"), user_id):
        await append(conn, row["studio_id"], kind, f"user:{user_id}", user_id, body)


class EnrollmentController(Controller):
    """Prop masters mint enrollment codes that crew phones scan."""

    path = "/api/v1/productions/{production_id:uuid}/enrollment-codes"
    tags = ["accounts"]
    dependencies = AUTHED

    @post("/", operation_id="createEnrollmentCode", status_code=201)
    async def create(
        self,
        production_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        request: Request[Any, Any, Any],
    ) -> EnrollmentCodeOut:
        """A one-time code, valid for a few minutes, for one phone to join as a scanner."""
        principal.require(production_id, Perm.ACT)
        assert principal.user_id is not None  # devices never hold ACT
        code = auth.new_secret("pce")
        minutes = services(state).settings.enrollment_minutes
        async with conn.transaction():
            await refuse_if_archived(conn, production_id)
            expires = await conn.fetchval(
                q("insert_enrollment_code"),
                auth.hash_secret(code),
                production_id,
                principal.user_id,
                minutes * 60,
            )
            await append(
                conn,
                production_id,
                "enrollment_code.created",
                principal.actor,
                None,
                {"expires_at": expires},
            )
        base = str(request.base_url).rstrip("/")
        return EnrollmentCodeOut(
            code=code,
            expires_at=expires,
            production_id=production_id,
            enroll_url=f"{base}/#enroll={code}",
        )


class DeviceController(Controller):
    """The phones enrolled in a production; a prop master signs out a lost one."""

    path = "/api/v1/productions/{production_id:uuid}/devices"
    tags = ["accounts"]
    dependencies = AUTHED

    @get("/", operation_id="listDevices")
    async def list_devices(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> list[DeviceOut]:
        """The production's enrolled phones, signed out ones included (prop master)."""
        principal.require(production_id, Perm.ACT)
        return await _devices(conn, production_id)

    @post("/{token_id:uuid}/revoke", operation_id="revokeDevice", status_code=200)
    async def revoke(
        self, production_id: UUID, token_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> list[DeviceOut]:
        """Sign out one enrolled phone at once (lost or stolen: its token would otherwise
        scan and read the production's snapshot, every tag code, for 30 days)."""
        principal.require(production_id, Perm.ACT)
        async with conn.transaction():
            row = await conn.fetchrow(q("revoke_device"), production_id, token_id)
            if row is None:
                raise NotFoundException("No phone of this production is signed in with that id.")
            await record_device_signed_out(
                conn,
                production_id,
                principal.actor,
                token_id,
                device_name=row["device_name"],
                why="revoked",
            )
        auth.forget_all()  # the kept principal of that token goes too
        return await _devices(conn, production_id)


async def _devices(conn: asyncpg.Connection, production_id: UUID) -> list[DeviceOut]:
    return [DeviceOut(**dict(r)) for r in await conn.fetch(q("production_devices"), production_id)]
