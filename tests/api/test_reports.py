"""Audit reports: the same record as CSV, JSON and a printable PDF, for a bounded range."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.api.helpers import ITEM, inspect, jpeg, register, verify
from tests.api.test_status import fresh
from tests.conftest import World, make_world

pypdfium2 = pytest.importorskip("pypdfium2")


@pytest.fixture(scope="module")
async def filled(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> World:
    """A production with a photographed item, a restricted one, and some of each log."""
    w = await fresh(client, await make_world(db, client))
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/items",
        data={"item": json.dumps({**ITEM, "name": "Résin Colt ✓"})},
        files=[("photos", ("p.jpg", jpeg(900, 600, "navy"), "image/jpeg"))],
        headers=w.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    item = r.json()
    await register(client, w, name="Blank revolver", capability_class="blank_firing")
    await inspect(client, w, item["id"])
    await verify(client, w, item["tag"]["code"], production_id=w.production_id)
    await verify(client, w, "not a code", production_id=w.production_id)
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/incidents",
        json={"kind": "other", "description": "crate left open"},
        headers=w.h("scanner"),
    )
    assert r.status_code == 201, r.text
    # A correction of the inspection's event: listed beside the original it corrects.
    r = await client.get(
        f"/api/v1/productions/{w.production_id}/events", headers=w.h("prop_master")
    )
    (inspected,) = [e for e in r.json() if e["kind"].startswith("inspection")]
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/corrections",
        json={"corrects_seq": inspected["seq"], "note": "inspected by Ana, not Bo"},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    w.item = item
    w.corrected = inspected
    return w


def _url(w: World, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/productions/{w.production_id}/reports?{query}"


async def _head(db: asyncpg.Connection, w: World) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT seq, hash FROM chain_heads WHERE chain_id = $1::uuid", w.production_id
    )


async def test_csv_report_is_a_zip_of_every_table(
    client: AsyncTestClient[Any], filled: World
) -> None:
    r = await client.get(_url(filled, format="csv"), headers=filled.h("auditor"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(z.namelist())
    assert names == {
        "items.csv",
        "verifications.csv",
        "handoffs.csv",
        "inspections.csv",
        "incidents.csv",
        "corrections.csv",
        "report.json",
    }

    def table(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8")))

    items = table("items.csv")
    assert {i["name"] for i in items} == {"Résin Colt ✓", "Blank revolver"}
    verifications = table("verifications.csv")
    assert sorted(v["verdict"] for v in verifications) == ["CLEARED", "STOP"]
    assert any("bad_format" in v["reasons"] for v in verifications)
    assert [i["result"] for i in table("inspections.csv")] == ["pass"]
    assert [i["kind"] for i in table("incidents.csv")] == ["other"]
    (correction,) = table("corrections.csv")
    assert correction["note"] == "inspected by Ana, not Bo"
    assert correction["corrects_seq"] == str(filled.corrected["seq"])
    assert correction["corrects_kind"] == filled.corrected["kind"]
    assert correction["corrects_hash"] == filled.corrected["hash"]
    assert correction["original_hash"] == filled.corrected["hash"]  # the original unaltered
    # An empty table still says what its columns are.
    assert z.read("handoffs.csv").decode().splitlines()[0].startswith("id,item_id,item_name")
    meta = json.loads(z.read("report.json"))
    assert meta["status"]["status"] == "NOT FIREARM-FREE"
    assert meta["truncated"] == []


async def test_json_report_holds_the_same(
    client: AsyncTestClient[Any], filled: World, db: asyncpg.Connection
) -> None:
    r = await client.get(_url(filled, format="json"), headers=filled.h("scanner"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "items",
        "verifications",
        "handoffs",
        "inspections",
        "incidents",
        "corrections",
        "report",
    }
    assert len(body["items"]) == 2 and len(body["verifications"]) == 2
    assert body["handoffs"] == []
    head = await _head(db, filled)
    assert body["report"]["status"]["chain_head"] == {"seq": head["seq"], "hash": head["hash"]}


async def test_pdf_report_has_status_first_and_the_chain_head_on_every_page(
    client: AsyncTestClient[Any], filled: World, db: asyncpg.Connection
) -> None:
    r = await client.get(_url(filled, format="pdf"), headers=filled.h("auditor"))
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF")
    assert b"/DCTDecode" in r.content  # the item's thumbnail is embedded
    head = await _head(db, filled)
    pdf = pypdfium2.PdfDocument(r.content)
    texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    assert len(texts) >= 3  # summary, items, logs
    assert "NOT FIREARM-FREE" in texts[0]
    for text in texts:
        assert head["hash"] in text and f"seq {head['seq']}" in text
        assert "generated" in text
    everything = "\n".join(texts)
    assert "Blank revolver" in everything and "crate left open" in everything
    assert "inspected by Ana, not Bo" in everything


async def test_range_is_bounded_and_checked(client: AsyncTestClient[Any], filled: World) -> None:
    h = filled.h("auditor")
    for params in (
        {"from": "2025-03-01", "to": "2025-02-01"},
        {"from": "2020-01-01", "to": "2025-01-01"},
        {"from": "yesterday"},
    ):
        r = await client.get(_url(filled, format="json", **params), headers=h)
        assert r.status_code == 400, params
    # A range before anything happened is empty but valid.
    r = await client.get(
        _url(filled, format="json", **{"from": "2024-01-01", "to": "2024-02-01"}), headers=h
    )
    assert r.status_code == 200
    assert r.json()["verifications"] == [] and r.json()["items"] == []
    r = await client.get(_url(filled, format="xml"), headers=h)
    assert r.status_code == 400


async def test_reports_are_for_readers_of_the_production(
    client: AsyncTestClient[Any], filled: World
) -> None:
    for role in ("q_prop_master", "other_studio_admin"):
        r = await client.get(_url(filled, format="csv"), headers=filled.h(role))
        assert r.status_code == 404, role


@pytest.mark.parametrize(
    "params", [{"to": "9999-12-31"}, {"to": "0001-01-05T00:00:00"}, {"from": "0001-01-01"}]
)
async def test_dates_at_the_ends_of_the_calendar_are_a_400(
    client: AsyncTestClient[Any], world: World, params: dict[str, str]
) -> None:
    r = await client.get(
        f"/api/v1/productions/{world.production_id}/reports",
        params={"format": "json", **params},
        headers=world.h("auditor"),
    )
    assert r.status_code == 400, r.text


async def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    world = await make_world(db, client)  # its own: the shared one's members stay as they are
    pid = world.production_id
    await register(client, world, name='=HYPERLINK("http://x.test","open")')
    r = await client.get(
        f"/api/v1/productions/{pid}/reports?format=csv", headers=world.h("auditor")
    )
    z = zipfile.ZipFile(io.BytesIO(r.content))
    (row,) = csv.DictReader(io.TextIOWrapper(z.open("items.csv"), encoding="utf-8"))
    assert row["name"] == '\'=HYPERLINK("http://x.test","open")'
    r = await client.get(
        f"/api/v1/productions/{pid}/reports?format=json", headers=world.h("auditor")
    )
    assert [i["name"] for i in r.json()["items"]] == ['=HYPERLINK("http://x.test","open")']


def test_dates_without_a_zone_are_the_productions_own_days() -> None:
    # Found by review: bare dates were read as UTC, so a set in Los Angeles asking for
    # its 1 June got 17:00 on 31 May to 17:00 on 1 June, local time.
    from datetime import UTC, datetime

    from api.reports import parse_range

    now = datetime(2026, 6, 10, tzinfo=UTC)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    frm, to = parse_range("2026-06-01", "2026-06-01", now, created, "America/Los_Angeles")
    assert frm == datetime(2026, 6, 1, 7, tzinfo=UTC)  # local midnight, PDT
    assert to == datetime(2026, 6, 2, 7, tzinfo=UTC)
    # An explicit zone stays as given; an unknown production zone falls back to UTC.
    frm, _ = parse_range("2026-06-01T00:00:00Z", None, now, created, "America/Los_Angeles")
    assert frm == datetime(2026, 6, 1, tzinfo=UTC)
    frm, _ = parse_range("2026-06-01", None, now, created, "Not/AZone")
    assert frm == datetime(2026, 6, 1, tzinfo=UTC)


async def test_a_range_holds_the_check_ins_and_resolutions_made_in_it(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    # Found by review: a check-in inside the range of an item handed out before it, and
    # the resolution inside the range of an incident reported before it, were left out.
    from tests.api.test_safety import _back_from

    w = await fresh(client, await make_world(db, client))
    item = await register(client, w, name="Foam Bren")
    await inspect(client, w, item["id"])
    await _back_from(client, w, item, inspection={"result": "pass", "notes": ""})
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/incidents",
        json={"kind": "other", "item_id": item["id"], "description": "scuffed"},
        headers=w.h("scanner"),
    )
    assert r.status_code == 201, r.text
    incident = r.json()["id"]
    r = await client.post(
        f"/api/v1/incidents/{incident}/resolve", json={"notes": "fine"}, headers=w.h("prop_master")
    )
    assert r.status_code == 200, r.text
    # The hand-off and the report were made two days ago; the check-in and the
    # resolution today.
    await db.execute(
        "UPDATE checkouts SET out_at = out_at - interval '2 days' WHERE item_id = $1::uuid",
        item["id"],
    )
    await db.execute("ALTER TABLE incidents DISABLE TRIGGER USER")
    try:
        await db.execute(
            "UPDATE incidents SET created_at = created_at - interval '2 days' WHERE id = $1::uuid",
            incident,
        )
    finally:
        await db.execute("ALTER TABLE incidents ENABLE TRIGGER USER")
    since = (await db.fetchval("SELECT (now() - interval '1 day')::date")).isoformat()
    r = await client.get(_url(w, format="json", **{"from": since}), headers=w.h("auditor"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [h["item_id"] for h in body["handoffs"]] == [item["id"]]
    assert [i["id"] for i in body["incidents"]] == [incident]


async def test_pdf_report_cuts_texts_too_long_for_a_page(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    """The longest texts the API takes (a correction's note and values, an incident's
    description, thirty marks) used to fail the whole PDF: a row taller than a page."""
    w = await fresh(client, await make_world(db, client))
    await register(client, w, name="Marked", distinctive_marks=["m" * 200] * 30)
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/incidents",
        json={"kind": "other", "description": "d" * 5000},
        headers=w.h("scanner"),
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/corrections",
        json={
            "corrects_seq": 1,
            "note": "n" * 5000,
            "values": {f"field{i:02}": "v" * 1000 for i in range(50)},
        },
        headers=w.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    r = await client.get(_url(w, format="pdf"), headers=w.h("auditor"))
    assert r.status_code == 200, r.text
    pdf = pypdfium2.PdfDocument(r.content)
    text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    # Cells wrap wherever the width ends: compare without the line breaks.
    flat = "".join(text.split())
    assert flat.count("theCSVreporthasthewholetext") == 4  # marks, incident, note, values
    r = await client.get(_url(w, format="json"), headers=w.h("auditor"))
    assert r.json()["corrections"][0]["note"] == "n" * 5000  # the CSV and JSON have all


async def test_a_past_range_lists_the_items_as_they_were_at_its_end(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    # An audit of last month must show what the production held last month. The items
    # were listed as they are now: a replica later edited into a blank-firing gun (or
    # the other way round) was shown with its class of today, with today's tag.
    w = await fresh(client, await make_world(db, client))
    item = await register(client, w, name="Foam Colt", distinctive_marks=["chip"])
    await inspect(client, w, item["id"])
    end = (await db.fetchval("SELECT clock_timestamp()")).isoformat()
    # After the range's end: renamed and made blank-firing, a failed inspection
    # (quarantined), a new tag.
    r = await client.patch(
        f"/api/v1/items/{item['id']}",
        json={
            "version": item["version"],
            "name": "Steel Colt",
            "capability_class": "blank_firing",
            "distinctive_marks": ["new grip"],
            "note": "it fires blanks",
        },
        headers=w.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    await inspect(client, w, item["id"], result="fail")
    r = await client.post(f"/api/v1/items/{item['id']}/tags", headers=w.h("prop_master"))
    assert r.status_code == 201, r.text
    new_code = r.json()["code"]

    def listed(body: dict[str, Any]) -> dict[str, Any]:
        (row,) = [i for i in body["items"] if i["id"] == item["id"]]
        return {k: row[k] for k in ("name", "capability_class", "status", "tag_code")} | {
            "marks": row["distinctive_marks"],
            "passed": row["last_pass_at"] is not None,
        }

    since = (await db.fetchval("SELECT (now() - interval '1 day')::date")).isoformat()
    r = await client.get(
        _url(w, format="json", **{"from": since, "to": end.replace("+", "%2B")}),
        headers=w.h("auditor"),
    )
    assert r.status_code == 200, r.text
    assert listed(r.json()) == {
        "name": "Foam Colt",
        "capability_class": "non_firing_replica",
        "status": "active",
        "tag_code": item["tag"]["code"],
        "marks": ["chip"],
        "passed": True,
    }
    r = await client.get(_url(w, format="json", **{"from": since}), headers=w.h("auditor"))
    assert r.status_code == 200, r.text
    now = listed(r.json())
    assert now["name"] == "Steel Colt" and now["capability_class"] == "blank_firing"
    assert now["status"] == "quarantined" and now["marks"] == ["new grip"]
    assert now["tag_code"] == new_code
