"""The registry API: accounts, productions, items, photos, tags, against real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.api.helpers import ITEM, enroll_phone, inspect, jpeg, reason_codes, verify
from tests.api.helpers import register as create_item
from tests.conftest import World
from verifier import codes

pytestmark = pytest.mark.asyncio


async def test_sign_in_wrong_password_is_401(client: AsyncTestClient[Any], world: World) -> None:
    r = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": f"prop_master-{world.tag}@a.test", "password": "nope"},
    )
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"


async def test_sign_out_revokes_the_token(client: AsyncTestClient[Any], world: World) -> None:
    r = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": f"auditor-{world.tag}@a.test", "password": world.password},
    )
    token = r.json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/auth/me", headers=h)).status_code == 200
    assert (await client.post("/api/v1/auth/sign-out", headers=h)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=h)).status_code == 401


async def test_tokens_are_stored_only_as_hashes(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    token = world.tokens["scanner"]
    rows = await db.fetch("SELECT token_hash::text AS h FROM tokens")
    assert all(token not in r["h"] for r in rows)
    assert (
        await db.fetchval("SELECT count(*) FROM tokens WHERE token_hash = $1", token.encode()) == 0
    )


async def test_no_token_is_401(client: AsyncTestClient[Any], world: World) -> None:
    r = await client.get(f"/api/v1/productions/{world.production_id}")
    assert r.status_code == 401
    r = await client.get(
        f"/api/v1/productions/{world.production_id}", headers={"Authorization": "Bearer forged"}
    )
    assert r.status_code == 401


async def test_productions_are_scoped(client: AsyncTestClient[Any], world: World) -> None:
    mine = await client.get("/api/v1/productions", headers=world.h("scanner"))
    assert [p["id"] for p in mine.json()] == [world.production_id]
    studio = await client.get("/api/v1/productions", headers=world.h("studio_auditor"))
    ids = {p["id"] for p in studio.json()}
    assert {world.production_id, world.sibling_production_id} <= ids
    assert world.other_production_id not in ids
    # Another studio's production does not exist for us: 404, never 403.
    r = await client.get(
        f"/api/v1/productions/{world.other_production_id}", headers=world.h("prop_master")
    )
    assert r.status_code == 404


async def test_only_studio_admin_creates_productions(
    client: AsyncTestClient[Any], world: World
) -> None:
    body = {"studio_id": world.studio_id, "name": "Sneaky"}
    r = await client.post("/api/v1/productions", json=body, headers=world.h("studio_auditor"))
    assert r.status_code == 403
    r = await client.post("/api/v1/productions", json=body, headers=world.h("other_studio_admin"))
    assert r.status_code == 404


async def test_register_item_issues_a_tag_and_records_it(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    item = await create_item(client, world)
    assert item["status"] == "active"
    assert item["tag"]["status"] == "active"
    code = item["tag"]["code"]
    assert codes.parse(item["tag"]["display"]) == code
    assert len(item["tag"]["display"]) <= 25
    kinds = await db.fetch(
        "SELECT kind FROM events WHERE subject_id = $1 ORDER BY seq", UUIDs(item["id"])
    )
    assert [k["kind"] for k in kinds] == ["item.registered", "tag.issued"]


def UUIDs(s: str) -> Any:
    import uuid

    return uuid.UUID(s)


async def test_register_with_photos_in_one_request(
    client: AsyncTestClient[Any], world: World
) -> None:
    files = [("photos", (f"p{i}.jpg", jpeg(1600, 1200), "image/jpeg")) for i in range(3)]
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/items",
        data={"item": '{"name": "Resin Winchester", "capability_class": "non_firing_replica"}'},
        files=files,
        headers=world.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    photos = r.json()["photos"]
    assert len(photos) == 3
    thumb = await client.get(photos[0]["thumb_url"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert "immutable" in thumb.headers["cache-control"]
    again = await client.get(
        photos[0]["thumb_url"], headers={"If-None-Match": thumb.headers["etag"]}
    )
    assert again.status_code == 304
    # A forged signature finds nothing.
    for sig in ("0" * 32, "\u00e9", ""):
        forged = photos[0]["thumb_url"].split("&s=")[0] + "&s=" + sig
        assert (await client.get(forged)).status_code == 404, sig
    # The URL carries its expiry day, under the signature: a later day is refused, and
    # a URL from the past (signed properly) no longer works.
    from api.media import URL_DAYS, _sign, _today

    path, query = photos[0]["thumb_url"].split("?")
    params = dict(p.split("=") for p in query.split("&"))
    assert int(params["e"]) == _today() + URL_DAYS
    later = f"{path}?e={int(params['e']) + 30}&s={params['s']}"
    assert (await client.get(later)).status_code == 404
    key = client.app.state.services.media_key
    sha = path.rsplit("/", 1)[-1]
    old = _today() - 1
    assert (await client.get(f"{path}?e={old}&s={_sign(key, sha, old)}")).status_code == 404
    ok = _today()
    assert (await client.get(f"{path}?e={ok}&s={_sign(key, sha, ok)}")).status_code == 200


async def test_a_bad_photo_leaves_no_item_behind(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    before = await db.fetchval("SELECT count(*) FROM items")
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/items",
        data={"item": '{"name": "Half", "capability_class": "non_firing_replica"}'},
        files=[
            ("photos", ("ok.jpg", jpeg(), "image/jpeg")),
            ("photos", ("bad.jpg", b"GIF89a not really", "image/jpeg")),
        ],
        headers=world.h("prop_master"),
    )
    assert r.status_code == 422
    assert r.json()["error"].startswith("image_")
    assert await db.fetchval("SELECT count(*) FROM items") == before


async def test_deactivated_needs_evidence(client: AsyncTestClient[Any], world: World) -> None:
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/items",
        json={"name": "Deact Enfield", "capability_class": "deactivated"},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 400
    assert "evidence" in r.json()["detail"]
    item = await create_item(
        client,
        world,
        name="Deact Enfield",
        capability_class="deactivated",
        evidence={"certificate_number": "DC-123", "issuer": "Proof House", "date": "2020-01-02"},
    )
    assert item["evidence"]["certificate_number"] == "DC-123"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({**ITEM, "colour": "red"}, "colour"),
        ({**ITEM, "capability_class": "laser"}, "capability_class"),
        ({**ITEM, "name": "a\u0000b"}, "name"),
        ({**ITEM, "name": "x" * 201}, "name"),
        ({**ITEM, "name": 12}, "name"),
        ({**ITEM, "distinctive_marks": ["m"] * 31}, "distinctive_marks"),
    ],
)
async def test_bad_item_input_is_a_clear_400(
    client: AsyncTestClient[Any], world: World, body: dict[str, Any], needle: str
) -> None:
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/items",
        json=body,
        headers=world.h("prop_master"),
    )
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


async def test_malformed_json_is_400(client: AsyncTestClient[Any], world: World) -> None:
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/items",
        content=b'{"name": ',
        headers={**world.h("prop_master"), "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert "JSON" in r.json()["detail"]


async def test_roles_that_may_not_register(client: AsyncTestClient[Any], world: World) -> None:
    url = f"/api/v1/productions/{world.production_id}/items"
    for role in ("scanner", "auditor", "studio_auditor"):
        r = await client.post(url, json=ITEM, headers=world.h(role))
        assert r.status_code == 403, role
    for role in ("q_prop_master", "p2_prop_master"):
        r = await client.post(url, json=ITEM, headers=world.h(role))
        assert r.status_code == 404, role


async def test_edit_keeps_history(client: AsyncTestClient[Any], world: World) -> None:
    item = await create_item(client, world, name="Foam M4")
    r = await client.patch(
        f"/api/v1/items/{item['id']}",
        json={"version": 1, "name": "Foam M4A1", "note": "renamed"},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    stale = await client.patch(
        f"/api/v1/items/{item['id']}",
        json={"version": 1, "name": "x"},
        headers=world.h("prop_master"),
    )
    assert stale.status_code == 409
    hist = (
        await client.get(f"/api/v1/items/{item['id']}/history", headers=world.h("auditor"))
    ).json()
    edit = next(e for e in hist if e["kind"] == "item.edited")
    assert edit["body"]["before"] == {"name": "Foam M4"}
    assert edit["body"]["after"] == {"name": "Foam M4A1"}
    assert edit["actor"].startswith("user:")


async def test_history_shows_the_resolutions_and_corrections_of_the_items_events(
    client: AsyncTestClient[Any], world: World
) -> None:
    # Found by review: a resolution's subject is its incident and a correction has none,
    # so an item's history showed the incident but not its resolution, and the original
    # registration but not its correction.
    item = await create_item(client, world, name="Resin Webley")
    other = await create_item(client, world, name="Foam Enfield")
    pid = world.production_id
    pm = world.h("prop_master")

    async def history(item_id: str) -> list[dict[str, Any]]:
        r = await client.get(f"/api/v1/items/{item_id}/history", headers=world.h("auditor"))
        assert r.status_code == 200, r.text
        entries: list[dict[str, Any]] = r.json()
        return entries

    r = await client.post(
        f"/api/v1/productions/{pid}/incidents",
        json={"kind": "damaged", "item_id": item["id"], "description": "cracked grip"},
        headers=world.h("scanner"),
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/incidents/{r.json()['id']}/resolve", json={"notes": "glued"}, headers=pm
    )
    assert r.status_code == 200, r.text
    registered = next(e for e in await history(item["id"]) if e["kind"] == "item.registered")
    r = await client.post(
        f"/api/v1/productions/{pid}/corrections",
        json={
            "corrects_seq": registered["seq"],
            "note": "the make was misspelt",
            "values": {"make": "Webley & Scott"},
        },
        headers=pm,
    )
    assert r.status_code == 201, r.text

    kinds = [e["kind"] for e in await history(item["id"])]
    assert "incident.resolved" in kinds
    assert kinds.count("correction") == 1
    assert kinds.index("correction") > kinds.index("item.registered")
    # Another item's history has none of them.
    assert not {"incident.resolved", "correction"} & {e["kind"] for e in await history(other["id"])}


async def test_reclassing_a_firing_item_as_a_prop_quarantines_it_until_inspected(
    client: AsyncTestClient[Any], world: World
) -> None:
    # Registered as blank-firing and inspected: never CLEARED. Someone edits it to a
    # replica: it is quarantined, not cleared on the strength of an edit, until a
    # passing inspection after the change.
    item = await create_item(client, world, name="Doubtful pistol", capability_class="blank_firing")
    await inspect(client, world, item["id"])
    code = item["tag"]["code"]
    assert "restricted_class" in reason_codes(await verify(client, world, code))
    r = await client.patch(
        f"/api/v1/items/{item['id']}",
        json={"version": item["version"], "capability_class": "non_firing_replica"},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "quarantined"
    assert (await verify(client, world, code))["verdict"] == "STOP"
    assert "quarantined" in reason_codes(await verify(client, world, code))
    await inspect(client, world, item["id"])
    assert (await verify(client, world, code))["verdict"] == "CLEARED"
    # Between classes that may be cleared, an edit is an edit: no quarantine, but the
    # inspection from before the change does not count.
    current = (
        await client.get(f"/api/v1/items/{item['id']}", headers=world.h("prop_master"))
    ).json()
    r = await client.patch(
        f"/api/v1/items/{item['id']}",
        json={"version": current["version"], "capability_class": "non_firing_mechanical"},
        headers=world.h("prop_master"),
    )
    assert r.json()["status"] == "active"
    answer = await verify(client, world, code)
    assert answer["verdict"] == "STOP"
    assert reason_codes(answer) == ["not_inspected_since_class_change"]
    # Phones deciding offline get the same fact in their snapshot.
    snap = await client.get(
        f"/api/v1/productions/{world.production_id}/snapshot", headers=world.h("scanner")
    )
    (facts,) = [i for i in snap.json()["items"] if i["id"] == item["id"]]
    assert facts["class_changed_at"] is not None
    await inspect(client, world, item["id"])
    assert (await verify(client, world, code))["verdict"] == "CLEARED"


async def _patch(client: AsyncTestClient[Any], world: World, item_id: str, **fields: Any) -> Any:
    current = (await client.get(f"/api/v1/items/{item_id}", headers=world.h("prop_master"))).json()
    return await client.patch(
        f"/api/v1/items/{item_id}",
        json={"version": current["version"], **fields},
        headers=world.h("prop_master"),
    )


@pytest.mark.parametrize("via", ["missing", "retired"])
async def test_no_edit_puts_an_item_back_in_service_without_an_inspection(
    client: AsyncTestClient[Any], world: World, via: str
) -> None:
    # Passed, then failed an inspection: quarantined. Reported missing (or retired) and
    # then edited back to active, it would scan CLEARED on the pass from before the
    # failure. Every way back to active is a passing inspection.
    item = await create_item(client, world, name=f"Laundered via {via}")
    code = item["tag"]["code"]
    await inspect(client, world, item["id"])
    assert (await verify(client, world, code))["verdict"] == "CLEARED"
    await inspect(client, world, item["id"], result="fail")
    assert (await _patch(client, world, item["id"], status="active")).status_code == 409
    assert (await _patch(client, world, item["id"], status=via)).status_code == 200
    r = await _patch(client, world, item["id"], status="active")
    assert r.status_code == 409, r.text
    assert "inspection" in r.json()["detail"]
    assert (await verify(client, world, code))["verdict"] == "STOP"
    # Found again: quarantined until it passes an inspection.
    assert (await _patch(client, world, item["id"], status="quarantined")).status_code == 200
    assert "quarantined" in reason_codes(await verify(client, world, code))
    await inspect(client, world, item["id"])
    assert (await verify(client, world, code))["verdict"] == "CLEARED"


async def test_list_filters_and_pages(client: AsyncTestClient[Any], world: World) -> None:
    kw = f"kw{world.tag}"
    for i in range(5):
        await create_item(client, world, name=f"Paged {i}", keywords=[kw])
    await create_item(
        client, world, name="Real one", capability_class="functional_firearm", keywords=[kw]
    )
    url = f"/api/v1/productions/{world.production_id}/items"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"keyword": kw, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(url, params=params, headers=world.h("scanner"))).json()
        seen += [i["name"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"Paged {i}" for i in range(5)] + ["Real one"]
    r = await client.get(
        url, params={"keyword": kw, "class": "functional_firearm"}, headers=world.h("scanner")
    )
    assert [i["name"] for i in r.json()["items"]] == ["Real one"]
    r = await client.get(url, params={"q": "paged 3"}, headers=world.h("scanner"))
    assert [i["name"] for i in r.json()["items"]] == ["Paged 3"]
    assert (
        await client.get(url, params={"cursor": "!!"}, headers=world.h("scanner"))
    ).status_code == 400


async def test_reissue_supersedes_and_revoke(client: AsyncTestClient[Any], world: World) -> None:
    item = await create_item(client, world, name="Retagged")
    old = item["tag"]
    r = await client.post(f"/api/v1/items/{item['id']}/tags", headers=world.h("prop_master"))
    assert r.status_code == 201
    new = r.json()
    assert new["code"] != old["code"]
    tags = (
        await client.get(
            f"/api/v1/productions/{world.production_id}/tags", headers=world.h("auditor")
        )
    ).json()
    by_id = {t["id"]: t for t in tags}
    assert by_id[old["id"]]["status"] == "superseded"
    r = await client.post(f"/api/v1/tags/{new['id']}/revoke", headers=world.h("prop_master"))
    assert r.json()["status"] == "revoked"
    again = await client.post(f"/api/v1/tags/{new['id']}/revoke", headers=world.h("prop_master"))
    assert again.status_code == 400
    other = await client.post(f"/api/v1/tags/{new['id']}/revoke", headers=world.h("q_prop_master"))
    assert other.status_code == 404


async def test_enrollment_code_is_single_use(client: AsyncTestClient[Any], world: World) -> None:
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/enrollment-codes",
        headers=world.h("prop_master"),
    )
    assert r.status_code == 201
    code = r.json()["code"]
    assert r.json()["enroll_url"].endswith(code)
    first = await client.post("/api/v1/auth/enroll", json={"code": code, "device_name": "AD phone"})
    assert first.status_code == 200
    assert first.json()["role"] == "scanner"
    second = await client.post("/api/v1/auth/enroll", json={"code": code})
    assert second.status_code == 401
    device = {"Authorization": f"Bearer {first.json()['token']}"}
    me = (await client.get("/api/v1/auth/me", headers=device)).json()
    assert me["production_roles"] == {world.production_id: ["scanner"]}
    # A device may verify but not register.
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/items", json=ITEM, headers=device
    )
    assert r.status_code == 403
    denied = await client.post(
        f"/api/v1/productions/{world.production_id}/enrollment-codes", headers=world.h("scanner")
    )
    assert denied.status_code == 403


async def test_health(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json()["database"] is True


async def test_openapi_schema_lists_operations(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    ops = {op["operationId"] for path in r.json()["paths"].values() for op in path.values()}
    assert {"signIn", "createItem", "verify", "listItems", "issueTag"} <= ops


async def _chain_events(db: Any, chain: str, kinds: tuple[str, ...]) -> list[Any]:
    return list(
        await db.fetch(
            "SELECT kind, actor, subject_id, body FROM events"
            " WHERE chain_id = $1::uuid AND kind = ANY($2::text[]) ORDER BY seq",
            chain,
            list(kinds),
        )
    )


async def test_sign_in_and_sign_out_are_recorded_in_the_studio_chain(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    kinds = ("session.started", "session.ended")
    before = await _chain_events(db, world.studio_id, kinds)
    r = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": f"auditor-{world.tag}@a.test", "password": world.password},
    )
    assert r.status_code == 200
    token, user_id = r.json()["token"], r.json()["user_id"]
    h = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/v1/auth/sign-out", headers=h)).status_code == 204
    # A second sign-out with the revoked token is refused and records nothing more.
    assert (await client.post("/api/v1/auth/sign-out", headers=h)).status_code == 401
    # A wrong password records nothing.
    bad = {"email": f"auditor-{world.tag}@a.test", "password": "wrong"}
    assert (await client.post("/api/v1/auth/sign-in", json=bad)).status_code == 401

    new = (await _chain_events(db, world.studio_id, kinds))[len(before) :]
    assert [e["kind"] for e in new] == ["session.started", "session.ended"]
    assert {e["actor"] for e in new} == {f"user:{user_id}"}
    assert {str(e["subject_id"]) for e in new} == {user_id}
    started, ended = (msgspec.json.decode(e["body"]) for e in new)
    assert started["token_id"] == ended["token_id"]
    assert token not in new[0]["body"] + new[1]["body"]
    # Nothing in the other studio's chain: the auditor is not a member there.
    assert not [
        e
        for e in await _chain_events(db, world.other_studio_id, kinds)
        if e["actor"] == f"user:{user_id}"
    ]


async def test_an_enrolled_phone_signing_out_is_recorded_in_its_production_chain(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    h = await enroll_phone(client, world.production_id, world.h("prop_master"), "AD phone")
    assert (await client.post("/api/v1/auth/sign-out", headers=h)).status_code == 204
    enrolled, signed_out = (
        await _chain_events(db, world.production_id, ("device.enrolled", "device.signed_out"))
    )[-2:]
    assert signed_out["kind"] == "device.signed_out"
    token_id = msgspec.json.decode(enrolled["body"])["token_id"]
    assert msgspec.json.decode(signed_out["body"]) == {"token_id": token_id}
    assert signed_out["actor"] == f"device:{token_id}"


@pytest.mark.parametrize(
    "policy",
    [
        {"inspection_max_age_hours": 1e300},
        {"offline_snapshot_max_age_hours": 1e9},
        {"verification_valid_minutes": 0},
        {"clearable_classes": ["non_firing_replica", "blank_firing"]},
    ],
)
async def test_a_policy_out_of_bounds_is_refused_when_set_and_when_a_production_is_created(
    client: AsyncTestClient[Any], world: World, policy: dict[str, Any]
) -> None:
    r = await client.put(
        f"/api/v1/productions/{world.production_id}/policy",
        json=policy,
        headers=world.h("prop_master"),
    )
    assert r.status_code == 400, r.text
    r = await client.post(
        "/api/v1/productions",
        json={"studio_id": world.studio_id, "name": "Bad policy", "policy": policy},
        headers=world.h("studio_admin"),
    )
    assert r.status_code == 400, r.text


async def test_a_prop_master_lists_and_signs_out_the_productions_phones(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    pm = world.h("prop_master")
    lost = await enroll_phone(client, world.production_id, pm, "Lost phone")
    kept = await enroll_phone(client, world.production_id, pm, "Kept phone")
    elsewhere = await enroll_phone(
        client, world.other_production_id, world.h("q_prop_master"), "Q phone"
    )
    url = f"/api/v1/productions/{world.production_id}/devices"
    devices = {d["device_name"]: d for d in (await client.get(url, headers=pm)).json()}
    assert {"Lost phone", "Kept phone"} <= set(devices)
    assert "Q phone" not in devices
    r = await client.post(f"{url}/{devices['Lost phone']['id']}/revoke", headers=pm)
    assert r.status_code == 200, r.text
    (after,) = [d for d in r.json() if d["id"] == devices["Lost phone"]["id"]]
    assert after["revoked_at"] is not None
    assert (await client.get("/api/v1/auth/me", headers=lost)).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=kept)).status_code == 200
    # Again: already signed out. Another production's phone, through this production: no.
    assert (
        await client.post(f"{url}/{devices['Lost phone']['id']}/revoke", headers=pm)
    ).status_code == 404
    q_url = f"/api/v1/productions/{world.other_production_id}/devices"
    (q_id,) = [
        d["id"]
        for d in (await client.get(q_url, headers=world.h("q_prop_master"))).json()
        if d["device_name"] == "Q phone"
    ]
    assert (await client.post(f"{url}/{q_id}/revoke", headers=pm)).status_code == 404
    assert (await client.get("/api/v1/auth/me", headers=elsewhere)).status_code == 200
    r = await client.post(f"{url}/{uuid.uuid4()}/revoke", headers=pm)
    assert r.status_code == 404
    events = await _chain_events(db, world.production_id, ("device.signed_out",))
    body = msgspec.json.decode(events[-1]["body"])
    assert body["token_id"] == devices["Lost phone"]["id"]
    assert body["why"] == "revoked"


async def test_the_record_holds_each_evidence_photos_hash_and_the_row_cannot_change(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    # Found by review: events named photos by id only, and the app role could update a
    # photo row: evidence could be swapped with nothing in the chain to show it.
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/items",
        data={
            "item": json.dumps({"name": "Resin Mauser", "capability_class": "non_firing_replica"})
        },
        files=[("photos", ("p.jpg", jpeg(640, 480, "teal"), "image/jpeg"))],
        headers=world.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    item = r.json()
    shas = {
        str(row["id"]): row["original_sha"]
        for row in await db.fetch(
            "SELECT id, original_sha FROM photos WHERE item_id = $1", uuid.UUID(item["id"])
        )
    }
    body = await db.fetchval(
        "SELECT body FROM events WHERE kind = 'item.registered' AND subject_id = $1",
        uuid.UUID(item["id"]),
    )
    assert json.loads(body)["photo_sha256"] == shas and len(shas) == 1

    r = await client.post(
        f"/api/v1/items/{item['id']}/inspections",
        data={"inspection": json.dumps({"kind": "periodic", "result": "pass"})},
        files=[("photo", ("i.jpg", jpeg(640, 480, "maroon"), "image/jpeg"))],
        headers=world.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    row = await db.fetchrow(
        "SELECT e.body, p.original_sha FROM inspections i JOIN photos p ON p.id = i.photo_id"
        " JOIN events e ON e.kind = 'inspection.recorded' AND e.subject_id = i.item_id"
        " WHERE i.item_id = $1",
        uuid.UUID(item["id"]),
    )
    assert json.loads(row["body"])["photo_sha256"] == row["original_sha"]

    privileges = await db.fetchrow(
        "SELECT has_table_privilege('propcheck_app', 'photos', 'UPDATE') AS up,"
        " has_table_privilege('propcheck_app', 'photos', 'DELETE') AS del,"
        " has_table_privilege('propcheck_app', 'photos', 'INSERT') AS ins"
    )
    assert dict(privileges) == {"up": False, "del": False, "ins": True}


async def test_the_api_pool_cannot_become_the_owner_again(database: str) -> None:
    """The API logs in as propcheck_api, a member of propcheck_app only (migration 0016):
    a session of its pool that undoes the role has no owner's rights to fall back to, so
    it can neither write the record nor switch its append-only triggers off. (It logged
    in as the owner with the role as a session setting before: SET ROLE NONE made it
    the owner.)"""
    import asyncpg

    from api.app import open_pool
    from api.settings import Settings

    pool = await open_pool(Settings(pool_size=1), database)  # as the API opens its own
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == "propcheck_app"
            await conn.execute("SET ROLE NONE")  # back to the login itself
            assert await conn.fetchval("SELECT current_user") == "propcheck_api"
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "INSERT INTO chain_heads (chain_id, seq, hash) VALUES"
                    " (gen_random_uuid(), 0, 'x')"
                )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("SET session_replication_role = replica")
            await conn.execute("SET ROLE propcheck_app")
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("dsn", "bare", "database"),
    [
        (
            "postgresql://postgres@/propcheck?host=/run/pg&port=5432",
            "postgresql:///propcheck?host=/run/pg&port=5432",
            None,
        ),
        (
            "postgresql://own:secret@db:5432/prod?sslmode=require",
            "postgresql://db:5432/prod?sslmode=require",
            None,
        ),
        (
            "postgresql://own:secret@db:5432?password=x&sslmode=require",
            "postgresql://db:5432?sslmode=require",
            "own",
        ),
    ],
)
async def test_the_api_login_never_offers_the_owners_password(
    dsn: str, bare: str, database: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncpg offers a URL's password for any user: the owner's must not go out for
    propcheck_api; the database stays the one the URL names or defaults to."""
    from api.app import _app_login

    monkeypatch.delenv("PGDATABASE", raising=False)
    out, login = _app_login(dsn, "propcheck_api", "")
    assert out == bare and "secret" not in out
    assert login["user"] == "propcheck_api" and login["password"] is None
    assert login.get("database") == database
