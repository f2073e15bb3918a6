"""A new app version waits for the person: "Update available — Reload", and on reload
only this app's old shell cache is deleted (issue 7, item 1)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.pwa.conftest import PWA_DIR, serve_static

pytestmark = pytest.mark.browser


async def test_new_version_is_offered_not_forced_and_old_cache_is_dropped(
    phone_page: Any, tmp_path: Path, artifacts_dir: Path
) -> None:
    app = tmp_path / "pwa"
    shutil.copytree(PWA_DIR, app)
    sw = app / "sw.js"
    found = re.search(r'const CACHE_VERSION = "v(\d+)";', sw.read_text(encoding="utf-8"))
    assert found is not None
    version, n = found.group(0), int(found.group(1))
    old, new = f"propcheck-shell-v{n}", f"propcheck-shell-v{n + 1}"
    page = phone_page
    with serve_static({"/": app}) as base:
        await page.goto(f"{base}/")
        await page.evaluate("async () => { await navigator.serviceWorker.ready; }")
        await page.reload()
        await page.wait_for_function("() => Boolean(navigator.serviceWorker.controller)")
        await page.evaluate("async () => { await caches.open('someone-elses-cache'); }")
        assert old in await page.evaluate("() => caches.keys()")

        sw.write_text(
            sw.read_text(encoding="utf-8").replace(version, f'const CACHE_VERSION = "v{n + 1}";')
        )
        await page.evaluate(
            "async () => (await navigator.serviceWorker.getRegistration()).update()"
        )
        toast = page.locator("#update")
        await toast.get_by_text("Update available.").wait_for()
        # Offered, not applied: the old version still controls the page.
        assert old in await page.evaluate("() => caches.keys()")
        await page.screenshot(path=str(artifacts_dir / "update-available.png"))

        async with page.expect_navigation():
            await toast.get_by_role("button", name="Reload").click()
        await page.wait_for_function(
            "async (old) => !(await caches.keys()).includes(old)", arg=old
        )
        keys = await page.evaluate("() => caches.keys()")
        assert new in keys
        assert old not in keys
        assert "someone-elses-cache" in keys
