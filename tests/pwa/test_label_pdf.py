"""A prop master prints a tag label: the PDF opens in the phone's viewer, under the
app's Content-Security-Policy (a blob: page inherits it; api/security_headers.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.pwa.conftest import sign_in

pytestmark = pytest.mark.browser


async def test_print_label_opens_the_pdf_in_the_viewer(
    phone_page: Any, live_server: str, live_world: Any
) -> None:
    page = phone_page
    await sign_in(page, live_server, live_world.emails["prop_master"])
    item = live_world.items["Cast revolver"]
    await page.goto(f"{live_server}/#/item/{item['id']}")
    async with page.context.expect_page() as opened:
        await page.get_by_role("button", name="Print label").click()
    viewer = await opened.value
    await viewer.wait_for_load_state()
    assert viewer.url.startswith("blob:")
    # Chromium draws the PDF in its viewer (dark grey, the label white); a page the CSP
    # refused would have no white label on it.
    await viewer.wait_for_timeout(1500)
    shot = Image.open(io.BytesIO(await viewer.screenshot())).convert("L")
    white = sum(shot.histogram()[231:]) / (shot.width * shot.height)
    assert white > 0.005, white
