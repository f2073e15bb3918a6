"""Corrections are new events; originals stay; both can be listed apart."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.helpers import register
from tests.conftest import World, make_world

pytestmark = pytest.mark.asyncio


async def test_correction_refers_to_the_original_which_stays(
    client: AsyncTestClient[Any], db: Any
) -> None:
    w: World = await make_world(db, client)
    await register(client, w, serial="SN-1O1")
    url = f"/api/v1/productions/{w.production_id}"
    events = (await client.get(f"{url}/events", headers=w.h("auditor"))).json()
    original = next(e for e in events if e["kind"] == "item.registered")
    r = await client.post(
        f"{url}/corrections",
        json={
            "corrects_seq": original["seq"],
            "note": "serial mistyped",
            "values": {"serial": "SN-101"},
        },
        headers=w.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    correction = r.json()
    assert correction["body"]["corrects_hash"] == original["hash"]
    after = (await client.get(f"{url}/events", headers=w.h("auditor"))).json()
    assert next(e for e in after if e["seq"] == original["seq"]) == original  # unchanged
    only = (
        await client.get(f"{url}/events", params={"corrections": "only"}, headers=w.h("auditor"))
    ).json()
    assert [e["seq"] for e in only] == [correction["seq"]]
    without = (
        await client.get(f"{url}/events", params={"corrections": "exclude"}, headers=w.h("auditor"))
    ).json()
    assert correction["seq"] not in [e["seq"] for e in without]


async def test_correction_rules(client: AsyncTestClient[Any], db: Any) -> None:
    w: World = await make_world(db, client)
    url = f"/api/v1/productions/{w.production_id}/corrections"
    body = {"corrects_seq": 1, "note": "x"}
    assert (await client.post(url, json=body, headers=w.h("auditor"))).status_code == 403
    assert (await client.post(url, json=body, headers=w.h("q_prop_master"))).status_code == 404
    missing = await client.post(
        url, json={**body, "corrects_seq": 10**9}, headers=w.h("prop_master")
    )
    assert missing.status_code == 400
