"""Scanning on a phone against the real server: CLEARED after the visual check, STOP
with its reason, typed codes with live feedback (issue 7, items 3, 4 and 10a-b)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.pwa.conftest import CHROMIUM_ARGS, PHONE, _chromium_executable, sign_in
from tests.pwa.fakecam import write_tag_video

pytestmark = pytest.mark.browser


@asynccontextmanager
async def _camera_phone(video: Path) -> AsyncIterator[Any]:
    """A phone-sized browser context whose camera (Chromium's fake one) plays ``video``;
    the browser is closed afterwards."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=_chromium_executable(),
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        try:
            context = await browser.new_context(**PHONE, permissions=["camera"])
            context.set_default_timeout(15_000)
            yield context
        finally:
            await browser.close()


async def _type_code(page: Any, base: str, code: str) -> None:
    await page.goto(f"{base}/#/scan")
    await page.locator("#code-input").fill(code)
    await page.get_by_role("button", name="Check this code").click()
    await page.locator("#verdict-word").wait_for()


async def _reasons(page: Any) -> list[str]:
    texts: list[str] = await page.locator(".reason-list li").all_inner_texts()
    return texts


async def test_restricted_item_is_stop_with_its_reason(
    phone_page: Any, live_server: str, live_world: Any, artifacts_dir: Path
) -> None:
    await sign_in(phone_page, live_server, live_world.emails["scanner"])
    await _type_code(phone_page, live_server, live_world.code("Blank pistol"))
    assert await phone_page.locator("#verdict-word").inner_text() == "STOP"
    assert "This item can fire or is restricted. Only the armorer may handle it." in (
        await _reasons(phone_page)
    )
    # The registered photo is there to compare, and no "Matches" button on a STOP.
    assert await phone_page.locator(".photos img").count() == 1
    assert await phone_page.get_by_role("button", name="Matches").count() == 0
    await phone_page.screenshot(path=str(artifacts_dir / "verdict-stop.png"))


async def test_revoked_tag_is_stop_with_its_reason(
    phone_page: Any, live_server: str, live_world: Any
) -> None:
    await sign_in(phone_page, live_server, live_world.emails["scanner"])
    await _type_code(phone_page, live_server, live_world.code("Rubber rifle"))
    assert await phone_page.locator("#verdict-word").inner_text() == "STOP"
    assert await _reasons(phone_page) == ["This tag was revoked. Its item must carry a new tag."]


async def test_typing_a_code_gives_live_check_character_feedback(
    phone_page: Any, live_server: str, live_world: Any, artifacts_dir: Path
) -> None:
    await sign_in(phone_page, live_server, live_world.emails["scanner"])
    await phone_page.goto(f"{live_server}/#/scan")
    code = live_world.code("Cast revolver")
    box = phone_page.locator("#code-input")
    feedback = phone_page.locator("#code-feedback")
    button = phone_page.get_by_role("button", name="Check this code")
    await box.fill(code[:10])
    assert await feedback.inner_text() == "8 more characters to type."
    assert await button.is_disabled()
    wrong = code[:-1] + ("X" if code[-1] != "X" else "Y")
    await box.fill(wrong)
    assert "does not check out" in await feedback.inner_text()
    assert await box.get_attribute("aria-invalid") == "true"
    await phone_page.screenshot(path=str(artifacts_dir / "scan-typing-error.png"))
    await box.fill(code.lower())
    assert "checks out" in await feedback.inner_text()
    assert await button.is_enabled()


async def test_fake_camera_scan_is_cleared_after_confirming_the_match(
    live_server: str, live_world: Any, artifacts_dir: Path, tmp_path: Path
) -> None:
    """Chromium's fake camera plays a video of the tag's QR: the app reads it with the
    WebAssembly decoder (no BarcodeDetector on Linux), asks for the visual check, and
    answers CLEARED once the person says it matches."""
    video = write_tag_video(
        tmp_path / "tag.y4m", live_world.items["Cast revolver"]["tag"]["display"]
    )
    async with _camera_phone(video) as context:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # The WebAssembly decoder compiles under the app's CSP ('wasm-unsafe-eval').
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        requested: list[str] = []
        context.on("request", lambda r: requested.append(r.url))
        await sign_in(page, live_server, live_world.emails["scanner"])
        await page.locator("#scan-button").click()
        word = page.locator("#verdict-word")
        await word.wait_for(timeout=20_000)
        assert await page.locator(".camera-box").count() == 0
        assert await word.inner_text() == "CHECK THE ITEM"
        assert await page.locator(".marks li").all_inner_texts() == [
            "Chipped left grip",
            "Blue dot",
        ]
        await page.screenshot(path=str(artifacts_dir / "verdict-check.png"))
        await page.get_by_role("button", name="Matches").click()
        await page.wait_for_function(
            "() => document.querySelector('#verdict-word')?.textContent === 'CLEARED'"
        )
        await page.screenshot(path=str(artifacts_dir / "verdict-cleared.png"))
        assert errors == []
        # The decoder came from this server (page or service worker), never a CDN.
        wasm = [u for u in requested if u.endswith(".wasm")]
        assert wasm
        assert all(u.startswith(live_server) for u in wasm), wasm
        assert all(u.startswith(live_server) for u in requested), requested


async def test_does_not_match_is_stop_and_reports_the_incident(
    phone_page: Any, live_server: str, live_world: Any, database: str
) -> None:
    import asyncpg

    item = await live_world.add("Rubber knife")
    await sign_in(phone_page, live_server, live_world.emails["scanner"])
    await _type_code(phone_page, live_server, item["tag"]["code"])
    await phone_page.get_by_role("button", name="Does not match").click()
    await phone_page.wait_for_function(
        "() => document.querySelector('#verdict-word')?.textContent === 'STOP'"
    )
    assert "The item in hand does not match the registered photos and marks." in await _reasons(
        phone_page
    )
    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow(
            "SELECT i.status, (SELECT count(*) FROM incidents n WHERE n.item_id = i.id"
            " AND n.kind = 'mismatch') AS n FROM items i WHERE i.id = $1",
            item["id"],
        )
    finally:
        await conn.close()
    assert (row["status"], row["n"]) == ("quarantined", 1)


async def test_send_photo_is_verified_by_the_server(
    phone_page: Any, live_server: str, live_world: Any, tmp_path: Path
) -> None:
    import segno

    photo = tmp_path / "tag.png"
    segno.make_qr(live_world.code("Blank pistol"), error="m").save(str(photo), scale=8, border=4)
    await sign_in(phone_page, live_server, live_world.emails["scanner"])
    await phone_page.goto(f"{live_server}/#/scan")
    await phone_page.locator("#photo-input").set_input_files(str(photo))
    await phone_page.locator("#verdict-word").wait_for(timeout=20_000)
    assert await phone_page.locator("#verdict-word").inner_text() == "STOP"
    assert "This item can fire or is restricted. Only the armorer may handle it." in (
        await _reasons(phone_page)
    )


# Headless Linux Chromium has no BarcodeDetector and its fake camera no torch, so this
# test installs both before the app loads: a BarcodeDetector whose detect() looks at the
# frame it is given and answers what the test says the platform read, and a camera
# track that reports a torch and records the constraints applied to it. What is tested
# is the app's use of them: the native engine is picked (no WebAssembly decoder
# loaded), two tags in view decide nothing, a misread is ignored, the torch switches.
_PLATFORM = """
window.__detect = { calls: 0, lit: 0, answers: [] };
window.__torch = [];
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ["qr_code", "code_128", "ean_13"]; }
  constructor(options) { window.__detect.formats = options.formats; }
  async detect(canvas) {
    const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4 * 101) if (d[i] + d[i + 1] + d[i + 2] > 0) lit += 1;
    window.__detect.calls += 1;
    window.__detect.lit = lit;
    return window.__detect.answers.map((rawValue) => ({ rawValue, format: "qr_code" }));
  }
};
const caps = MediaStreamTrack.prototype.getCapabilities;
MediaStreamTrack.prototype.getCapabilities = function () {
  return { ...(caps ? caps.call(this) : {}), torch: true };
};
MediaStreamTrack.prototype.applyConstraints = async function (c) { window.__torch.push(c); };
"""


async def test_native_detector_and_torch_where_the_platform_has_them(
    live_server: str, live_world: Any, tmp_path: Path
) -> None:
    cast = live_world.items["Cast revolver"]["tag"]["display"]
    other = live_world.items["Blank pistol"]["tag"]["display"]
    video = write_tag_video(tmp_path / "tag.y4m", cast)
    async with _camera_phone(video) as context:
        await context.add_init_script(_PLATFORM)
        page = await context.new_page()
        loaded: list[str] = []  # by the page; the service worker caches the shell anyway
        page.on("request", lambda r: loaded.append(r.url))
        await sign_in(page, live_server, live_world.emails["scanner"])
        await page.evaluate(f"() => {{ window.__detect.answers = ['{cast}', '{other}']; }}")
        await page.locator("#scan-button").click()
        await page.wait_for_function("() => window.__detect.calls >= 5")
        box = page.locator(".camera-box")
        assert await box.get_attribute("data-engine") == "native"
        assert await page.evaluate("() => window.__detect.formats") == ["qr_code", "code_128"]
        assert await page.evaluate("() => window.__detect.lit") > 0  # frames of the camera
        assert await page.locator("#verdict-word").count() == 0  # two tags: no guess

        torch = page.get_by_role("button", name="Torch")
        await torch.click()
        assert await torch.get_attribute("aria-pressed") == "true"
        assert await page.evaluate("() => window.__torch") == [{"advanced": [{"torch": True}]}]

        await page.evaluate(
            f"() => {{ window.__detect.answers = ['PC-NOT-A-REAL-CODE', '{cast}']; }}"
        )
        word = page.locator("#verdict-word")
        await word.wait_for()
        assert await word.inner_text() == "CHECK THE ITEM"
        assert "Cast revolver" in await page.locator("main").inner_text()
        assert not [u for u in loaded if u.endswith(".wasm") or "zxing" in u]
