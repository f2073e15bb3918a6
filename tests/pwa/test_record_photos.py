"""A photo with an inspection or an incident, taken on the phone and made smaller there;
an incident reported offline keeps its photo in the outbox and is stored once, with it,
when the network is back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.pwa.conftest import sign_in
from tests.pwa.live import jpeg_bytes

pytestmark = pytest.mark.browser

CAMERA = {"name": "camera.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(4000, 3000)}


async def _photo_size(database: str, sql: str, *args: Any) -> tuple[int, int] | None:
    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow(sql, *args)
    finally:
        await conn.close()
    return None if row is None else (row["width"], row["height"])


async def _incident_form(page: Any, base: str, item_id: str, details: str) -> None:
    """Open the report form for an item and say what happened, before any photo."""
    await page.goto(f"{base}/#/incidents/new/{item_id}")
    await page.get_by_label("What happened").select_option("damaged")
    await page.get_by_label("Details").fill(details)


async def test_an_inspection_with_a_photo(
    phone_page: Any, live_server: str, live_world: Any, database: str
) -> None:
    item = await live_world.add("Dented prop carbine", inspect=False)
    page = phone_page
    await sign_in(page, live_server, live_world.emails["prop_master"])
    await page.goto(f"{live_server}/#/item/{item['id']}")
    await page.get_by_role("heading", name="Record an inspection").wait_for()
    await page.get_by_label("Fail (quarantines the item)").check()
    await page.get_by_label("Notes").fill("Dent in the barrel shroud")
    await page.locator("#insp-photo").set_input_files(CAMERA)
    # Saved at once, while the photo is still being made smaller: it waits for it.
    await page.get_by_role("button", name="Save inspection").click()
    await page.get_by_text("Inspection saved: failed.").wait_for()
    size = await _photo_size(
        database,
        "SELECT p.width, p.height FROM inspections i JOIN photos p ON p.id = i.photo_id"
        " WHERE i.item_id = $1 AND i.result = 'fail' AND p.purpose = 'inspection'",
        item["id"],
    )
    assert size == (1600, 1200)


async def test_an_incident_with_a_photo_reported_offline_is_stored_once_with_it(
    phone_context: Any, phone_page: Any, live_server: str, live_world: Any, database: str
) -> None:
    item = await live_world.add("Cracked rubber rifle")
    page = phone_page
    await sign_in(page, live_server, live_world.emails["scanner"])
    await _incident_form(page, live_server, item["id"], "Stock cracked through")
    await page.locator("#incident-photo").set_input_files(CAMERA)
    await page.get_by_role("img", name="The photo to send").wait_for()
    await phone_context.set_offline(True)
    await page.get_by_role("button", name="Report").click()
    await page.get_by_text("saved on this phone").wait_for()
    queued = await page.evaluate(
        "async () => (await window.propcheck.outbox.entries()).map(e => [e.jsonField, e.files.length])"
    )
    assert queued == [["incident", 1]]
    incident_sql = (
        "SELECT p.width, p.height FROM incidents n JOIN photos p ON p.id = n.photo_id"
        " WHERE n.item_id = $1 AND n.kind = 'damaged'"
    )
    assert await _photo_size(database, incident_sql, item["id"]) is None

    await phone_context.set_offline(False)  # `online`: the outbox replays
    await page.locator("#outbox-count").wait_for(state="detached", timeout=15_000)
    assert await _photo_size(database, incident_sql, item["id"]) == (1600, 1200)
    conn = await asyncpg.connect(database)
    try:
        n = await conn.fetchval(
            "SELECT count(*) FROM incidents WHERE item_id = $1 AND kind = 'damaged'", item["id"]
        )
        status = await conn.fetchval("SELECT status FROM items WHERE id = $1", item["id"])
    finally:
        await conn.close()
    assert n == 1
    assert status == "quarantined"


async def test_a_report_is_not_sent_without_the_photo_that_failed_nor_twice(
    phone_page: Any, live_server: str, live_world: Any, database: str
) -> None:
    item = await live_world.add("Bent foam sword")
    page = phone_page
    await sign_in(page, live_server, live_world.emails["scanner"])
    await _incident_form(page, live_server, item["id"], "Blade bent")
    # Not a picture: the report is not sent without the photo the person chose.
    await page.locator("#incident-photo").set_input_files(
        {"name": "camera.jpg", "mimeType": "image/jpeg", "buffer": b"not a picture"}
    )
    await page.get_by_text("This photo could not be read").wait_for()
    await page.get_by_role("button", name="Report").click()
    await page.get_by_text(
        "The photo could not be read: take it again, or choose to send without one."
    ).wait_for()
    sql = "SELECT count(*) FROM incidents WHERE item_id = $1"
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval(sql, item["id"]) == 0
        await page.get_by_role("button", name="Send without a photo").click()
        assert await page.get_by_text("This photo could not be read").count() == 0
        # A good photo, and the button pressed twice in a row: one incident.
        await page.locator("#incident-photo").set_input_files(CAMERA)
        await page.get_by_role("img", name="The photo to send").wait_for()
        report = page.get_by_role("button", name="Report")
        await report.dispatch_event("click")
        await report.dispatch_event("click")
        await page.get_by_text("Reported.").wait_for()
        await page.wait_for_timeout(1500)  # room for a second request, if one was sent
        assert await conn.fetchval(sql, item["id"]) == 1
    finally:
        await conn.close()
