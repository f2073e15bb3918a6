"""Safety flows against the real database: inspections, incidents, confirmation, custody."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.helpers import (
    enroll_phone,
    inspect,
    lapse_inspection_in,
    ready_item,
    reason_codes,
    register,
    verify,
)
from tests.api.test_status import reasons, status
from tests.conftest import World, another_process, make_world

pytestmark = pytest.mark.asyncio


async def handoff_scan(
    client: AsyncTestClient[Any],
    w: World,
    item: dict[str, Any],
    performer: str,
    confirm: bool = True,
) -> dict[str, Any]:
    """The prop master scans the item for a hand-off and confirms what is in hand."""
    answer = await verify(
        client, w, item["tag"]["code"], role="prop_master", purpose="checkout", handoff_to=performer
    )
    if confirm and answer["verdict"] == "CLEARED":
        r = await client.post(
            f"/api/v1/verifications/{answer['verification_id']}/confirm",
            json={"match": True},
            headers=w.h("prop_master"),
        )
        assert r.status_code == 200, r.text
        assert r.json()["verdict"] == "CLEARED"
        assert r.json()["needs_confirmation"] is False
    return answer


async def check_out(
    client: AsyncTestClient[Any], w: World, verification_id: str, performer: str
) -> Any:
    return await client.post(
        f"/api/v1/productions/{w.production_id}/checkouts",
        json={
            "verification_id": verification_id,
            "performer": performer,
            "scene": "12",
            "take": "3",
        },
        headers=w.h("prop_master"),
    )


async def status_of(client: AsyncTestClient[Any], w: World, item_id: str) -> str:
    r = await client.get(f"/api/v1/items/{item_id}", headers=w.h("auditor"))
    status: str = r.json()["status"]
    return status


async def test_failed_inspection_quarantines_and_pass_restores(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    out = await inspect(client, world, item["id"], result="fail", kind="periodic")
    assert out["item_status"] == "quarantined"
    answer = await verify(client, world, item["tag"]["code"])
    assert "quarantined" in reason_codes(answer)
    out = await inspect(client, world, item["id"], result="pass")
    assert out["item_status"] == "active"
    assert (await verify(client, world, item["tag"]["code"]))["verdict"] == "CLEARED"


async def test_incident_quarantine_resolve_inspect_cycle(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    code = item["tag"]["code"]
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/incidents",
        json={"kind": "damaged", "description": "cracked grip", "item_id": item["id"]},
        headers=world.h("scanner"),
    )
    assert r.status_code == 201, r.text
    incident = r.json()
    assert await status_of(client, world, item["id"]) == "quarantined"
    assert set(reason_codes(await verify(client, world, code))) >= {
        "quarantined",
        "open_incident",
        "not_inspected_since_incident",
    }
    # Only a prop master resolves.
    denied = await client.post(
        f"/api/v1/incidents/{incident['id']}/resolve",
        json={"notes": "ok"},
        headers=world.h("scanner"),
    )
    assert denied.status_code == 403
    r = await client.post(
        f"/api/v1/incidents/{incident['id']}/resolve",
        json={"notes": "grip replaced"},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 200
    assert r.json()["resolution_notes"] == "grip replaced"
    assert r.json()["description"] == "cracked grip"  # the report is kept as it was
    # Resolved, but still quarantined until a passing inspection after the resolution.
    assert await status_of(client, world, item["id"]) == "quarantined"
    answer = await verify(client, world, code)
    assert set(reason_codes(answer)) == {"quarantined", "not_inspected_since_incident"}
    await inspect(client, world, item["id"])
    assert await status_of(client, world, item["id"]) == "active"
    assert (await verify(client, world, code))["verdict"] == "CLEARED"
    again = await client.post(
        f"/api/v1/incidents/{incident['id']}/resolve",
        json={"notes": "x"},
        headers=world.h("prop_master"),
    )
    assert again.status_code == 409


async def test_mismatch_opens_incident_and_quarantines(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    answer = await verify(client, world, item["tag"]["code"])
    assert answer["verdict"] == "CLEARED" and answer["needs_confirmation"]
    # Someone else cannot answer for the scanner.
    other = await client.post(
        f"/api/v1/verifications/{answer['verification_id']}/confirm",
        json={"match": True},
        headers=world.h("prop_master"),
    )
    assert other.status_code == 403
    r = await client.post(
        f"/api/v1/verifications/{answer['verification_id']}/confirm",
        json={"match": False, "note": "this one is metal"},
        headers=world.h("scanner"),
    )
    assert r.status_code == 200
    assert r.json()["verdict"] == "STOP"
    assert "visual_mismatch" in reason_codes(r.json())
    assert await status_of(client, world, item["id"]) == "quarantined"
    incidents = (
        await client.get(
            f"/api/v1/productions/{world.production_id}/incidents",
            params={"open": "true"},
            headers=world.h("auditor"),
        )
    ).json()
    assert any(i["item_id"] == item["id"] and i["kind"] == "mismatch" for i in incidents)


async def test_confirming_a_stop_never_clears(client: AsyncTestClient[Any], world: World) -> None:
    item = await register(client, world)  # never inspected: STOP
    answer = await verify(client, world, item["tag"]["code"])
    assert answer["verdict"] == "STOP"
    await inspect(client, world, item["id"])
    r = await client.post(
        f"/api/v1/verifications/{answer['verification_id']}/confirm",
        json={"match": True},
        headers=world.h("scanner"),
    )
    assert r.json()["verdict"] == "STOP"


async def test_checkout_needs_confirmed_cleared_scan(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    unconfirmed = await handoff_scan(client, world, item, "Alex", confirm=False)
    r = await check_out(client, world, unconfirmed["verification_id"], "Alex")
    assert r.status_code == 409
    assert "confirm" in r.json()["detail"]
    confirmed = await handoff_scan(client, world, item, "Alex")
    # The scan was for Alex: it cannot back a hand-off to someone else.
    assert (
        await check_out(client, world, confirmed["verification_id"], "Blake")
    ).status_code == 409
    r = await check_out(client, world, confirmed["verification_id"], "Alex")
    assert r.status_code == 201, r.text
    board = (
        await client.get(
            f"/api/v1/productions/{world.production_id}/custody", headers=world.h("auditor")
        )
    ).json()
    mine = [c for c in board["checked_out"] if c["item_id"] == item["id"]]
    assert [(c["performer"], c["scene"], c["take"]) for c in mine] == [("Alex", "12", "3")]
    # Scanners do not hand weapons over.
    denied = await client.post(
        f"/api/v1/productions/{world.production_id}/checkouts",
        json={"verification_id": confirmed["verification_id"], "performer": "Alex"},
        headers=world.h("scanner"),
    )
    assert denied.status_code == 403


async def test_stop_item_cannot_be_checked_out(client: AsyncTestClient[Any], world: World) -> None:
    item = await ready_item(client, world, capability_class="blank_firing")
    answer = await handoff_scan(client, world, item, "Alex")
    assert answer["verdict"] == "STOP"
    r = await check_out(client, world, answer["verification_id"], "Alex")
    assert r.status_code == 409


async def test_quarantined_after_scan_cannot_be_checked_out(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    scan = await handoff_scan(client, world, item, "Alex")
    await inspect(client, world, item["id"], result="fail")
    r = await check_out(client, world, scan["verification_id"], "Alex")
    assert r.status_code == 409
    assert "quarantined" in [x["code"] for x in r.json()["reasons"]]


async def test_simultaneous_checkouts_exactly_one_wins(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    item = await ready_item(client, world)
    first = await handoff_scan(client, world, item, "Alex")
    second = await handoff_scan(client, world, item, "Alex")
    results = await asyncio.gather(
        check_out(client, world, first["verification_id"], "Alex"),
        check_out(client, world, second["verification_id"], "Alex"),
    )
    assert sorted(r.status_code for r in results) == [201, 409]
    n = await db.fetchval(
        "SELECT count(*) FROM checkouts WHERE item_id = $1 AND in_at IS NULL", uuid.UUID(item["id"])
    )
    assert n == 1


async def test_duplicate_tag_suspicion(client: AsyncTestClient[Any], world: World) -> None:
    item = await ready_item(client, world)
    scan = await handoff_scan(client, world, item, "Alex")
    assert (await check_out(client, world, scan["verification_id"], "Alex")).status_code == 201
    # Custody says Alex holds it; a scan for a hand-off to Blake means a second tag.
    answer = await verify(
        client, world, item["tag"]["code"], role="scanner", purpose="checkout", handoff_to="Blake"
    )
    assert answer["verdict"] == "STOP"
    assert "possible_duplicate_tag" in reason_codes(answer)
    incidents = (
        await client.get(
            f"/api/v1/productions/{world.production_id}/incidents", headers=world.h("auditor")
        )
    ).json()
    assert any(
        i["item_id"] == item["id"] and i["kind"] == "possible_duplicate_tag" for i in incidents
    )


async def test_checkin_with_after_use_inspection(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    scan = await handoff_scan(client, world, item, "Alex")
    assert (await check_out(client, world, scan["verification_id"], "Alex")).status_code == 201
    back = await verify(client, world, item["tag"]["code"], role="prop_master", purpose="checkin")
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/checkins",
        json={
            "verification_id": back["verification_id"],
            "inspection": {"result": "fail", "notes": "barrel plug missing"},
        },
        headers=world.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["in_at"] is not None
    assert await status_of(client, world, item["id"]) == "quarantined"
    again = await client.post(
        f"/api/v1/productions/{world.production_id}/checkins",
        json={"verification_id": back["verification_id"]},
        headers=world.h("prop_master"),
    )
    assert again.status_code == 409


async def _back_from(
    client: AsyncTestClient[Any], w: World, item: dict[str, Any], **body: Any
) -> None:
    """Hand ``item`` to Alex and take it back (``body``: the check-in's extra fields)."""
    scan = await handoff_scan(client, w, item, "Alex")
    assert (await check_out(client, w, scan["verification_id"], "Alex")).status_code == 201
    back = await verify(client, w, item["tag"]["code"], role="prop_master", purpose="checkin")
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/checkins",
        json={"verification_id": back["verification_id"], **body},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 200, r.text


async def test_an_item_back_from_use_is_stop_until_inspected(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # Inspected before and after every use (Industry Safety Bulletin #1): a check-in
    # without the after-use inspection leaves the item at STOP, online and in the
    # offline snapshot, and the production's status shows the inspection as overdue.
    w = await make_world(db, client)
    item = await ready_item(client, w)
    await _back_from(client, w, item)
    answer = await verify(client, w, item["tag"]["code"])
    assert answer["verdict"] == "STOP"
    assert reason_codes(answer) == ["not_inspected_since_use"]
    r = await client.get(f"/api/v1/productions/{w.production_id}/snapshot", headers=w.h("scanner"))
    assert r.status_code == 200, r.text
    (snap,) = [i for i in r.json()["items"] if i["id"] == item["id"]]
    returned = datetime.fromisoformat(snap["last_returned_at"])
    assert returned > datetime.fromisoformat(snap["last_passed_inspection_at"])
    overdue = reasons(await status(client, w))["inspection_overdue"]
    assert overdue["item_ids"] == [item["id"]]

    await inspect(client, w, item["id"], kind="after_use")
    assert (await verify(client, w, item["tag"]["code"]))["verdict"] == "CLEARED"
    assert "inspection_overdue" not in reasons(await status(client, w))


async def test_the_after_use_inspection_at_check_in_clears_the_item_again(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    await _back_from(client, world, item, inspection={"result": "pass", "notes": ""})
    answer = await verify(client, world, item["tag"]["code"])
    assert answer["verdict"] == "CLEARED", answer["reasons"]


async def test_a_policy_may_not_ask_for_the_after_use_inspection(
    client: AsyncTestClient[Any], db: Any
) -> None:
    w = await make_world(db, client)
    url = f"/api/v1/productions/{w.production_id}/policy"
    policy = (await client.get(url, headers=w.h("auditor"))).json()
    assert policy["require_inspection_after_use"] is True  # the safe default
    r = await client.put(
        url, json={**policy, "require_inspection_after_use": False}, headers=w.h("prop_master")
    )
    assert r.status_code == 200, r.text
    item = await ready_item(client, w)
    await _back_from(client, w, item)
    assert (await verify(client, w, item["tag"]["code"]))["verdict"] == "CLEARED"
    assert "inspection_overdue" not in reasons(await status(client, w))


async def test_overdue_after_wrap(client: AsyncTestClient[Any], db: Any) -> None:
    w = await make_world(db, client)
    item = await ready_item(client, w)
    scan = await handoff_scan(client, w, item, "Alex")
    assert (await check_out(client, w, scan["verification_id"], "Alex")).status_code == 201
    board = (
        await client.get(f"/api/v1/productions/{w.production_id}/custody", headers=w.h("auditor"))
    ).json()
    assert board["overdue"] == 0
    # The hand-off happened yesterday: the wrap since then makes it overdue.
    await db.execute(
        "UPDATE checkouts SET out_at = out_at - interval '1 day' WHERE item_id = $1",
        uuid.UUID(item["id"]),
    )
    board = (
        await client.get(f"/api/v1/productions/{w.production_id}/custody", headers=w.h("auditor"))
    ).json()
    assert board["overdue"] == 1
    assert board["checked_out"][0]["overdue"] is True


async def test_policy_changes_are_checked_and_recorded(
    client: AsyncTestClient[Any], db: Any
) -> None:
    w = await make_world(db, client)
    url = f"/api/v1/productions/{w.production_id}/policy"
    policy = (await client.get(url, headers=w.h("auditor"))).json()
    bad = {**policy, "clearable_classes": ["non_firing_replica", "blank_firing"]}
    r = await client.put(url, json=bad, headers=w.h("prop_master"))
    assert r.status_code == 400
    assert "blank_firing" in r.json()["detail"]
    negative = {**policy, "inspection_max_age_hours": -1}
    assert (await client.put(url, json=negative, headers=w.h("prop_master"))).status_code == 400
    assert (await client.put(url, json=policy, headers=w.h("scanner"))).status_code == 403
    relaxed = {**policy, "visual_confirmation_required": False}
    r = await client.put(url, json=relaxed, headers=w.h("prop_master"))
    assert r.status_code == 200
    item = await ready_item(client, w)
    answer = await verify(client, w, item["tag"]["code"])
    assert answer["verdict"] == "CLEARED"
    assert answer["needs_confirmation"] is False
    kinds = await db.fetch(
        "SELECT kind FROM events WHERE chain_id = $1 AND kind = 'policy.changed'",
        uuid.UUID(w.production_id),
    )
    assert len(kinds) == 1


def offline_handoff_scan(item: dict[str, Any], client_id: str, at: str) -> dict[str, Any]:
    """A phone's offline CLEARED scan of ``item`` for a hand-off to Alex, as replayed."""
    offline = {
        "verdict": "CLEARED",
        "reasons": [],
        "needs_confirmation": True,
        "snapshot_at": "2026-01-01T00:00:00Z",
    }
    return {
        "code": item["tag"]["code"],
        "purpose": "checkout",
        "handoff_to": "Alex",
        "client_id": client_id,
        "client_time": at,
        "offline": offline,
    }


async def test_offline_handoff_replay_is_stored_once(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    item = await ready_item(client, world)
    vid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    body = offline_handoff_scan(item, vid, "2026-01-01T01:00:00Z")
    for _ in range(2):
        r = await client.post("/api/v1/verify", json=body, headers=world.h("prop_master"))
        assert r.status_code == 200, r.text
        r = await client.post(
            f"/api/v1/verifications/{vid}/confirm",
            json={"match": True},
            headers=world.h("prop_master"),
        )
        assert r.status_code == 200, r.text
        r = await client.post(
            f"/api/v1/productions/{world.production_id}/checkouts",
            json={"verification_id": vid, "performer": "Alex", "client_id": cid, "offline": True},
            headers=world.h("prop_master"),
        )
        assert r.status_code == 201, r.text
    assert (
        await db.fetchval("SELECT count(*) FROM verifications WHERE client_id = $1", uuid.UUID(vid))
        == 1
    )
    assert (
        await db.fetchval("SELECT count(*) FROM checkouts WHERE client_id = $1", uuid.UUID(cid))
        == 1
    )
    method = await db.fetchval(
        "SELECT method FROM verifications WHERE client_id = $1", uuid.UUID(vid)
    )
    assert method == "offline"


@pytest.mark.parametrize(("minutes_later", "incident"), [(2, False), (30, True)])
async def test_offline_handoff_age_is_measured_on_the_phone_clock(
    client: AsyncTestClient[Any], db: Any, minutes_later: int, incident: bool
) -> None:
    w = await make_world(db, client)
    item = await ready_item(client, w)
    vid = str(uuid.uuid4())
    scanned = "2026-01-01T01:00:00Z"
    handed = f"2026-01-01T01:{minutes_later:02d}:00Z"
    body = offline_handoff_scan(item, vid, scanned)
    assert (
        await client.post("/api/v1/verify", json=body, headers=w.h("prop_master"))
    ).status_code == 200
    r = await client.post(
        f"/api/v1/verifications/{vid}/confirm", json={"match": True}, headers=w.h("prop_master")
    )
    assert r.status_code == 200
    # Replayed long after (the server's now is far from 2026-01-01): the phone's clocks count.
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/checkouts",
        json={
            "verification_id": vid,
            "performer": "Alex",
            "client_id": str(uuid.uuid4()),
            "offline": True,
            "client_time": handed,
        },
        headers=w.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    incidents = (
        await client.get(f"/api/v1/productions/{w.production_id}/incidents", headers=w.h("auditor"))
    ).json()
    assert any(i["item_id"] == item["id"] for i in incidents) is incident


async def test_a_record_with_a_photo_sent_twice_stores_one_photo(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    # A phone resends after a timeout although the server had stored the first: the
    # incident (or inspection) is stored once, and so is its photo.
    import json

    from tests.api.helpers import jpeg

    item = await ready_item(client, world)
    incident = {"kind": "damaged", "description": "Cracked", "item_id": item["id"]}
    incident["client_id"] = str(uuid.uuid4())
    inspection = {"kind": "after_use", "result": "pass", "client_id": str(uuid.uuid4())}
    sends = [
        (f"/api/v1/productions/{world.production_id}/incidents", "incident", incident, "scanner"),
        (f"/api/v1/items/{item['id']}/inspections", "inspection", inspection, "prop_master"),
    ]
    answers = [
        await client.post(
            url,
            data={part: json.dumps(body)},
            files={"photo": ("p.jpg", jpeg(), "image/jpeg")},
            headers=world.h(role),
        )
        for _ in range(2)
        for url, part, body, role in sends
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 409], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[2].json()["id"]  # the same incident, answered
    photos = await db.fetch(
        "SELECT purpose, count(*) AS n FROM photos WHERE item_id = $1 AND purpose <> 'item'"
        " GROUP BY purpose ORDER BY purpose",
        uuid.UUID(item["id"]),
    )
    assert [(p["purpose"], p["n"]) for p in photos] == [("incident", 1), ("inspection", 1)]


def _offline_cleared(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": item["tag"]["code"],
        "client_id": str(uuid.uuid4()),
        "client_time": "2026-01-01T01:00:00Z",
        "offline": {
            "verdict": "CLEARED",
            "reasons": [],
            "needs_confirmation": True,
            "snapshot_at": "2026-01-01T00:00:00Z",
        },
    }


async def _incidents_of(client: AsyncTestClient[Any], w: World, item_id: str) -> list[Any]:
    r = await client.get(f"/api/v1/productions/{w.production_id}/incidents", headers=w.h("auditor"))
    return [i for i in r.json() if i["item_id"] == item_id]


async def test_a_claimed_offline_cleared_is_never_answered_cleared_and_is_an_incident(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # Any client can say it decided offline. A functional firearm "cleared offline":
    # the record keeps what the client says it showed, but the answer is the server's
    # STOP, and the disagreement is a serious incident that quarantines the item.
    w = await make_world(db, client)
    gun = await ready_item(client, w, capability_class="functional_firearm")
    answer = await verify(client, w, **_offline_cleared(gun))
    assert answer["verdict"] == "STOP"
    assert "restricted_class" in reason_codes(answer)
    stored = await db.fetchrow(
        "SELECT verdict, method FROM verifications WHERE id = $1",
        uuid.UUID(answer["verification_id"]),
    )
    assert (stored["verdict"], stored["method"]) == ("CLEARED", "offline")
    (incident,) = await _incidents_of(client, w, gun["id"])
    assert incident["kind"] == "offline_clearance_disputed"
    assert incident["verification_id"] == answer["verification_id"]
    status = (
        await client.get(f"/api/v1/productions/{w.production_id}/status", headers=w.h("auditor"))
    ).json()
    assert "serious_incidents" in [r["code"] for r in status["reasons"]]


async def test_an_offline_cleared_is_disputed_only_for_what_the_item_is(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    # A quarantine may have come after the scan (the server decides as of the replay):
    # no incident for that, the record keeps the server's verdict beside the phone's.
    # A restricted class no snapshot could have shown as clearable: an incident.
    item = await ready_item(client, world)
    quarantined = await ready_item(client, world)
    await inspect(client, world, quarantined["id"], result="fail")
    assert (await verify(client, world, **_offline_cleared(item)))["verdict"] == "CLEARED"
    answer = await verify(client, world, **_offline_cleared(quarantined))
    assert answer["verdict"] == "STOP"
    assert "quarantined" in reason_codes(answer)
    assert [
        i
        for i in await _incidents_of(client, world, quarantined["id"])
        if i["kind"] == "offline_clearance_disputed"
    ] == []
    body = await db.fetchval(
        "SELECT body FROM events WHERE kind = 'verification' AND body LIKE $1",
        f'%"verification_id":"{answer["verification_id"]}"%',
    )
    assert '"server_verdict":"STOP"' in body
    assert '"verdict":"CLEARED"' in body


async def test_an_offline_cleared_sent_again_is_still_answered_with_the_servers_verdict(
    client: AsyncTestClient[Any], world: World
) -> None:
    gun = await ready_item(client, world, capability_class="functional_firearm")
    scan = _offline_cleared(gun)
    first = await verify(client, world, **scan)
    again = await verify(client, world, **scan)
    assert first["verdict"] == again["verdict"] == "STOP"
    assert again["verification_id"] == first["verification_id"]
    assert "restricted_class" in reason_codes(again)
    disputes = [
        i
        for i in await _incidents_of(client, world, gun["id"])
        if i["kind"] == "offline_clearance_disputed"
    ]
    assert len(disputes) == 1


async def test_a_quarantine_committed_while_a_hand_off_waits_for_the_item_refuses_it(
    client: AsyncTestClient[Any], world: World, database: str
) -> None:
    # Another process quarantines the item while a hand-off is being recorded. Before,
    # the hand-off was checked on the facts from before the quarantine, then stored.
    item = await ready_item(client, world)
    scan = await handoff_scan(client, world, item, "Alex")
    quarantine = [
        ("UPDATE items SET status = 'quarantined' WHERE id = $1", [uuid.UUID(item["id"])])
    ]
    with another_process(database, quarantine):
        r = await check_out(client, world, scan["verification_id"], "Alex")
    assert r.status_code == 409, r.text
    assert "quarantined" in [x["code"] for x in r.json()["reasons"]]


async def test_an_archived_production_takes_no_new_changes_but_its_safety_records(
    client: AsyncTestClient[Any], db: Any
) -> None:
    from tests.api.helpers import jpeg

    w = await make_world(db, client)
    pid = w.production_id
    item = await ready_item(client, w)
    out = await ready_item(client, w)
    scan = await handoff_scan(client, w, out, "Alex")
    assert (await check_out(client, w, scan["verification_id"], "Alex")).status_code == 201
    later = await handoff_scan(client, w, item, "Bo")
    phone = await enroll_phone(client, pid, w.h("prop_master"))
    assert (await client.get("/api/v1/auth/me", headers=phone)).status_code == 200
    r = await client.post(f"/api/v1/productions/{pid}/enrollment-codes", headers=w.h("prop_master"))
    unused_code = r.json()["code"]

    r = await client.post(f"/api/v1/productions/{pid}/archive", headers=w.h("studio_admin"))
    assert r.status_code == 200, r.text
    # Its phones are signed out.
    assert (await client.get("/api/v1/auth/me", headers=phone)).status_code == 401
    pm = w.h("prop_master")
    refused = {
        "editItem": await client.patch(
            f"/api/v1/items/{item['id']}",
            json={"version": item["version"], "name": "x"},
            headers=pm,
        ),
        "addItemPhoto": await client.post(
            f"/api/v1/items/{item['id']}/photos",
            files={"photo": ("p.jpg", jpeg(), "image/jpeg")},
            headers=pm,
        ),
        "issueTag": await client.post(f"/api/v1/items/{item['id']}/tags", headers=pm),
        "recordInspection": await client.post(
            f"/api/v1/items/{item['id']}/inspections",
            json={"kind": "before_use", "result": "pass"},
            headers=pm,
        ),
        "setPolicy": await client.put(
            f"/api/v1/productions/{pid}/policy", json={"inspection_max_age_hours": 24}, headers=pm
        ),
        "createEnrollmentCode": await client.post(
            f"/api/v1/productions/{pid}/enrollment-codes", headers=pm
        ),
        "checkOut": await check_out(client, w, later["verification_id"], "Bo"),
    }
    for op, r in refused.items():
        assert r.status_code == 400, (op, r.text)
        assert "archived" in r.json()["detail"], op
    # A code minted before the archive joins no phone after it.
    r = await client.post("/api/v1/auth/enroll", json={"code": unused_code})
    assert r.status_code == 400, r.text
    # What safety needs is still recorded: an incident, a check-in, a revoked tag, a
    # hand-off made offline (it happened on set).
    vid = str(uuid.uuid4())
    body = offline_handoff_scan(item, vid, "2026-01-01T01:00:00Z")
    assert (await client.post("/api/v1/verify", json=body, headers=pm)).status_code == 200
    r = await client.post(
        f"/api/v1/productions/{pid}/checkouts",
        json={
            "verification_id": vid,
            "performer": "Alex",
            "client_id": str(uuid.uuid4()),
            "offline": True,
            "client_time": "2026-01-01T01:02:00Z",
        },
        headers=pm,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/productions/{pid}/incidents",
        json={"kind": "missing", "item_id": item["id"], "description": "not in the crate"},
        headers=w.h("scanner"),
    )
    assert r.status_code == 201, r.text
    back = await verify(client, w, out["tag"]["code"], role="prop_master", purpose="checkin")
    r = await client.post(
        f"/api/v1/productions/{pid}/checkins",
        json={"verification_id": back["verification_id"]},
        headers=pm,
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/tags/{out['tag']['id']}/revoke", headers=pm)
    assert r.status_code == 200, r.text


async def test_an_offline_hand_off_that_cannot_be_recorded_is_an_incident_once(
    client: AsyncTestClient[Any], world: World
) -> None:
    # Online, the item went to Bo. A phone offline handed it to Alex (on a scan made
    # before it knew): the record cannot hold two open hand-offs, but it must say so.
    item = await ready_item(client, world)
    scan = await handoff_scan(client, world, item, "Bo")
    assert (await check_out(client, world, scan["verification_id"], "Bo")).status_code == 201
    vid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    body = offline_handoff_scan(item, vid, "2026-01-01T01:00:00Z")
    r = await client.post("/api/v1/verify", json=body, headers=world.h("prop_master"))
    assert r.status_code == 200, r.text
    handoff = {
        "verification_id": vid,
        "performer": "Alex",
        "client_id": cid,
        "offline": True,
        "client_time": "2026-01-01T01:02:00Z",
    }
    for _ in range(2):  # the phone replays it
        r = await client.post(
            f"/api/v1/productions/{world.production_id}/checkouts",
            json=handoff,
            headers=world.h("prop_master"),
        )
        assert r.status_code == 409, r.text
    incidents = await _incidents_of(client, world, item["id"])
    unrecorded = [i for i in incidents if "could not be recorded" in i["description"]]
    assert len(unrecorded) == 1
    assert "Alex" in unrecorded[0]["description"]


async def test_a_resent_offline_scan_is_answered_with_the_verdict_recorded_for_it(
    client: AsyncTestClient[Any], world: World
) -> None:
    # The row holds what the phone said it showed; a resend, with or without its
    # "offline" part, gets the server's verdict recorded with it: never a CLEARED the
    # server did not decide, nor one decided later on other facts.
    gun = await ready_item(client, world, capability_class="functional_firearm")
    scan = _offline_cleared(gun)
    assert (await verify(client, world, **scan))["verdict"] == "STOP"
    plain = {k: v for k, v in scan.items() if k != "offline"}
    again = await verify(client, world, **plain)
    assert again["verdict"] == "STOP"
    assert "restricted_class" in reason_codes(again)

    item = await ready_item(client, world)
    await inspect(client, world, item["id"], result="fail")
    scan = _offline_cleared(item)
    assert (await verify(client, world, **scan))["verdict"] == "STOP"
    await inspect(client, world, item["id"])  # back in service now
    again = await verify(client, world, **scan)
    assert again["verdict"] == "STOP"
    assert "quarantined" in reason_codes(again)

    good = await ready_item(client, world)
    scan = _offline_cleared(good)
    first = await verify(client, world, **scan)
    again = await verify(client, world, **scan)
    assert first["verdict"] == again["verdict"] == "CLEARED"
    assert again["verification_id"] == first["verification_id"]
    assert again["needs_confirmation"] is True


async def test_a_mismatch_confirmed_while_a_writer_holds_the_item_waits_its_turn(
    client: AsyncTestClient[Any], world: World, database: str
) -> None:
    # A denied match appends its event and opens an incident, which updates the item.
    # It took the chain head before the item, against every other writer's order: a
    # writer holding the item and appending meanwhile deadlocked with it.
    item = await ready_item(client, world)
    answer = await verify(client, world, item["tag"]["code"])
    iid = uuid.UUID(item["id"])
    hold = [("SELECT id FROM items WHERE id = $1 FOR NO KEY UPDATE", [iid])]
    append = [
        (
            "SELECT propcheck_append_event($1, 'item.edited', 'test', $2, '{}')",
            [uuid.UUID(world.production_id), iid],
        )
    ]
    with another_process(database, hold, then=append) as outcome:
        r = await client.post(
            f"/api/v1/verifications/{answer['verification_id']}/confirm",
            json={"match": False, "note": "not the same prop"},
            headers=world.h("scanner"),
        )
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "STOP"
    assert outcome == ["committed"]
    kinds = [i["kind"] for i in await _incidents_of(client, world, item["id"])]
    assert "mismatch" in kinds


async def test_a_confirmation_judges_the_inspection_after_waiting_for_the_chain(
    client: AsyncTestClient[Any], db: Any, database: str
) -> None:
    # The provisional CLEARED is confirmed while another writer holds the production's
    # chain past the inspection's age limit. The confirmation is recorded after that
    # wait, and its answer must judge the inspection then: it judged it by the clock at
    # its transaction's start, seconds before, and answered CLEARED (found by review).
    w = await make_world(db, client)
    item = await ready_item(client, w)
    answer = await verify(client, w, item["tag"]["code"])
    assert answer["verdict"] == "CLEARED" and answer["needs_confirmation"]
    await lapse_inspection_in(client, db, w, item, 2)
    hold = [("SELECT propcheck_lock_chain($1)", [uuid.UUID(w.production_id)])]
    with another_process(database, hold, hold_s=3.5):
        r = await client.post(
            f"/api/v1/verifications/{answer['verification_id']}/confirm",
            json={"match": True},
            headers=w.h("scanner"),
        )
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "STOP"
    assert reason_codes(r.json()) == ["inspection_stale"]


async def test_a_hand_off_judges_the_inspection_as_of_its_record(
    client: AsyncTestClient[Any], db: Any, database: str
) -> None:
    # A confirmed hand-off scan, then the check-out while another writer holds the
    # production's chain past the inspection's age limit: the hand-off is refused. It
    # was decided before waiting for the chain, and recorded seconds past the limit.
    w = await make_world(db, client)
    item = await ready_item(client, w)
    scan = await handoff_scan(client, w, item, "Alex")
    await lapse_inspection_in(client, db, w, item, 2)
    hold = [("SELECT propcheck_lock_chain($1)", [uuid.UUID(w.production_id)])]
    with another_process(database, hold, hold_s=3.5):
        r = await check_out(client, w, scan["verification_id"], "Alex")
    assert r.status_code == 409, r.text
    assert reason_codes(r.json()) == ["inspection_stale"]
    out = await db.fetchval(
        "SELECT count(*) FROM checkouts WHERE item_id = $1", uuid.UUID(item["id"])
    )
    assert out == 0


async def test_an_incident_reported_while_a_hand_off_holds_the_item_is_not_lost(
    client: AsyncTestClient[Any], db: Any, database: str
) -> None:
    # A check-out (another process) holds the item's row and then takes the chain head;
    # meanwhile someone reports an incident about the item. Were the report to append
    # (the chain) before it locks the item to quarantine it, each would wait for the
    # other and PostgreSQL would fail one of them, the incident or the hand-off. The
    # report takes the item first (api/safety.py open_incident) and waits its turn.
    w = await make_world(db, client)
    item = await ready_item(client, w)
    iid, pid = uuid.UUID(item["id"]), uuid.UUID(w.production_id)
    checkout = [("SELECT 1 FROM items WHERE id = $1 FOR NO KEY UPDATE", [iid])]
    then = [("SELECT propcheck_lock_chain($1)", [pid])]
    with another_process(database, checkout, then, hold_s=1.5) as outcome:
        r = await client.post(
            f"/api/v1/productions/{w.production_id}/incidents",
            json={"kind": "damaged", "item_id": item["id"], "description": "cracked barrel"},
            headers=w.h("scanner"),
        )
    assert outcome == ["committed"]
    assert r.status_code == 201, r.text
    assert await status_of(client, w, item["id"]) == "quarantined"


async def test_a_check_in_judges_its_scan_age_after_waiting_for_the_chain(
    client: AsyncTestClient[Any], db: Any, database: str
) -> None:
    # The return scan is a few seconds short of the hand-off window when the check-in
    # starts, and another writer holds the chain past it: the check-in is refused. It
    # measured the age before its transaction, and took the item back on an old scan.
    w = await make_world(db, client)
    item = await ready_item(client, w)
    scan = await handoff_scan(client, w, item, "Alex")
    assert (await check_out(client, w, scan["verification_id"], "Alex")).status_code == 201
    back = await verify(client, w, item["tag"]["code"], role="prop_master", purpose="checkin")
    await db.execute("ALTER TABLE verifications DISABLE TRIGGER USER")
    try:  # scanned 10 minutes (the policy's window) less 2 seconds ago
        await db.execute(
            "UPDATE verifications SET created_at = clock_timestamp() - interval '598 seconds'"
            " WHERE id = $1",
            uuid.UUID(back["verification_id"]),
        )
    finally:
        await db.execute("ALTER TABLE verifications ENABLE TRIGGER USER")
    hold = [("SELECT propcheck_lock_chain($1)", [uuid.UUID(w.production_id)])]
    with another_process(database, hold, hold_s=3.5):
        r = await client.post(
            f"/api/v1/productions/{w.production_id}/checkins",
            json={"verification_id": back["verification_id"]},
            headers=w.h("prop_master"),
        )
    assert r.status_code == 409, r.text
    assert "too old" in r.json()["detail"]
    still_out = await db.fetchval(
        "SELECT count(*) FROM checkouts WHERE item_id = $1 AND in_at IS NULL",
        uuid.UUID(item["id"]),
    )
    assert still_out == 1


async def _checked_out_and_scanned_back(
    client: AsyncTestClient[Any], db: Any, w: World, item: dict[str, Any], **scan: Any
) -> str:
    """Hand ``item`` to Alex, scan it back (``scan``: the verify's extra fields), and
    make that scan 11 minutes old by the server's clock; returns its id."""
    out = await handoff_scan(client, w, item, "Alex")
    assert (await check_out(client, w, out["verification_id"], "Alex")).status_code == 201
    back = await verify(
        client, w, item["tag"]["code"], role="prop_master", purpose="checkin", **scan
    )
    await db.execute("ALTER TABLE verifications DISABLE TRIGGER USER")
    try:
        await db.execute(
            "UPDATE verifications SET created_at = created_at - interval '11 minutes'"
            " WHERE id = $1",
            uuid.UUID(back["verification_id"]),
        )
    finally:
        await db.execute("ALTER TABLE verifications ENABLE TRIGGER USER")
    return str(back["verification_id"])


async def test_a_check_in_sent_late_from_the_outbox_keeps_its_failed_inspection(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # The check-in could not be sent (no signal) and reached the server past the
    # hand-off window: refused as too old (it would close whatever check-out of the item
    # is open by then). Its failed after-use inspection was lost with it, and the item
    # stayed active (found by review). A replay keeps the inspection, once.
    w = await make_world(db, client)
    item = await ready_item(client, w)
    back = await _checked_out_and_scanned_back(client, db, w, item)
    body = {
        "verification_id": back,
        "client_id": str(uuid.uuid4()),
        "inspection": {"result": "fail", "notes": "hammer spring changed"},
    }
    url = f"/api/v1/productions/{w.production_id}/checkins"
    r = await client.post(url, json=body, headers=w.h("prop_master"))
    assert r.status_code == 409, r.text  # sent online: refused, nothing kept
    assert await _failed_inspections(db, item) == 0
    replay = {**body, "offline": True, "client_time": datetime.now(UTC).isoformat()}
    for _ in range(2):  # a phone that lost the answer sends it again
        r = await client.post(url, json=replay, headers=w.h("prop_master"))
        assert r.status_code == 409, r.text
        assert r.json()["detail"].endswith(
            "Its failed after-use inspection was recorded (the item is quarantined)."
        )
    assert await _failed_inspections(db, item) == 1
    assert await status_of(client, w, item["id"]) == "quarantined"
    still_out = await db.fetchval(
        "SELECT count(*) FROM checkouts WHERE item_id = $1 AND in_at IS NULL",
        uuid.UUID(item["id"]),
    )
    assert still_out == 1


async def test_a_late_check_in_replay_never_closes_a_later_hand_off(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # Phone A scans the item back and queues the check-in; meanwhile phone B checks it
    # in and hands it to Bea. A's replay arrives later: Bea's check-out stays open (it
    # was closed, and the item counted as returned while Bea held it: found by review).
    w = await make_world(db, client)
    item = await ready_item(client, w)
    a_scan = await _checked_out_and_scanned_back(client, db, w, item)
    b_scan = await verify(client, w, item["tag"]["code"], role="prop_master", purpose="checkin")
    url = f"/api/v1/productions/{w.production_id}/checkins"
    ok = {"verification_id": b_scan["verification_id"], "inspection": {"result": "pass"}}
    assert (await client.post(url, json=ok, headers=w.h("prop_master"))).status_code == 200
    to_bea = await handoff_scan(client, w, item, "Bea")
    assert (await check_out(client, w, to_bea["verification_id"], "Bea")).status_code == 201
    replay = {
        "verification_id": a_scan,
        "client_id": str(uuid.uuid4()),
        "offline": True,
        "client_time": datetime.now(UTC).isoformat(),
    }
    r = await client.post(url, json=replay, headers=w.h("prop_master"))
    assert r.status_code == 409, r.text
    open_to = await db.fetchval(
        "SELECT performer FROM checkouts WHERE item_id = $1 AND in_at IS NULL",
        uuid.UUID(item["id"]),
    )
    assert open_to == "Bea"


async def _failed_inspections(db: Any, item: dict[str, Any]) -> int:
    n: int = await db.fetchval(
        "SELECT count(*) FROM inspections WHERE item_id = $1 AND result = 'fail'",
        uuid.UUID(item["id"]),
    )
    return n


async def test_an_offline_return_scan_replayed_late_never_closes_a_later_hand_off(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # The same race with phone A offline for the scan too: its scan is stored when it is
    # replayed, so by the server's clock it looks fresh. Its own time on set comes
    # before Bea's hand-off scan: it is not her return.
    w = await make_world(db, client)
    item = await ready_item(client, w)
    to_alex = await handoff_scan(client, w, item, "Alex")
    assert (await check_out(client, w, to_alex["verification_id"], "Alex")).status_code == 201
    on_set = datetime.now(UTC)
    url = f"/api/v1/productions/{w.production_id}/checkins"
    b_scan = await verify(client, w, item["tag"]["code"], role="prop_master", purpose="checkin")
    ok = {"verification_id": b_scan["verification_id"], "inspection": {"result": "pass"}}
    assert (await client.post(url, json=ok, headers=w.h("prop_master"))).status_code == 200
    to_bea = await handoff_scan(client, w, item, "Bea")
    assert (await check_out(client, w, to_bea["verification_id"], "Bea")).status_code == 201
    offline = {"verdict": "CLEARED", "reasons": [], "needs_confirmation": True}
    a_scan = await verify(
        client,
        w,
        item["tag"]["code"],
        role="prop_master",
        purpose="checkin",
        client_id=str(uuid.uuid4()),
        client_time=on_set.isoformat(),
        offline={**offline, "snapshot_at": on_set.isoformat()},
    )
    replay = {
        "verification_id": a_scan["verification_id"],
        "client_id": str(uuid.uuid4()),
        "inspection": {"result": "fail", "notes": "cracked"},
        "offline": True,
        "client_time": on_set.isoformat(),
    }
    r = await client.post(url, json=replay, headers=w.h("prop_master"))
    assert r.status_code == 409, r.text
    assert "before the item was handed to Bea:" in r.json()["detail"], r.text
    open_to = await db.fetchval(
        "SELECT performer FROM checkouts WHERE item_id = $1 AND in_at IS NULL",
        uuid.UUID(item["id"]),
    )
    assert open_to == "Bea"
    # Its failed inspection still counts: the item Bea holds failed one.
    assert await _failed_inspections(db, item) == 1
    assert await status_of(client, w, item["id"]) == "quarantined"


async def test_a_pass_from_a_refused_check_in_replay_does_not_reactivate_the_item(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # Phone A queues its return with a passing inspection; phone B checks the item in
    # first, with a failed one (quarantined). A's replay is refused (not checked out):
    # its pass was kept and put the item back in service (found by review).
    w = await make_world(db, client)
    item = await ready_item(client, w)
    a_scan = await _checked_out_and_scanned_back(client, db, w, item)
    b_scan = await verify(client, w, item["tag"]["code"], role="prop_master", purpose="checkin")
    url = f"/api/v1/productions/{w.production_id}/checkins"
    failed = {"verification_id": b_scan["verification_id"], "inspection": {"result": "fail"}}
    assert (await client.post(url, json=failed, headers=w.h("prop_master"))).status_code == 200
    assert await status_of(client, w, item["id"]) == "quarantined"
    replay = {
        "verification_id": a_scan,
        "client_id": str(uuid.uuid4()),
        "inspection": {"result": "pass"},
        "offline": True,
    }
    r = await client.post(url, json=replay, headers=w.h("prop_master"))
    assert r.status_code == 409, r.text
    assert await status_of(client, w, item["id"]) == "quarantined"
    # And a replay must say which one it is: stored once by its client_id.
    del replay["client_id"]
    r = await client.post(url, json=replay, headers=w.h("prop_master"))
    assert r.status_code == 400, r.text


async def _offline_hand_off_to_alex(
    client: AsyncTestClient[Any], w: World, item: dict[str, Any], at: str
) -> None:
    """A phone's queued hand-off of ``item`` to Alex at ``at`` on its clock, replayed:
    its scan, then its check-out (recorded, as a replay always is)."""
    vid = str(uuid.uuid4())
    body = offline_handoff_scan(item, vid, at)
    r = await client.post("/api/v1/verify", json=body, headers=w.h("prop_master"))
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/checkouts",
        json={
            "verification_id": vid,
            "performer": "Alex",
            "client_id": str(uuid.uuid4()),
            "offline": True,
            "client_time": at,
        },
        headers=w.h("prop_master"),
    )
    assert r.status_code == 201, r.text


async def test_a_hand_off_phone_set_ahead_does_not_block_the_return(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # An offline hand-off from a phone whose clock runs 5 minutes ahead: its scan's
    # time on set is later than the (online) return scan that follows it. Taken at its
    # word, every return was refused as made before the hand-off until the server's
    # clock caught up (found by review); an offline scan counts no later than stored.
    w = await make_world(db, client)
    item = await ready_item(client, w)
    ahead = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    await _offline_hand_off_to_alex(client, w, item, ahead)
    back = await verify(client, w, item["tag"]["code"], role="prop_master", purpose="checkin")
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/checkins",
        json={"verification_id": back["verification_id"], "inspection": {"result": "pass"}},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 200, r.text


async def test_a_failed_inspection_kept_from_a_refused_replay_is_stored_once(
    client: AsyncTestClient[Any], db: Any
) -> None:
    # Phone B's queued return (failed inspection) arrives before phone A's queued
    # hand-off: refused, not checked out, its inspection kept. Its answer lost, B sends it
    # again after A's hand-off arrived: the check-in succeeds, and its inspection is the
    # one already kept, not a second (found by review).
    w = await make_world(db, client)
    item = await ready_item(client, w)
    handed = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    b_scan = await verify(client, w, item["tag"]["code"], role="prop_master", purpose="checkin")
    url = f"/api/v1/productions/{w.production_id}/checkins"
    b_checkin = {
        "verification_id": b_scan["verification_id"],
        "client_id": str(uuid.uuid4()),
        "inspection": {"result": "fail", "notes": "cracked"},
        "offline": True,
    }
    r = await client.post(url, json=b_checkin, headers=w.h("prop_master"))
    assert r.status_code == 409, r.text
    assert await _failed_inspections(db, item) == 1
    await _offline_hand_off_to_alex(client, w, item, handed)
    r = await client.post(url, json=b_checkin, headers=w.h("prop_master"))
    assert r.status_code == 200, r.text
    assert await _failed_inspections(db, item) == 1
