"""Authorization matrix: every operation of the live OpenAPI schema x every kind of caller.

OWASP API1 (object level), API3 (property level) and API5 (function level). The table
below names, for each operation, the answer each caller must get:

* 401 for an anonymous caller (unless the operation is public),
* 404 for an object outside the caller's scope (never a 403 that confirms it exists,
  never a 200),
* 403 for a visible object with a forbidden action,
* the operation's 2xx when allowed.

A new endpoint fails ``test_every_operation_is_in_the_matrix`` until it is added here.
Every denied request must leave the database exactly as it was, and no answer to a
caller outside production P may contain any identifier or name of P.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.api.helpers import ITEM, jpeg, reason_codes
from tests.conftest import World, make_world

#: The callers, in the column order of the table. ``device`` is a phone enrolled in P
#: (a scanner token with no user); ``p2_prop_master`` is a member of a sibling
#: production of the same studio; ``q_*`` are members of a production of another studio.
CALLERS = (
    "anon",
    "studio_admin",
    "studio_auditor",
    "prop_master",
    "scanner",
    "auditor",
    "device",
    "p2_prop_master",
    "q_prop_master",
    "q_scanner",
    "other_studio_admin",
)
OUTSIDERS = ("p2_prop_master", "q_prop_master", "q_scanner", "other_studio_admin")


def _read(ok: int = 200) -> str:
    return f"401 {ok} {ok} {ok} {ok} {ok} {ok} 404 404 404 404"


def _act(ok: int) -> str:
    return f"401 403 403 {ok} 403 403 403 404 404 404 404"


def _verify(ok: int) -> str:
    return f"401 403 403 {ok} {ok} 403 {ok} 404 404 404 404"


_STUDIO_ADMIN_ONLY = "401 {ok} 403 404 404 404 404 404 404 404 404"


@dataclass
class Req:
    """A concrete request: path and httpx keyword arguments."""

    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ctx:
    """The module's own world, with helpers that create fresh objects in P."""

    client: AsyncTestClient[Any]
    db: asyncpg.Connection
    w: World
    device_token: str
    q_item: dict[str, Any]
    q_verification: dict[str, Any]
    p2_item: dict[str, Any]
    #: Strings that identify P's objects: none may reach a caller outside P.
    secrets: set[str]

    def h(self, caller: str) -> dict[str, str]:
        if caller == "anon":
            return {}
        if caller == "device":
            return {"Authorization": f"Bearer {self.device_token}"}
        return self.w.h(caller)

    @property
    def p(self) -> str:
        return str(self.w.production_id)

    async def item(self, **over: Any) -> dict[str, Any]:
        name = f"P-secret-item-{secrets.token_hex(4)}"
        r = await self.client.post(
            f"/api/v1/productions/{self.p}/items",
            json={**ITEM, "name": name, **over},
            headers=self.h("prop_master"),
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        self.secrets.update({body["id"], name})
        if body["tag"]:
            self.secrets.update({body["tag"]["id"], body["tag"]["code"]})
        return body

    async def ready(self) -> dict[str, Any]:
        item = await self.item()
        r = await self.client.post(
            f"/api/v1/items/{item['id']}/inspections",
            json={"kind": "before_use", "result": "pass"},
            headers=self.h("prop_master"),
        )
        assert r.status_code == 201, r.text
        return item

    async def verification(self, caller: str = "scanner", **body: Any) -> dict[str, Any]:
        item = body.pop("item", None) or await self.ready()
        r = await self.client.post(
            "/api/v1/verify", json={"code": item["tag"]["code"], **body}, headers=self.h(caller)
        )
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        out["item_id"] = item["id"]
        self.secrets.add(out["verification_id"])
        return out

    async def confirmed_checkout_scan(self, performer: str = "Ava") -> dict[str, Any]:
        v = await self.verification("prop_master", purpose="checkout", handoff_to=performer)
        assert v["verdict"] == "CLEARED", v
        r = await self.client.post(
            f"/api/v1/verifications/{v['verification_id']}/confirm",
            json={"match": True},
            headers=self.h("prop_master"),
        )
        assert r.status_code == 200, r.text
        return v

    async def checked_out(self) -> dict[str, Any]:
        """An item out with a performer, and a fresh check-in scan of it."""
        v = await self.confirmed_checkout_scan()
        r = await self.client.post(
            f"/api/v1/productions/{self.p}/checkouts",
            json={"verification_id": v["verification_id"], "performer": "Ava"},
            headers=self.h("prop_master"),
        )
        assert r.status_code == 201, r.text
        item = {"id": v["item_id"], "tag": {"code": v["code"]}}
        return await self.verification("prop_master", item=item, purpose="checkin")

    async def incident(self) -> str:
        item = await self.item()
        r = await self.client.post(
            f"/api/v1/productions/{self.p}/incidents",
            json={"kind": "damaged", "description": "P-secret incident", "item_id": item["id"]},
            headers=self.h("scanner"),
        )
        assert r.status_code == 201, r.text
        incident_id: str = r.json()["id"]
        self.secrets.add(incident_id)
        return incident_id

    async def account(self) -> tuple[str, str]:
        """A fresh account of studio A (email, user id)."""
        email = f"acct-{secrets.token_hex(4)}@a.test"
        r = await self.client.post(
            f"/api/v1/studios/{self.w.studio_id}/accounts",
            json={"email": email, "password": self.w.password},
            headers=self.h("studio_admin"),
        )
        assert r.status_code == 201, r.text
        return email, r.json()["id"]

    async def fresh_token(self, caller: str) -> str:
        """A second token for the caller's identity, made in the database (sign-out
        revokes it; signing in again would spend the sign-in rate limit)."""
        r = await self.client.get("/api/v1/auth/me", headers=self.h(caller))
        assert r.status_code == 200, r.text
        me = r.json()
        token = f"pct_{secrets.token_urlsafe(32)}"
        production = None
        if me["user_id"] is None:
            production = uuid.UUID(next(iter(me["production_roles"])))
        await self.db.execute(
            "INSERT INTO tokens (token_hash, user_id, production_id, device_name, expires_at)"
            " VALUES ($1, $2, $3, $4, now() + interval '1 hour')",
            hashlib.sha256(token.encode()).digest(),
            None if me["user_id"] is None else uuid.UUID(me["user_id"]),
            production,
            me["device_name"],
        )
        return token


Build = Callable[[Ctx, str], Awaitable[Req]]


@dataclass
class Op:
    """One operation of the schema and what each caller must get."""

    method: str
    path: str
    expect: str
    build: Build
    #: The body carries the credential (password, enrollment code): whoever sends it
    #: acts as its owner, so the answer is not checked for P's identifiers.
    public: bool = False

    def expected(self) -> dict[str, int]:
        codes = [int(c) for c in self.expect.split()]
        assert len(codes) == len(CALLERS), self.path
        return dict(zip(CALLERS, codes, strict=True))


async def _p(ctx: Ctx, caller: str, suffix: str = "") -> Req:
    return Req(f"/api/v1/productions/{ctx.p}{suffix}")


def _on_p(suffix: str, **kwargs: Any) -> Build:
    async def build(ctx: Ctx, caller: str) -> Req:
        return Req(f"/api/v1/productions/{ctx.p}{suffix}", kwargs)

    return build


def _on_item(
    suffix: str = "", body: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> Build:
    async def build(ctx: Ctx, caller: str) -> Req:
        item = await ctx.item()
        kwargs = {} if body is None else body(item)
        return Req(f"/api/v1/items/{item['id']}{suffix}", kwargs)

    return build


def _fixed(path: str, **kwargs: Any) -> Build:
    async def build(ctx: Ctx, caller: str) -> Req:
        return Req(path, kwargs)

    return build


async def _sign_in(ctx: Ctx, caller: str) -> Req:
    email = f"prop_master-{ctx.w.tag}@a.test"
    return Req("/api/v1/auth/sign-in", {"json": {"email": email, "password": ctx.w.password}})


async def _sign_out(ctx: Ctx, caller: str) -> Req:
    if caller == "anon":
        return Req("/api/v1/auth/sign-out")
    token = await ctx.fresh_token(caller)
    return Req("/api/v1/auth/sign-out", {"headers": {"Authorization": f"Bearer {token}"}})


async def _enroll(ctx: Ctx, caller: str) -> Req:
    r = await ctx.client.post(
        f"/api/v1/productions/{ctx.p}/enrollment-codes", headers=ctx.h("prop_master")
    )
    assert r.status_code == 201, r.text
    return Req("/api/v1/auth/enroll", {"json": {"code": r.json()["code"], "device_name": "t"}})


async def _revoke_device(ctx: Ctx, caller: str) -> Req:
    # A phone of its own each time (never the matrix's own device caller).
    from api.auth import hash_secret

    enroll = await _enroll(ctx, caller)
    r = await ctx.client.post(enroll.path, **enroll.kwargs)
    assert r.status_code == 200, r.text
    token_id = await ctx.db.fetchval(
        "SELECT id FROM tokens WHERE token_hash = $1", hash_secret(r.json()["token"])
    )
    return Req(f"/api/v1/productions/{ctx.p}/devices/{token_id}/revoke")


async def _create_production(ctx: Ctx, caller: str) -> Req:
    name = f"New {secrets.token_hex(4)}"
    return Req("/api/v1/productions", {"json": {"studio_id": ctx.w.studio_id, "name": name}})


async def _create_account(ctx: Ctx, caller: str) -> Req:
    body = {"email": f"new-{secrets.token_hex(4)}@a.test", "password": "long enough pw"}
    return Req(f"/api/v1/studios/{ctx.w.studio_id}/accounts", {"json": body})


async def _archive(ctx: Ctx, caller: str) -> Req:
    if caller != "studio_admin":
        return Req(f"/api/v1/productions/{ctx.p}/archive")
    # The one caller allowed archives a production of its own, not P.
    r = await ctx.client.post(
        "/api/v1/productions",
        json={"studio_id": ctx.w.studio_id, "name": f"Archive me {secrets.token_hex(4)}"},
        headers=ctx.h("studio_admin"),
    )
    assert r.status_code == 201, r.text
    return Req(f"/api/v1/productions/{r.json()['id']}/archive")


async def _add_member(ctx: Ctx, caller: str) -> Req:
    email, _ = await ctx.account()
    return Req(
        f"/api/v1/productions/{ctx.p}/members", {"json": {"email": email, "role": "auditor"}}
    )


async def _accept_invitation(ctx: Ctx, caller: str) -> Req:
    # An invitation to a fresh production of studio A, not P: the code is what grants
    # the membership, so every account that holds one joins (outsiders of P included),
    # and P's own rows must stay closed to them for the rest of the matrix.
    r = await ctx.client.post(
        "/api/v1/productions",
        json={"studio_id": ctx.w.studio_id, "name": f"Invited {secrets.token_hex(4)}"},
        headers=ctx.h("studio_admin"),
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    # For the caller's own account (a phone has none: it is refused before the code).
    me = await ctx.client.get("/api/v1/auth/me", headers=ctx.h(caller))
    email = (me.json().get("email") if me.status_code == 200 else None) or "nobody@a.test"
    r = await ctx.client.post(
        f"/api/v1/productions/{pid}/invitations",
        json={"role": "auditor", "email": email},
        headers=ctx.h("studio_admin"),
    )
    assert r.status_code == 201, r.text
    return Req("/api/v1/invitations/accept", {"json": {"code": r.json()["code"]}})


async def _withdraw_invitation(ctx: Ctx, caller: str) -> Req:
    r = await ctx.client.post(
        f"/api/v1/productions/{ctx.p}/invitations",
        json={"role": "scanner", "email": f"withdrawn-{secrets.token_hex(4)}@elsewhere.test"},
        headers=ctx.h("studio_admin"),
    )
    assert r.status_code == 201, r.text
    ctx.secrets.add(r.json()["id"])
    return Req(f"/api/v1/productions/{ctx.p}/invitations/{r.json()['id']}/withdraw")


async def _remove_member(ctx: Ctx, caller: str) -> Req:
    email, user_id = await ctx.account()
    r = await ctx.client.post(
        f"/api/v1/productions/{ctx.p}/members",
        json={"email": email, "role": "auditor"},
        headers=ctx.h("studio_admin"),
    )
    assert r.status_code == 200, r.text
    return Req(f"/api/v1/productions/{ctx.p}/members/{user_id}")


async def _create_item(ctx: Ctx, caller: str) -> Req:
    return Req(f"/api/v1/productions/{ctx.p}/items", {"json": {**ITEM, "name": "P-secret new"}})


async def _add_photo(ctx: Ctx, caller: str) -> Req:
    item = await ctx.item()
    files = {"photo": ("p.jpg", jpeg(64, 48), "image/jpeg")}
    return Req(f"/api/v1/items/{item['id']}/photos", {"files": files})


async def _revoke(ctx: Ctx, caller: str) -> Req:
    item = await ctx.item()
    return Req(f"/api/v1/tags/{item['tag']['id']}/revoke")


async def _labels(ctx: Ctx, caller: str) -> Req:
    item = await ctx.item()
    return Req(f"/api/v1/productions/{ctx.p}/labels", {"json": {"item_ids": [item["id"]]}})


async def _verify_p_code(ctx: Ctx, caller: str) -> Req:
    item = await ctx.ready()
    return Req("/api/v1/verify", {"json": {"code": item["tag"]["code"]}})


async def _confirm(ctx: Ctx, caller: str) -> Req:
    v = await ctx.verification("scanner")
    return Req(f"/api/v1/verifications/{v['verification_id']}/confirm", {"json": {"match": True}})


async def _report_incident(ctx: Ctx, caller: str) -> Req:
    item = await ctx.item()
    body = {"kind": "damaged", "description": "cracked grip", "item_id": item["id"]}
    return Req(f"/api/v1/productions/{ctx.p}/incidents", {"json": body})


async def _resolve(ctx: Ctx, caller: str) -> Req:
    incident_id = await ctx.incident()
    return Req(f"/api/v1/incidents/{incident_id}/resolve", {"json": {"notes": "glued"}})


async def _check_out(ctx: Ctx, caller: str) -> Req:
    v = await ctx.confirmed_checkout_scan()
    body = {"verification_id": v["verification_id"], "performer": "Ava"}
    return Req(f"/api/v1/productions/{ctx.p}/checkouts", {"json": body})


async def _check_in(ctx: Ctx, caller: str) -> Req:
    v = await ctx.checked_out()
    body = {"verification_id": v["verification_id"]}
    return Req(f"/api/v1/productions/{ctx.p}/checkins", {"json": body})


async def _set_policy(ctx: Ctx, caller: str) -> Req:
    return Req(f"/api/v1/productions/{ctx.p}/policy", {"json": {"inspection_max_age_hours": 12}})


async def _edit(ctx: Ctx, caller: str) -> Req:
    item = await ctx.item()
    body = {"version": item["version"], "description": "re-painted"}
    return Req(f"/api/v1/items/{item['id']}", {"json": body})


async def _inspect(ctx: Ctx, caller: str) -> Req:
    item = await ctx.item()
    body = {"kind": "periodic", "result": "pass"}
    return Req(f"/api/v1/items/{item['id']}/inspections", {"json": body})


async def _studio_status(ctx: Ctx, caller: str) -> Req:
    return Req(f"/api/v1/studios/{ctx.w.studio_id}/status")


_ALL_200 = " ".join(["200"] * len(CALLERS))
_AUTHED = "401 " + " ".join(["200"] * (len(CALLERS) - 1))

#: Every operation, keyed by operationId.
MATRIX: dict[str, Op] = {
    "health": Op("GET", "/health", _ALL_200, _fixed("/health")),
    "attestationKey": Op(
        "GET",
        "/.well-known/propcheck-attestation-key",
        _ALL_200,
        _fixed("/.well-known/propcheck-attestation-key"),
    ),
    # Public: the credential is in the body, whoever sends it.
    "signIn": Op("POST", "/api/v1/auth/sign-in", _ALL_200, _sign_in, public=True),
    "enrollDevice": Op("POST", "/api/v1/auth/enroll", _ALL_200, _enroll, public=True),
    "me": Op("GET", "/api/v1/auth/me", _AUTHED, _fixed("/api/v1/auth/me")),
    "signOut": Op("POST", "/api/v1/auth/sign-out", "401 " + " ".join(["204"] * 10), _sign_out),
    "listProductions": Op("GET", "/api/v1/productions", _AUTHED, _fixed("/api/v1/productions")),
    "listStudios": Op("GET", "/api/v1/studios", _AUTHED, _fixed("/api/v1/studios")),
    "createProduction": Op(
        "POST", "/api/v1/productions", _STUDIO_ADMIN_ONLY.format(ok=201), _create_production
    ),
    "createAccount": Op(
        "POST",
        "/api/v1/studios/{studio_id}/accounts",
        _STUDIO_ADMIN_ONLY.format(ok=201),
        _create_account,
    ),
    "studioStatus": Op(
        "GET",
        "/api/v1/studios/{studio_id}/status",
        "401 200 200 404 404 404 404 404 404 404 404",
        _studio_status,
    ),
    "getProduction": Op("GET", "/api/v1/productions/{production_id}", _read(), _on_p("")),
    "archiveProduction": Op(
        "POST",
        "/api/v1/productions/{production_id}/archive",
        "401 200 403 403 403 403 403 404 404 404 404",
        _archive,
    ),
    "listMembers": Op(
        "GET", "/api/v1/productions/{production_id}/members", _read(), _on_p("/members")
    ),
    "addMember": Op(
        "POST",
        "/api/v1/productions/{production_id}/members",
        "401 200 403 403 403 403 403 404 404 404 404",
        _add_member,
    ),
    "createInvitation": Op(
        "POST",
        "/api/v1/productions/{production_id}/invitations",
        "401 201 403 403 403 403 403 404 404 404 404",
        _on_p("/invitations", json={"role": "scanner", "email": "invited@elsewhere.test"}),
    ),
    "listInvitations": Op(
        "GET",
        "/api/v1/productions/{production_id}/invitations",
        "401 200 403 403 403 403 403 404 404 404 404",
        _on_p("/invitations"),
    ),
    "withdrawInvitation": Op(
        "POST",
        "/api/v1/productions/{production_id}/invitations/{invitation_id}/withdraw",
        "401 204 403 403 403 403 403 404 404 404 404",
        _withdraw_invitation,
    ),
    # A phone is no account: it cannot join anything.
    "acceptInvitation": Op(
        "POST",
        "/api/v1/invitations/accept",
        "401 200 200 200 200 200 403 200 200 200 200",
        _accept_invitation,
    ),
    "removeMember": Op(
        "DELETE",
        "/api/v1/productions/{production_id}/members/{user_id}",
        "401 204 403 403 403 403 403 404 404 404 404",
        _remove_member,
    ),
    "listDevices": Op(
        "GET", "/api/v1/productions/{production_id}/devices", _act(200), _on_p("/devices")
    ),
    "revokeDevice": Op(
        "POST",
        "/api/v1/productions/{production_id}/devices/{token_id}/revoke",
        _act(200),
        _revoke_device,
    ),
    "createEnrollmentCode": Op(
        "POST",
        "/api/v1/productions/{production_id}/enrollment-codes",
        _act(201),
        _on_p("/enrollment-codes"),
    ),
    "listItems": Op("GET", "/api/v1/productions/{production_id}/items", _read(), _on_p("/items")),
    "createItem": Op("POST", "/api/v1/productions/{production_id}/items", _act(201), _create_item),
    "getItem": Op("GET", "/api/v1/items/{item_id}", _read(), _on_item()),
    "editItem": Op("PATCH", "/api/v1/items/{item_id}", _act(200), _edit),
    "itemHistory": Op("GET", "/api/v1/items/{item_id}/history", _read(), _on_item("/history")),
    "addItemPhoto": Op("POST", "/api/v1/items/{item_id}/photos", _act(201), _add_photo),
    "issueTag": Op("POST", "/api/v1/items/{item_id}/tags", _act(201), _on_item("/tags")),
    "listTags": Op("GET", "/api/v1/productions/{production_id}/tags", _read(), _on_p("/tags")),
    "revokeTag": Op("POST", "/api/v1/tags/{tag_id}/revoke", _act(200), _revoke),
    "itemLabelPng": Op(
        "GET", "/api/v1/items/{item_id}/label.png", _act(200), _on_item("/label.png")
    ),
    "printLabels": Op("POST", "/api/v1/productions/{production_id}/labels", _act(200), _labels),
    # Outsiders who may verify somewhere get a recorded STOP other_production in their
    # own production; callers who may verify nowhere get 403.
    "verify": Op(
        "POST", "/api/v1/verify", "401 403 403 200 200 403 200 200 200 200 403", _verify_p_code
    ),
    # The scanner's own verification: only the person who scanned may confirm it.
    "confirmVerification": Op(
        "POST",
        "/api/v1/verifications/{verification_id}/confirm",
        "401 403 403 403 200 403 403 404 404 404 404",
        _confirm,
    ),
    "listInspections": Op(
        "GET", "/api/v1/items/{item_id}/inspections", _read(), _on_item("/inspections")
    ),
    "recordInspection": Op("POST", "/api/v1/items/{item_id}/inspections", _act(201), _inspect),
    "getPolicy": Op("GET", "/api/v1/productions/{production_id}/policy", _read(), _on_p("/policy")),
    "setPolicy": Op("PUT", "/api/v1/productions/{production_id}/policy", _act(200), _set_policy),
    "listIncidents": Op(
        "GET", "/api/v1/productions/{production_id}/incidents", _read(), _on_p("/incidents")
    ),
    "reportIncident": Op(
        "POST", "/api/v1/productions/{production_id}/incidents", _verify(201), _report_incident
    ),
    "resolveIncident": Op("POST", "/api/v1/incidents/{incident_id}/resolve", _act(200), _resolve),
    "custodyBoard": Op(
        "GET", "/api/v1/productions/{production_id}/custody", _read(), _on_p("/custody")
    ),
    "checkOut": Op("POST", "/api/v1/productions/{production_id}/checkouts", _act(201), _check_out),
    "checkIn": Op("POST", "/api/v1/productions/{production_id}/checkins", _act(200), _check_in),
    "getSnapshot": Op(
        "GET", "/api/v1/productions/{production_id}/snapshot", _verify(200), _on_p("/snapshot")
    ),
    "productionStatus": Op(
        "GET", "/api/v1/productions/{production_id}/status", _read(), _on_p("/status")
    ),
    "productionReport": Op(
        "GET",
        "/api/v1/productions/{production_id}/reports",
        _read(),
        _on_p("/reports", params={"format": "json"}),
    ),
    "listEvents": Op(
        "GET", "/api/v1/productions/{production_id}/events", _read(), _on_p("/events")
    ),
    "appendCorrection": Op(
        "POST",
        "/api/v1/productions/{production_id}/corrections",
        _act(201),
        _on_p("/corrections", json={"corrects_seq": 1, "note": "The scene was 12, not 21."}),
    ),
    "attestProduction": Op(
        "POST",
        "/api/v1/productions/{production_id}/attestations",
        _read(201),
        _on_p("/attestations"),
    ),
}

_FINGERPRINT = """
SELECT (SELECT count(*) FROM events) AS events,
       (SELECT coalesce(sum(version), 0) FROM items) AS item_versions,
       (SELECT count(*) FROM items) AS items,
       (SELECT count(*) FROM photos) AS photos,
       (SELECT count(*) FROM tags WHERE status = 'active') AS active_tags,
       (SELECT count(first_printed_at) FROM tags) AS printed,
       (SELECT count(*) FROM tokens WHERE revoked_at IS NULL) AS live_tokens,
       (SELECT count(*) FROM enrollment_codes WHERE used_at IS NULL) AS open_codes,
       (SELECT count(*) FROM member_invitations
         WHERE used_at IS NULL AND withdrawn_at IS NULL) AS open_invitations,
       (SELECT count(*) FROM verifications) AS verifications,
       (SELECT count(*) FROM confirmations) AS confirmations,
       (SELECT count(*) FROM inspections) AS inspections,
       (SELECT count(*) FROM incidents) AS incidents,
       (SELECT count(*) FROM incident_resolutions) AS resolutions,
       (SELECT count(*) FROM checkouts WHERE in_at IS NULL) AS out,
       (SELECT count(*) FROM production_members) AS members,
       (SELECT count(*) FROM studio_members) AS studio_members,
       (SELECT count(*) FROM users) AS users,
       (SELECT count(*) FROM productions WHERE status = 'active') AS productions
"""


async def fingerprint(db: asyncpg.Connection) -> dict[str, int]:
    """Counts that any write would change."""
    return dict(await db.fetchrow(_FINGERPRINT))


async def _register(client: AsyncTestClient[Any], token: str, pid: str) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/productions/{pid}/items",
        json={**ITEM, "name": "Foreign prop"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture(scope="module")
async def ctx(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> Ctx:
    """Its own world: the matrix archives, revokes and signs out."""
    w = await make_world(db, client)
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/enrollment-codes", headers=w.h("prop_master")
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/enroll", json={"code": r.json()["code"]})
    assert r.status_code == 200, r.text
    device_token = r.json()["token"]
    q_item = await _register(client, w.tokens["q_prop_master"], w.other_production_id)
    r = await client.post(
        "/api/v1/verify", json={"code": q_item["tag"]["code"]}, headers=w.h("q_scanner")
    )
    assert r.status_code == 200, r.text
    q_verification = r.json()
    p2_item = await _register(client, w.tokens["p2_prop_master"], w.sibling_production_id)
    return Ctx(
        client=client,
        db=db,
        w=w,
        device_token=device_token,
        q_item=q_item,
        q_verification=q_verification,
        p2_item=p2_item,
        secrets={str(w.production_id)},
    )


async def test_every_operation_is_in_the_matrix(client: AsyncTestClient[Any]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    live = {
        op["operationId"]: (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    }
    missing = sorted(set(live) - set(MATRIX))
    assert not missing, f"operations without a row in the authorization matrix: {missing}"
    stale = sorted(set(MATRIX) - set(live))
    assert not stale, f"rows for operations the schema no longer has: {stale}"
    for op_id, (method, path) in live.items():
        assert (MATRIX[op_id].method, MATRIX[op_id].path) == (method, path), op_id


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.mark.parametrize("op_id", sorted(MATRIX))
async def test_matrix(ctx: Ctx, op_id: str) -> None:
    op = MATRIX[op_id]
    failures = []
    for caller, want in op.expected().items():
        req = await op.build(ctx, caller)
        kwargs = dict(req.kwargs)
        kwargs["headers"] = {**ctx.h(caller), **kwargs.get("headers", {})}
        p_head = await ctx.db.fetchval("SELECT count(*) FROM events WHERE chain_id = $1", ctx.p)
        before = await fingerprint(ctx.db)
        r = await ctx.client.request(op.method, req.path, **kwargs)
        after = await fingerprint(ctx.db)
        if r.status_code != want:
            failures.append(f"{caller}: {r.status_code} (want {want}) {r.text[:200]}")
            continue
        if want in (401, 403, 404):
            # A refusal writes nothing, and says nothing about the object.
            assert before == after, f"{op_id} by {caller}: refused but wrote {before} -> {after}"
            body = r.json()
            assert set(body) <= {"status_code", "error", "detail"}, body
            assert not _UUID.search(body["detail"]), body
        if caller in OUTSIDERS and not op.public:
            leaked = [s for s in ctx.secrets if s in r.text]
            assert not leaked, f"{op_id} answered {caller} with P's {leaked}: {r.text[:300]}"
            p_now = await ctx.db.fetchval("SELECT count(*) FROM events WHERE chain_id = $1", ctx.p)
            assert p_now == p_head, f"{op_id} by {caller} wrote into P's record"
    assert not failures, f"{op_id}:\n" + "\n".join(failures)


async def test_verify_of_a_p_code_from_q_is_stop_and_reveals_nothing(ctx: Ctx) -> None:
    item = await ctx.ready()
    p_events = await ctx.db.fetchval("SELECT count(*) FROM events WHERE chain_id = $1", ctx.p)
    for caller in ("q_scanner", "q_prop_master", "p2_prop_master"):
        r = await ctx.client.post(
            "/api/v1/verify", json={"code": item["tag"]["code"]}, headers=ctx.h(caller)
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verdict"] == "STOP"
        assert reason_codes(body) == ["other_production"]
        assert body["item"] is None
        for secret in (item["id"], item["name"], item["tag"]["id"], ctx.p, "Rubber Colt"):
            assert secret not in r.text
        # Recorded in the scanner's own production, pointing at nothing of P.
        row = await ctx.db.fetchrow(
            "SELECT production_id, item_id, tag_id FROM verifications WHERE id = $1",
            uuid.UUID(body["verification_id"]),
        )
        assert str(row["production_id"]) != ctx.p
        assert row["item_id"] is None and row["tag_id"] is None
    assert (
        await ctx.db.fetchval("SELECT count(*) FROM events WHERE chain_id = $1", ctx.p) == p_events
    )


async def test_foreign_ids_in_the_path_are_404_for_p_members(ctx: Ctx) -> None:
    """P's prop master (every permission in P) reaching for Q's and P2's objects."""
    q_item, p2_item = ctx.q_item, ctx.p2_item
    q_v = ctx.q_verification["verification_id"]
    q_pid, p2_pid = ctx.w.other_production_id, ctx.w.sibling_production_id
    reqs: list[tuple[str, str, dict[str, Any]]] = []
    for foreign in (q_item, p2_item):
        i = foreign["id"]
        reqs += [
            ("GET", f"/api/v1/items/{i}", {}),
            ("PATCH", f"/api/v1/items/{i}", {"json": {"version": 1, "name": "mine now"}}),
            ("GET", f"/api/v1/items/{i}/history", {}),
            ("POST", f"/api/v1/items/{i}/tags", {}),
            ("GET", f"/api/v1/items/{i}/inspections", {}),
            (
                "POST",
                f"/api/v1/items/{i}/inspections",
                {"json": {"kind": "periodic", "result": "fail"}},
            ),
            ("GET", f"/api/v1/items/{i}/label.png", {}),
            ("POST", f"/api/v1/tags/{foreign['tag']['id']}/revoke", {}),
            (
                "POST",
                f"/api/v1/items/{i}/photos",
                {"files": {"photo": ("p.jpg", jpeg(32, 32), "image/jpeg")}},
            ),
        ]
    for pid in (q_pid, p2_pid):
        reqs += [
            ("GET", f"/api/v1/productions/{pid}", {}),
            ("GET", f"/api/v1/productions/{pid}/items", {}),
            ("POST", f"/api/v1/productions/{pid}/items", {"json": ITEM}),
            ("PUT", f"/api/v1/productions/{pid}/policy", {"json": {}}),
            ("GET", f"/api/v1/productions/{pid}/snapshot", {}),
            ("POST", f"/api/v1/productions/{pid}/enrollment-codes", {}),
            ("POST", f"/api/v1/productions/{pid}/incidents", {"json": {"kind": "other"}}),
        ]
    reqs += [
        ("POST", f"/api/v1/verifications/{q_v}/confirm", {"json": {"match": False}}),
        (
            "POST",
            f"/api/v1/studios/{ctx.w.other_studio_id}/accounts",
            {"json": {"email": f"x-{ctx.w.tag}@q.test", "password": "long enough pw"}},
        ),
        ("GET", f"/api/v1/studios/{ctx.w.other_studio_id}/status", {}),
    ]
    before = await fingerprint(ctx.db)
    for method, path, kwargs in reqs:
        r = await ctx.client.request(method, path, headers=ctx.h("prop_master"), **kwargs)
        assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text[:200]}"
        assert "Foreign prop" not in r.text
    assert await fingerprint(ctx.db) == before


async def test_foreign_ids_in_bodies_are_refused(ctx: Ctx) -> None:
    """Ids of other productions inside request bodies never reach their objects."""
    p, h = ctx.p, ctx.h("prop_master")
    q_v = ctx.q_verification["verification_id"]
    before = await fingerprint(ctx.db)
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        # An incident in P about an item of Q or P2.
        *(
            (
                "POST",
                f"/api/v1/productions/{p}/incidents",
                {"json": {"kind": "damaged", "item_id": foreign["id"]}},
                404,
            )
            for foreign in (ctx.q_item, ctx.p2_item)
        ),
        # A hand-off in P backed by a verification made in Q.
        (
            "POST",
            f"/api/v1/productions/{p}/checkouts",
            {"json": {"verification_id": q_v, "performer": "Ava"}},
            404,
        ),
        ("POST", f"/api/v1/productions/{p}/checkins", {"json": {"verification_id": q_v}}, 404),
        # Labels of Q's items printed from P.
        (
            "POST",
            f"/api/v1/productions/{p}/labels",
            {"json": {"item_ids": [ctx.q_item["id"]]}},
            404,
        ),
        # A verify that claims to scan in Q (invisible) or P2 (invisible to P's members).
        (
            "POST",
            "/api/v1/verify",
            {
                "json": {
                    "code": ctx.q_item["tag"]["code"],
                    "production_id": ctx.w.other_production_id,
                }
            },
            404,
        ),
    ]
    for method, path, kwargs, status in cases:
        r = await ctx.client.request(method, path, headers=h, **kwargs)
        assert r.status_code == status, f"{path}: {r.status_code} {r.text[:200]}"
        assert "Foreign prop" not in r.text
    assert await fingerprint(ctx.db) == before

    # The studio admin sees P2 but may not verify there: 403, not a silent scan.
    r = await ctx.client.post(
        "/api/v1/verify",
        json={"code": ctx.p2_item["tag"]["code"], "production_id": ctx.w.sibling_production_id},
        headers=ctx.h("studio_admin"),
    )
    assert r.status_code == 403, r.text

    # An evidence photo of another production's item cannot be attached to P's item.
    r = await ctx.client.post(
        f"/api/v1/items/{ctx.q_item['id']}/photos",
        files={"photo": ("p.jpg", jpeg(32, 32), "image/jpeg")},
        headers=ctx.h("q_prop_master"),
    )
    assert r.status_code == 201, r.text
    q_photo = r.json()["id"]
    mine = await ctx.item()
    r = await ctx.client.patch(
        f"/api/v1/items/{mine['id']}",
        json={
            "version": mine["version"],
            "capability_class": "deactivated",
            "evidence": {
                "certificate_number": "X",
                "issuer": "Y",
                "date": "2020-01-01",
                "document_photo_id": q_photo,
            },
        },
        headers=h,
    )
    assert r.status_code == 400, r.text
    assert (await ctx.client.get(f"/api/v1/items/{mine['id']}", headers=h)).json()["version"] == 1


async def test_client_ids_of_other_productions_are_not_replays(ctx: Ctx) -> None:
    """An offline client_id is a key into the caller's own production only: reusing one
    from another production neither returns that production's record nor fails open."""
    w, p = ctx.w, ctx.p
    # Records in P made with client ids.
    cid_v, cid_out, cid_in, cid_inc = (str(uuid.uuid4()) for _ in range(4))
    item = await ctx.ready()
    r = await ctx.client.post(
        "/api/v1/verify",
        json={
            "code": item["tag"]["code"],
            "purpose": "checkout",
            "handoff_to": "Ava",
            "client_id": cid_v,
        },
        headers=ctx.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    v = r.json()
    r = await ctx.client.post(
        f"/api/v1/verifications/{v['verification_id']}/confirm",
        json={"match": True},
        headers=ctx.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    r = await ctx.client.post(
        f"/api/v1/productions/{p}/checkouts",
        json={"verification_id": v["verification_id"], "performer": "Ava", "client_id": cid_out},
        headers=ctx.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    r = await ctx.client.post(
        "/api/v1/verify",
        json={"code": item["tag"]["code"], "purpose": "checkin"},
        headers=ctx.h("prop_master"),
    )
    r = await ctx.client.post(
        f"/api/v1/productions/{p}/checkins",
        json={"verification_id": r.json()["verification_id"], "client_id": cid_in},
        headers=ctx.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    r = await ctx.client.post(
        f"/api/v1/productions/{p}/incidents",
        json={"kind": "other", "description": "P-secret note", "client_id": cid_inc},
        headers=ctx.h("scanner"),
    )
    assert r.status_code == 201, r.text

    # Q's prop master replays those client ids in Q.
    qh, q = ctx.h("q_prop_master"), w.other_production_id
    q_ready = await _register(ctx.client, w.tokens["q_prop_master"], q)
    r = await ctx.client.post(
        f"/api/v1/items/{q_ready['id']}/inspections",
        json={"kind": "before_use", "result": "pass"},
        headers=qh,
    )
    assert r.status_code == 201, r.text
    r = await ctx.client.post(
        "/api/v1/verify",
        json={"code": q_ready["tag"]["code"], "client_id": cid_v},
        headers=qh,
    )
    assert r.status_code == 404, r.text
    r = await ctx.client.post(
        "/api/v1/verify",
        json={"code": q_ready["tag"]["code"], "purpose": "checkout", "handoff_to": "Bo"},
        headers=qh,
    )
    q_v = r.json()["verification_id"]
    await ctx.client.post(f"/api/v1/verifications/{q_v}/confirm", json={"match": True}, headers=qh)
    p_events = await ctx.db.fetchval("SELECT count(*) FROM events WHERE chain_id = $1", p)
    answers = [
        await ctx.client.post(
            f"/api/v1/productions/{q}/checkouts",
            json={"verification_id": q_v, "performer": "Bo", "client_id": cid_out},
            headers=qh,
        ),
        await ctx.client.post(
            f"/api/v1/productions/{q}/checkins",
            json={"verification_id": q_v, "client_id": cid_in},
            headers=qh,
        ),
        await ctx.client.post(
            f"/api/v1/productions/{q}/incidents",
            json={"kind": "other", "client_id": cid_inc},
            headers=qh,
        ),
    ]
    for r in answers:
        assert r.status_code in (404, 409), r.text
        for secret in (item["id"], "Ava", "P-secret", p):
            assert secret not in r.text, r.text
    assert await ctx.db.fetchval("SELECT count(*) FROM events WHERE chain_id = $1", p) == p_events


async def test_unknown_fields_are_refused_everywhere(ctx: Ctx) -> None:
    """Mass assignment: no body accepts a field it does not declare, and nothing is written."""
    item = await ctx.item()
    v = await ctx.verification("scanner")
    p = ctx.p
    bodies: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "prop_master",
            "POST",
            f"/api/v1/productions/{p}/items",
            {**ITEM, "production_id": ctx.w.other_production_id},
        ),
        (
            "prop_master",
            "POST",
            f"/api/v1/productions/{p}/items",
            {**ITEM, "id": str(uuid.uuid4())},
        ),
        (
            "prop_master",
            "PATCH",
            f"/api/v1/items/{item['id']}",
            {"version": 1, "production_id": ctx.w.other_production_id},
        ),
        ("prop_master", "PATCH", f"/api/v1/items/{item['id']}", {"version": 1, "created_by": None}),
        (
            "prop_master",
            "PUT",
            f"/api/v1/productions/{p}/policy",
            {"clearable_classes": [], "admin": True},
        ),
        (
            "prop_master",
            "POST",
            f"/api/v1/items/{item['id']}/inspections",
            {"kind": "periodic", "result": "pass", "actor": "user:x"},
        ),
        (
            "scanner",
            "POST",
            f"/api/v1/productions/{p}/incidents",
            {"kind": "other", "production_id": ctx.w.other_production_id},
        ),
        ("scanner", "POST", "/api/v1/verify", {"code": item["tag"]["code"], "verdict": "CLEARED"}),
        (
            "scanner",
            "POST",
            f"/api/v1/verifications/{v['verification_id']}/confirm",
            {"match": True, "actor": "x"},
        ),
        (
            "prop_master",
            "POST",
            f"/api/v1/productions/{p}/checkouts",
            {"verification_id": v["verification_id"], "performer": "A", "out_by": "x"},
        ),
        (
            "studio_admin",
            "POST",
            f"/api/v1/productions/{p}/members",
            {"email": "a@b.cd", "role": "auditor", "studio_role": "studio_admin"},
        ),
        (
            "studio_admin",
            "POST",
            "/api/v1/productions",
            {"studio_id": ctx.w.studio_id, "name": "N", "status": "archived"},
        ),
        (
            "studio_admin",
            "POST",
            f"/api/v1/studios/{ctx.w.studio_id}/accounts",
            {"email": "x@y.zz", "password": "long enough pw", "is_admin": True},
        ),
        (
            "anon",
            "POST",
            "/api/v1/auth/sign-in",
            {"email": "x@y.zz", "password": "p", "role": "studio_admin"},
        ),
        ("anon", "POST", "/api/v1/auth/enroll", {"code": "pce_x", "production_id": p}),
    ]
    before = await fingerprint(ctx.db)
    for caller, method, path, body in bodies:
        r = await ctx.client.request(method, path, json=body, headers=ctx.h(caller))
        assert r.status_code == 400, f"{method} {path}: {r.status_code} {r.text[:200]}"
    # The multipart forms refuse unknown fields too.
    r = await ctx.client.post(
        f"/api/v1/productions/{p}/items",
        data={"item": '{"name": "x", "capability_class": "non_firing_replica"}', "owner": "me"},
        files={"photos": ("p.jpg", jpeg(32, 32), "image/jpeg")},
        headers=ctx.h("prop_master"),
    )
    assert r.status_code == 400, r.text
    assert await fingerprint(ctx.db) == before


async def test_property_level_limits_of_each_role(ctx: Ctx) -> None:
    item = await ctx.item()
    url = f"/api/v1/items/{item['id']}"
    before = await fingerprint(ctx.db)
    # A scanner (and a device) may see an item but never change one.
    for caller in ("scanner", "device", "auditor", "studio_admin"):
        r = await ctx.client.patch(
            url, json={"version": 1, "status": "retired"}, headers=ctx.h(caller)
        )
        assert r.status_code == 403, r.text
    # Nobody can make a restricted class clearable, prop master included.
    for restricted in ("functional_firearm", "blank_firing", "airsoft_projectile"):
        r = await ctx.client.put(
            f"/api/v1/productions/{ctx.p}/policy",
            json={"clearable_classes": ["non_firing_replica", restricted]},
            headers=ctx.h("prop_master"),
        )
        assert r.status_code == 400, r.text
    # Out-of-range policy values that would switch a rule off are refused.
    for bad in ({"inspection_max_age_hours": -1}, {"verification_valid_minutes": 0}):
        r = await ctx.client.put(
            f"/api/v1/productions/{ctx.p}/policy", json=bad, headers=ctx.h("prop_master")
        )
        assert r.status_code == 400, r.text
    # Roles outside the three production roles cannot be granted through members.
    r = await ctx.client.post(
        f"/api/v1/productions/{ctx.p}/members",
        json={"email": f"scanner-{ctx.w.tag}@a.test", "role": "studio_admin"},
        headers=ctx.h("studio_admin"),
    )
    assert r.status_code == 400, r.text
    assert await fingerprint(ctx.db) == before


async def test_quarantine_is_lifted_only_by_a_passing_inspection(ctx: Ctx) -> None:
    """Editing status cannot take an item out of quarantine: that would skip the
    inspection a failed check or an incident demands."""
    item = await ctx.ready()
    h = ctx.h("prop_master")
    r = await ctx.client.post(
        f"/api/v1/items/{item['id']}/inspections",
        json={"kind": "periodic", "result": "fail"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["item_status"] == "quarantined"
    current = (await ctx.client.get(f"/api/v1/items/{item['id']}", headers=h)).json()
    r = await ctx.client.patch(
        f"/api/v1/items/{item['id']}",
        json={"version": current["version"], "status": "active"},
        headers=h,
    )
    assert r.status_code == 409, r.text
    r = await ctx.client.post(
        "/api/v1/verify", json={"code": item["tag"]["code"]}, headers=ctx.h("scanner")
    )
    assert r.json()["verdict"] == "STOP"
    # Other edits of a quarantined item, and retiring it, stay possible.
    r = await ctx.client.patch(
        f"/api/v1/items/{item['id']}",
        json={"version": current["version"], "status": "retired"},
        headers=h,
    )
    assert r.status_code == 200, r.text


async def test_sign_in_answers_reveal_no_secrets(ctx: Ctx) -> None:
    r = await ctx.client.get("/api/v1/auth/me", headers=ctx.h("prop_master"))
    body = r.json()
    assert set(body) == {"user_id", "email", "device_name", "studio_roles", "production_roles"}
    assert "password" not in r.text and "argon2" not in r.text
    r = await ctx.client.get(f"/api/v1/productions/{ctx.p}/members", headers=ctx.h("auditor"))
    assert r.status_code == 200
    assert "argon2" not in r.text and "password" not in r.text


async def test_photos_are_served_only_at_their_signed_urls(ctx: Ctx) -> None:
    """/media is outside the schema: the HMAC in the URL is its only key, and only an
    authorised answer contains it."""
    item = await ctx.item()
    r = await ctx.client.post(
        f"/api/v1/items/{item['id']}/photos",
        files={"photo": ("p.jpg", jpeg(64, 48), "image/jpeg")},
        headers=ctx.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    url: str = r.json()["thumb_url"]
    path, _, query = url.partition("?")
    assert (await ctx.client.get(url)).status_code == 200
    sha = path.rsplit("/", 1)[1]
    forged = f"s={'0' * 32}"
    other = f"{path[: -len(sha)]}{'a' * 64}?{query}"
    for attempt in (path, f"{path}?{forged}", other, f"{path}?{query}0"):
        r = await ctx.client.get(attempt)
        assert r.status_code == 404, attempt
        assert sha not in r.text
    # Nobody outside P is ever handed the signed URL.
    for caller in OUTSIDERS:
        r = await ctx.client.get(f"/api/v1/items/{item['id']}", headers=ctx.h(caller))
        assert r.status_code == 404
        assert query not in r.text
