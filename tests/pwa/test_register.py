"""Registering an item on the phone with a camera photo (issue 7, items 5 and 10e)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.pwa.conftest import sign_in
from tests.pwa.live import jpeg_bytes

pytestmark = pytest.mark.browser


async def test_register_an_item_with_a_photo_downscaled_on_the_phone(
    phone_page: Any, live_server: str, live_world: Any, database: str, artifacts_dir: Path
) -> None:
    page = phone_page
    await sign_in(page, live_server, live_world.emails["prop_master"])
    await page.locator("#tile-register").click()
    await page.get_by_label("Name", exact=True).fill("Resin derringer")
    await page.get_by_label("Deactivated firearm").check()
    assert await page.locator("#evidence").is_visible()  # evidence is asked for
    await page.get_by_label("Non-firing replica").check()
    assert not await page.locator("#evidence").is_visible()
    await page.get_by_label("Distinctive marks").fill(
        "Scratch on barrel\nRed thread on trigger guard"
    )
    # A 4000 px photo, as a phone camera takes; the page makes it at most 1600 px.
    await page.locator("#reg-photos").set_input_files(
        {"name": "camera.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(4000, 3000)}
    )
    await page.locator(".thumbs img").wait_for()
    await page.screenshot(path=str(artifacts_dir / "register.png"))
    await page.get_by_role("button", name="Register and issue a tag").click()
    await page.locator("#registered").wait_for()
    tag = await page.locator("#new-tag").inner_text()
    assert tag.startswith("PC-")
    await page.screenshot(path=str(artifacts_dir / "registered.png"))

    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow(
            "SELECT i.id, i.distinctive_marks, p.width, p.height FROM items i"
            " JOIN photos p ON p.item_id = i.id WHERE i.name = 'Resin derringer'"
            " AND i.production_id = $1",
            live_world.production_id,
        )
    finally:
        await conn.close()
    assert row is not None
    assert list(row["distinctive_marks"]) == ["Scratch on barrel", "Red thread on trigger guard"]
    assert (row["width"], row["height"]) == (1600, 1200)
