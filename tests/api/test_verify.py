"""Verify by code: the verdict, its reasons, its record, and failing closed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.helpers import (
    EVIDENCE,
    inspect,
    new_production,
    ready_item,
    reason_codes,
    register,
    verify,
)
from tests.conftest import World, make_world
from verifier import codes

pytestmark = pytest.mark.asyncio


async def test_inspected_replica_is_cleared_pending_confirmation(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    item = await ready_item(client, world)
    answer = await verify(client, world, item["tag"]["display"].lower())
    assert answer["verdict"] == "CLEARED"
    assert answer["reasons"] == []
    assert answer["needs_confirmation"] is True
    assert answer["item"]["name"] == item["name"]
    assert answer["item"]["distinctive_marks"] == item["distinctive_marks"]
    row = await db.fetchrow(
        "SELECT verdict, code_scanned, actor FROM verifications WHERE id = $1",
        uuid.UUID(answer["verification_id"]),
    )
    assert row["verdict"] == "CLEARED"
    assert row["code_scanned"] == item["tag"]["display"].lower()
    event = await db.fetchrow(
        "SELECT kind, body FROM events WHERE kind = 'verification' AND body LIKE $1",
        f"%{answer['verification_id']}%",
    )
    assert event is not None


async def test_never_inspected_is_stop(client: AsyncTestClient[Any], world: World) -> None:
    item = await register(client, world)
    answer = await verify(client, world, item["tag"]["code"])
    assert answer["verdict"] == "STOP"
    assert reason_codes(answer) == ["never_inspected"]


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"capability_class": "functional_firearm"}, ["restricted_class"]),
        ({"capability_class": "blank_firing"}, ["restricted_class"]),
        ({"capability_class": "airsoft_projectile"}, ["restricted_class"]),
        ({"status": "missing"}, ["missing"]),
        ({"status": "retired"}, ["retired"]),
        ({"capability_class": "deactivated", "evidence": EVIDENCE}, []),
        ({"capability_class": "non_firing_mechanical"}, []),
    ],
)
async def test_verdict_by_class_and_status(
    client: AsyncTestClient[Any], world: World, over: dict[str, Any], expected: list[str]
) -> None:
    item = await ready_item(client, world, **over)
    answer = await verify(client, world, item["tag"]["code"])
    assert reason_codes(answer) == expected
    assert answer["verdict"] == ("CLEARED" if not expected else "STOP")


async def test_unknown_and_mistyped_codes_are_stop(
    client: AsyncTestClient[Any], world: World
) -> None:
    unknown = await verify(client, world, codes.new_code())
    assert unknown["verdict"] == "STOP"
    assert reason_codes(unknown) == ["unknown_code"]
    assert unknown["item"] is None
    item = await ready_item(client, world)
    code = item["tag"]["code"]
    # One wrong character: the check character catches it before any lookup.
    wrong = code[:3] + ("0" if code[3] != "0" else "1") + code[4:]
    typo = await verify(client, world, wrong)
    assert reason_codes(typo) == ["bad_check_character"]
    junk = await verify(client, world, "hello world")
    assert reason_codes(junk) == ["bad_format"]


async def test_revoked_and_superseded_tags_are_stop(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    old = item["tag"]
    r = await client.post(f"/api/v1/items/{item['id']}/tags", headers=world.h("prop_master"))
    new = r.json()
    assert reason_codes(await verify(client, world, old["code"])) == ["superseded_tag"]
    assert (await verify(client, world, new["code"]))["verdict"] == "CLEARED"
    await client.post(f"/api/v1/tags/{new['id']}/revoke", headers=world.h("prop_master"))
    assert reason_codes(await verify(client, world, new["code"])) == ["revoked_tag"]


async def test_other_production_tag_is_stop_without_details(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    answer = await verify(client, world, item["tag"]["code"], role="q_scanner")
    assert answer["verdict"] == "STOP"
    assert reason_codes(answer) == ["other_production"]
    assert answer["item"] is None  # another production's item is not shown


async def test_every_verification_is_recorded_either_verdict(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    before = await db.fetchval("SELECT count(*) FROM verifications")
    await verify(client, world, codes.new_code())
    await verify(client, world, "nonsense")
    assert await db.fetchval("SELECT count(*) FROM verifications") == before + 2


async def test_replayed_client_id_is_stored_once(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    item = await ready_item(client, world)
    cid = str(uuid.uuid4())
    first = await verify(client, world, item["tag"]["code"], client_id=cid)
    second = await verify(client, world, item["tag"]["code"], client_id=cid)
    assert first["verification_id"] == second["verification_id"]
    assert second["verdict"] == first["verdict"]
    n = await db.fetchval("SELECT count(*) FROM verifications WHERE client_id = $1", uuid.UUID(cid))
    assert n == 1


async def test_a_resent_hand_off_scan_writes_nothing(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    """A hand-off scan sent again (its answer lost) is decided again before its record
    finds the stored one: the resend adds no row, no event, and leaves the item's facts
    version (which a stored hand-off scan bumps) as it was."""
    item = await ready_item(client, world)
    cid = str(uuid.uuid4())
    extra = {"client_id": cid, "purpose": "checkout", "handoff_to": "Ava"}
    first = await verify(client, world, item["tag"]["code"], "prop_master", **extra)
    state = (
        "SELECT (SELECT count(*) FROM events WHERE chain_id = $1::uuid) AS events,"
        " (SELECT count(*) FROM verifications WHERE item_id = $2::uuid) AS scans,"
        " (SELECT facts_version FROM items WHERE id = $2::uuid) AS version"
    )
    before = dict(await db.fetchrow(state, world.production_id, item["id"]))
    second = await verify(client, world, item["tag"]["code"], "prop_master", **extra)
    assert second["verification_id"] == first["verification_id"]
    assert second["verdict"] == first["verdict"] == "CLEARED"
    assert dict(await db.fetchrow(state, world.production_id, item["id"])) == before


async def test_a_clearance_resent_after_a_quarantine_is_stop(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    """A CLEARED whose answer was lost, sent again within the hand-off window after the
    item was quarantined, is answered STOP with why: the resend is decided again on the
    way to its record. The stored CLEARED stays the record of then; nothing is added."""
    item = await ready_item(client, world)
    cid = str(uuid.uuid4())
    first = await verify(client, world, item["tag"]["code"], client_id=cid)
    assert first["verdict"] == "CLEARED"
    r = await client.post(
        f"/api/v1/items/{item['id']}/inspections",
        json={"kind": "periodic", "result": "fail"},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    scans = "SELECT count(*) FROM verifications WHERE item_id = $1::uuid"
    before = await db.fetchval(scans, item["id"])
    again = await verify(client, world, item["tag"]["code"], client_id=cid)
    assert again["verdict"] == "STOP"
    assert "quarantined" in reason_codes(again)
    assert again["verification_id"] == first["verification_id"]
    assert again["item"] is None
    assert await db.fetchval(scans, item["id"]) == before
    stored = await db.fetchval(
        "SELECT verdict FROM verifications WHERE client_id = $1", uuid.UUID(cid)
    )
    assert stored == "CLEARED"


async def test_auditor_may_not_verify(client: AsyncTestClient[Any], world: World) -> None:
    r = await client.post(
        "/api/v1/verify", json={"code": codes.new_code()}, headers=world.h("auditor")
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"code": "x" * 65},
        {"code": "A\u0000B"},
        {"code": 12},
        {"code": "PC-1", "extra": True},
        {"code": "PC-1", "purpose": "steal"},
        {},
    ],
)
async def test_bad_verify_input_is_400(
    client: AsyncTestClient[Any], world: World, body: dict[str, Any]
) -> None:
    r = await client.post("/api/v1/verify", json=body, headers=world.h("scanner"))
    assert r.status_code == 400, r.text
    assert r.json()["detail"]


async def test_archived_production_is_stop(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    from tests.conftest import make_world

    w = await make_world(db, client)
    item = await ready_item(client, w)
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/archive", headers=w.h("studio_admin")
    )
    assert r.status_code == 200
    answer = await verify(client, w, item["tag"]["code"])
    assert answer["verdict"] == "STOP"
    assert "production_archived" in reason_codes(answer)


async def test_database_failure_is_stop_503(
    client: AsyncTestClient[Any], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncpg

    item = await ready_item(client, world)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(asyncpg.Connection, "fetchrow", broken)
    try:
        r = await client.post(
            "/api/v1/verify", json={"code": item["tag"]["code"]}, headers=world.h("scanner")
        )
    finally:
        monkeypatch.undo()
    assert r.status_code == 503
    assert r.json()["verdict"] == "STOP"
    assert r.headers["retry-after"]


async def test_unexpected_error_is_stop(
    client: AsyncTestClient[Any], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verifier import rules

    item = await ready_item(client, world)

    def explode(facts: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(rules, "decide", explode)
    try:
        r = await client.post(
            "/api/v1/verify", json={"code": item["tag"]["code"]}, headers=world.h("scanner")
        )
    finally:
        monkeypatch.undo()
    assert r.status_code == 500
    assert r.json()["verdict"] == "STOP"


async def test_stale_inspection_policy(client: AsyncTestClient[Any], db: Any) -> None:
    from tests.conftest import make_world

    w = await make_world(db, client)
    item = await ready_item(client, w)
    policy = (
        await client.get(f"/api/v1/productions/{w.production_id}/policy", headers=w.h("auditor"))
    ).json()
    assert policy["inspection_max_age_hours"] == 12
    # Age the inspection by moving it back 13 hours (as the superuser).
    await db.execute("ALTER TABLE inspections DISABLE TRIGGER USER")
    await db.execute(
        "UPDATE inspections SET created_at = created_at - interval '13 hours' WHERE item_id = $1",
        uuid.UUID(item["id"]),
    )
    await db.execute("ALTER TABLE inspections ENABLE TRIGGER USER")
    assert reason_codes(await verify(client, w, item["tag"]["code"])) == ["inspection_stale"]
    await inspect(client, w, item["id"])
    assert (await verify(client, w, item["tag"]["code"]))["verdict"] == "CLEARED"


async def test_a_client_id_reused_for_another_code_is_refused(
    client: AsyncTestClient[Any], world: World
) -> None:
    cleared = await ready_item(client, world)
    other = await register(client, world, capability_class="functional_firearm")
    cid = str(uuid.uuid4())
    first = await verify(client, world, cleared["tag"]["code"], client_id=cid)
    assert first["verdict"] == "CLEARED"
    # The same scan sent again: its stored answer.
    again = await verify(client, world, cleared["tag"]["code"], client_id=cid)
    assert again["verification_id"] == first["verification_id"]
    # Another code under the same client_id: not that scan's CLEARED.
    r = await client.post(
        "/api/v1/verify",
        json={"code": other["tag"]["code"], "client_id": cid},
        headers=world.h("scanner"),
    )
    assert r.status_code == 409, r.text


async def test_a_client_id_reused_for_another_purpose_hand_off_or_production_is_refused(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # Found by review: a resend was answered with the stored CLEARED whatever it now
    # asked, say a check's CLEARED for a hand-off to someone else, after a quarantine.
    # A world of its own: its members join a second production here.
    world = await make_world(db, client)
    item = await ready_item(client, world)
    cid = str(uuid.uuid4())
    code = item["tag"]["code"]
    assert (await verify(client, world, code, client_id=cid))["verdict"] == "CLEARED"
    other_production = await new_production(client, world)
    for changed in (
        {"purpose": "checkout", "handoff_to": "Someone Else"},
        {"purpose": "checkin"},
        {"production_id": other_production},
    ):
        r = await client.post(
            "/api/v1/verify",
            json={"code": code, "client_id": cid, **changed},
            headers=world.h("prop_master"),
        )
        assert r.status_code == 409, (changed, r.text)
        assert "verdict" not in r.json()


async def test_an_online_clearance_resent_after_its_window_is_refused(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    item = await ready_item(client, world)
    cid = str(uuid.uuid4())
    first = await verify(client, world, item["tag"]["code"], client_id=cid)
    assert first["verdict"] == "CLEARED"
    assert (await verify(client, world, item["tag"]["code"], client_id=cid))[
        "verification_id"
    ] == first["verification_id"]
    # Eleven minutes on (the window is 10): a resend is no longer an answer about now.
    await db.execute(
        "UPDATE verifications SET created_at = created_at - interval '11 minutes'"
        " WHERE client_id = $1",
        uuid.UUID(cid),
    )
    r = await client.post(
        "/api/v1/verify",
        json={"code": item["tag"]["code"], "client_id": cid},
        headers=world.h("scanner"),
    )
    assert r.status_code == 409, r.text
    assert "scan the item again" in r.json()["detail"]


async def test_a_verification_is_found_by_its_own_id_before_a_client_id_equal_to_it(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    real = await verify(client, world, item["tag"]["code"])
    # Another scan whose client-chosen id is the first one's server id.
    await verify(client, world, item["tag"]["code"], client_id=real["verification_id"])
    for _ in range(3):
        r = await client.post(
            f"/api/v1/verifications/{real['verification_id']}/confirm",
            json={"match": True},
            headers=world.h("scanner"),
        )
        assert r.status_code == 200, r.text
        assert r.json()["verification_id"] == real["verification_id"]
