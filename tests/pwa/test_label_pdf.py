"""A prop master prints a tag label: the PDF opens in the phone's viewer, under the
app's Content-Security-Policy (a blob: page inherits it; api/security_headers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pwa.conftest import sign_in
from verifier.decode import decode_image

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
    # Chromium draws the PDF in its viewer; the label on screen must read as this
    # item's tag (a refused viewer, or a PDF it cannot show, reads as nothing).
    read: set[str] = set()
    for _ in range(20):  # the viewer draws a moment after the page has loaded
        await viewer.wait_for_timeout(500)
        read = {d.text for d in decode_image(await viewer.screenshot())}
        if read:
            break
    assert read == {item["tag"]["code"]}, read
