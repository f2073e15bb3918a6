"""Firearm-free status: each reason appears when it should, and goes when it is settled."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.api.helpers import inspect, new_production, ready_item, register, verify
from tests.conftest import World, make_world


@pytest.fixture(scope="module")
async def base(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> World:
    return await make_world(db, client)


async def fresh(client: AsyncTestClient[Any], w: World) -> World:
    """A new empty production in the world's studio, with the same members."""
    pid = await new_production(client, w, "Status")
    return World({**w.__dict__, "production_id": pid})


async def status(client: AsyncTestClient[Any], w: World, role: str = "auditor") -> dict[str, Any]:
    r = await client.get(f"/api/v1/productions/{w.production_id}/status", headers=w.h(role))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def reasons(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in body["reasons"]}


async def test_empty_production_is_firearm_free(client: AsyncTestClient[Any], base: World) -> None:
    w = await fresh(client, base)
    body = await status(client, w)
    assert body["status"] == "FIREARM-FREE" and body["firearm_free"] is True
    assert body["reasons"] == []
    assert body["chain_head"]["seq"] >= 1  # production.created and the member events


async def test_uninspected_item_is_at_risk_until_inspected(
    client: AsyncTestClient[Any], base: World
) -> None:
    w = await fresh(client, base)
    item = await register(client, w)
    body = await status(client, w)
    assert body["status"] == "AT RISK"
    overdue = reasons(body)["inspection_overdue"]
    assert overdue["count"] == 1 and overdue["item_ids"] == [item["id"]]
    await inspect(client, w, item["id"])
    assert (await status(client, w))["status"] == "FIREARM-FREE"


async def test_stale_inspection_is_overdue(
    client: AsyncTestClient[Any], base: World, db: asyncpg.Connection
) -> None:
    w = await fresh(client, base)
    item = await ready_item(client, w)
    # Inspections are append-only for the app, not for the test's superuser.
    await db.execute(
        "UPDATE inspections SET created_at = created_at - interval '13 hours' WHERE item_id = $1",
        uuid.UUID(item["id"]),
    )
    assert "inspection_overdue" in reasons(await status(client, w))


async def test_restricted_item_makes_it_not_firearm_free_until_retired(
    client: AsyncTestClient[Any], base: World
) -> None:
    w = await fresh(client, base)
    await ready_item(client, w)
    gun = await register(client, w, name="Blank-firing revolver", capability_class="blank_firing")
    body = await status(client, w)
    assert body["status"] == "NOT FIREARM-FREE"
    restricted = reasons(body)["restricted_items"]
    assert restricted["severity"] == "not_firearm_free"
    assert restricted["item_ids"] == [gun["id"]]
    r = await client.patch(
        f"/api/v1/items/{gun['id']}",
        json={"version": gun["version"], "status": "retired"},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    assert (await status(client, w))["status"] == "FIREARM-FREE"


async def test_serious_incident_until_resolved(client: AsyncTestClient[Any], base: World) -> None:
    w = await fresh(client, base)
    item = await ready_item(client, w)
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/incidents",
        json={"kind": "suspected_functional", "item_id": item["id"], "description": "heavy"},
        headers=w.h("scanner"),
    )
    assert r.status_code == 201, r.text
    body = await status(client, w)
    assert body["status"] == "NOT FIREARM-FREE"
    assert reasons(body)["serious_incidents"]["item_ids"] == [item["id"]]
    r = await client.post(
        f"/api/v1/incidents/{r.json()['id']}/resolve",
        json={"notes": "resin prop, weighted grip"},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    body = await status(client, w)
    assert "serious_incidents" not in reasons(body)
    # The item stays quarantined until it passes inspection again: still not clear.
    await inspect(client, w, item["id"])
    assert (await status(client, w))["status"] == "FIREARM-FREE"


async def test_other_incident_is_at_risk(client: AsyncTestClient[Any], base: World) -> None:
    w = await fresh(client, base)
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/incidents",
        json={"kind": "other", "description": "door of the prop truck left open"},
        headers=w.h("scanner"),
    )
    assert r.status_code == 201, r.text
    body = await status(client, w)
    assert body["status"] == "AT RISK"
    assert reasons(body)["open_incidents"] == {
        "code": "open_incidents",
        "severity": "at_risk",
        "message": "Incidents are not resolved.",
        "count": 1,
        "item_ids": [],
    }


async def test_unknown_code_scan_is_at_risk(client: AsyncTestClient[Any], base: World) -> None:
    from verifier import codes

    w = await fresh(client, base)
    answer = await verify(client, w, codes.new_code(), production_id=w.production_id)
    assert answer["verdict"] == "STOP"
    body = await status(client, w)
    assert reasons(body)["unknown_code_scans"]["count"] == 1
    assert body["status"] == "AT RISK"


async def test_stop_at_handoff_until_a_cleared_handoff(
    client: AsyncTestClient[Any], base: World
) -> None:
    w = await fresh(client, base)
    item = await register(client, w)  # never inspected: a hand-off scan says STOP
    answer = await verify(
        client, w, item["tag"]["code"], role="prop_master", purpose="checkout", handoff_to="Ann"
    )
    assert answer["verdict"] == "STOP"
    body = await status(client, w)
    assert reasons(body)["handoff_stop_unresolved"]["item_ids"] == [item["id"]]
    await inspect(client, w, item["id"])
    again = await verify(
        client, w, item["tag"]["code"], role="prop_master", purpose="checkout", handoff_to="Ann"
    )
    assert again["verdict"] == "CLEARED"
    assert (await status(client, w))["status"] == "FIREARM-FREE"


async def test_item_out_since_before_wrap_is_at_risk(
    client: AsyncTestClient[Any], base: World, db: asyncpg.Connection
) -> None:
    w = await fresh(client, base)
    item = await ready_item(client, w)
    answer = await verify(
        client, w, item["tag"]["code"], role="prop_master", purpose="checkout", handoff_to="Bo"
    )
    r = await client.post(
        f"/api/v1/verifications/{answer['verification_id']}/confirm",
        json={"match": True},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/checkouts",
        json={"verification_id": answer["verification_id"], "performer": "Bo"},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    assert "not_checked_in" not in reasons(await status(client, w))
    await db.execute(
        "UPDATE checkouts SET out_at = out_at - interval '2 days' WHERE item_id = $1",
        uuid.UUID(item["id"]),
    )
    body = await status(client, w)
    assert reasons(body)["not_checked_in"]["item_ids"] == [item["id"]]


async def test_who_may_see_a_status(client: AsyncTestClient[Any], base: World) -> None:
    w = base
    for role in ("scanner", "auditor", "prop_master", "studio_admin", "studio_auditor"):
        r = await client.get(f"/api/v1/productions/{w.production_id}/status", headers=w.h(role))
        assert r.status_code == 200, role
    for role in ("q_prop_master", "other_studio_admin"):
        r = await client.get(f"/api/v1/productions/{w.production_id}/status", headers=w.h(role))
        assert r.status_code == 404, role


async def test_studio_overview_for_studio_staff_only(
    client: AsyncTestClient[Any], base: World
) -> None:
    w = await fresh(client, base)
    await register(client, w, name="Airsoft rifle", capability_class="airsoft_projectile")
    url = f"/api/v1/studios/{w.studio_id}/status"
    for role in ("studio_admin", "studio_auditor"):
        r = await client.get(url, headers=w.h(role))
        assert r.status_code == 200, r.text
        body = r.json()
        ids = [p["production_id"] for p in body["productions"]]
        assert {w.production_id, w.sibling_production_id} <= set(ids)
        assert body["productions"][0]["status"] == "NOT FIREARM-FREE"  # worst first
        assert sum(body["counts"].values()) == len(ids)
    for role in ("prop_master", "auditor", "other_studio_admin"):
        assert (await client.get(url, headers=w.h(role))).status_code == 404, role
