"""A prop master corrects an item and adds a photo on the phone; the record keeps why,
and an edit made meanwhile on another phone is not silently overwritten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.pwa.conftest import sign_in
from tests.pwa.live import jpeg_bytes

pytestmark = pytest.mark.browser


async def _open_edit(page: Any, base: str, item_id: str) -> None:
    await page.goto(f"{base}/#/item/{item_id}")
    await page.locator("#edit-item summary").click()
    await page.get_by_label("Why the change").wait_for()


async def test_edit_an_item_and_add_a_photo(
    phone_page: Any, live_server: str, live_world: Any, database: str, artifacts_dir: Path
) -> None:
    item = await live_world.add("Plastic lever rifle")
    page = phone_page
    await sign_in(page, live_server, live_world.emails["prop_master"])
    await _open_edit(page, live_server, item["id"])
    assert await page.get_by_label("Name", exact=True).input_value() == "Plastic lever rifle"
    await page.get_by_label("Serial number").fill("PLR-0042")
    # One mark per line: a comma inside a mark keeps it whole.
    await page.get_by_label("Distinctive marks").fill("Chipped left grip\nWhite paint, 2 cm, on stock")
    # Deactivated needs evidence: the form asks for it before anything is sent.
    await page.get_by_label("What can it do?").select_option("deactivated")
    assert await page.locator("#edit-evidence").is_visible()
    await page.get_by_label("What can it do?").select_option("non_firing_replica")
    assert not await page.locator("#edit-evidence").is_visible()
    await page.get_by_label("Why the change").fill("Serial found under the stock")
    await page.locator("#edit-item").screenshot(path=str(artifacts_dir / "item-edit.png"))
    await page.get_by_role("button", name="Save changes").click()
    await page.get_by_text("Changes saved.").wait_for()
    assert "PLR-0042" in await page.locator("dl.kv").inner_text()

    await page.locator("#item-photos").set_input_files(
        {"name": "camera.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(4000, 3000)}
    )
    await page.get_by_text("1 photo(s) added.").wait_for()
    assert await page.locator(".photos img").count() == 2

    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow(
            "SELECT serial, distinctive_marks, version FROM items WHERE id = $1",
            item["id"],
        )
        photos = await conn.fetch(
            "SELECT width, height FROM photos WHERE item_id = $1 ORDER BY created_at",
            item["id"],
        )
        event = await conn.fetchval(
            "SELECT body FROM events WHERE subject_id = $1 AND kind = 'item.edited'",
            item["id"],
        )
    finally:
        await conn.close()
    assert row["serial"] == "PLR-0042"
    assert list(row["distinctive_marks"]) == ["Chipped left grip", "White paint, 2 cm, on stock"]
    assert row["version"] == item["version"] + 1
    assert (photos[-1]["width"], photos[-1]["height"]) == (1600, 1200)  # made smaller first
    body = json.loads(event)
    assert body["note"] == "Serial found under the stock"
    assert body["before"] == {"distinctive_marks": ["Chipped left grip", "Blue dot"], "serial": ""}
    assert body["after"]["serial"] == "PLR-0042"
    assert "name" not in body["after"]  # only what changed is sent and recorded


async def test_an_edit_made_meanwhile_elsewhere_is_not_overwritten(
    phone_page: Any, live_server: str, live_world: Any, database: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        item = await live_world.register(client, "Foam machete")
        page = phone_page
        await sign_in(page, live_server, live_world.emails["prop_master"])
        await _open_edit(page, live_server, item["id"])
        # Another phone renames it while this form is open.
        r = await client.patch(
            f"/api/v1/items/{item['id']}",
            json={"version": item["version"], "name": "Foam machete (stunt)"},
            headers=live_world.h("prop_master"),
        )
        assert r.status_code == 200, r.text
    await page.get_by_label("Serial number").fill("FM-7")
    await page.get_by_label("Why the change").fill("Serial added")
    await page.get_by_role("button", name="Save changes").click()
    alert = page.locator("#edit-item [role=alert]")
    await alert.wait_for()
    assert "changed meanwhile" in await alert.inner_text()
    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow("SELECT name, serial FROM items WHERE id = $1", item["id"])
    finally:
        await conn.close()
    assert (row["name"], row["serial"]) == ("Foam machete (stunt)", "")
