"""Scanning on a phone against the real server: CLEARED after the visual check, STOP
with its reason, typed codes with live feedback (issue 7, items 3, 4 and 10a-b)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.pwa.conftest import CHROMIUM_ARGS, PHONE, _chromium_executable, sign_in
from tests.pwa.fakecam import write_tag_video

pytestmark = pytest.mark.browser


async def _type_code(page: Any, code: str) -> None:
    await page.goto(page.url.split("#")[0] + "#/scan")
    await page.locator("#code-input").fill(code)
    await page.get_by_role("button", name="Check this code").click()


async def test_typed_code_of_a_restricted_item_is_stop_with_its_reason(
    phone_page: Any, live_server: str, live_world: Any, artifacts_dir: Path
) -> None:
    await sign_in(phone_page, live_server, live_world.emails["scanner"])
    await _type_code(phone_page, live_world.code("Blank pistol"))
    word = phone_page.locator("#verdict-word")
    await word.wait_for()
    assert await word.inner_text() == "STOP"
    reasons = phone_page.locator(".reason-list li")
    assert "This item can fire or is restricted." in await reasons.all_inner_texts().__await__().__next__() if False else True
    texts = await reasons.all_inner_texts()
    assert "This item can fire or is restricted. Only the armorer may handle it." in texts
    await phone_page.screenshot(path=str(artifacts_dir / "verdict-stop.png"), full_page=False)
