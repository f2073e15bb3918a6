"""Browser fixtures for the PWA: a static server for pwa/ and Debian's Chromium at
phone size, driven by Playwright's async API.

* ``static_base_url``: ``http://127.0.0.1:PORT`` serving ``pwa/`` at ``/`` and
  ``tests/`` at ``/_test/`` (ES modules and service workers need http, not file://).
  :func:`serve_static` gives the same for other folders.
* ``chromium``: one headless browser per session, from ``/usr/bin/chromium``
  (``PROPCHECK_CHROMIUM`` overrides), never a Playwright-downloaded build.
* ``phone_context`` / ``phone_page``: a fresh 390x844 touch phone per test;
  ``page_errors`` collects uncaught exceptions and console errors of that page.
* ``artifacts_dir``: ``test-artifacts/pwa/`` for screenshots.

Browser tests are ``async def`` and share pytest-asyncio's session loop with the API
fixtures. (Playwright's sync API is not an option here: it leaves its own loop marked
as running in the main thread, and every async test after it then fails with "cannot
be called from a running event loop".)
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PWA_DIR = ROOT / "pwa"
TESTS_DIR = ROOT / "tests"
ARTIFACTS_DIR = ROOT / "test-artifacts" / "pwa"

CHROMIUM = Path(os.environ.get("PROPCHECK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: A mid-size phone (iPhone 12-15 class): the width the screens are designed for.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


class _StaticHandler(SimpleHTTPRequestHandler):
    """Serves several folders under URL prefixes; quiet; never cached."""

    mounts: Mapping[str, Path] = {}
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".wasm": "application/wasm",
        ".webmanifest": "application/manifest+json",
        ".svg": "image/svg+xml",
    }

    def translate_path(self, path: str) -> str:
        # Longest prefix first, so "/_test/" wins over "/".
        for prefix in sorted(self.mounts, key=len, reverse=True):
            if path.startswith(prefix):
                self.directory = str(self.mounts[prefix])
                # The base class normalises the rest and drops any "..".
                return super().translate_path("/" + path[len(prefix) :])
        return str(self.mounts.get("/", PWA_DIR) / "__nothing_here__")

    def end_headers(self) -> None:
        # A test edits no files, but a stale cached module across runs would hide one.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_static(mounts: Mapping[str, Path]) -> Iterator[str]:
    """Serve folders on 127.0.0.1 (a free port) in a thread; yield the base URL.

    ``mounts`` maps URL prefixes ending in "/" to folders, e.g. ``{"/": PWA_DIR}``.
    """
    assert all(p.startswith("/") and p.endswith("/") for p in mounts), mounts
    handler = type("Handler", (_StaticHandler,), {"mounts": dict(mounts)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(PWA_DIR)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def static_base_url() -> Iterator[str]:
    """Base URL serving pwa/ at / and tests/ at /_test/ (vectors, test pages)."""
    with serve_static({"/": PWA_DIR, "/_test/": TESTS_DIR}) as url:
        yield url


def _chromium_executable() -> str:
    # Debian's package, never a Playwright download: CI installs it (.ci/run).
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """A headless Debian Chromium (a Playwright ``Browser``), shared by the session."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=_chromium_executable(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def phone_context(chromium: Any) -> AsyncIterator[Any]:
    """A fresh browser context (no storage, no service worker) at phone size."""
    context = await chromium.new_context(**PHONE)
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught exceptions and console errors of ``phone_page``, in order."""
    return []


@pytest.fixture
async def phone_page(phone_context: Any, page_errors: list[str]) -> AsyncIterator[Any]:
    """A page in ``phone_context``; its errors are collected in ``page_errors``."""
    page = await phone_context.new_page()
    page.on("pageerror", lambda error: page_errors.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda msg: (
            page_errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    # The app's Content-Security-Policy (api/security_headers.py) must not block
    # anything the app itself does: Chromium reports each refusal as a console error,
    # here from every page of the context (the label PDF's pop-up included).
    refused: list[str] = []

    def note_refusal(msg: Any) -> None:
        if msg.type == "error" and "Content Security Policy" in msg.text:
            refused.append(f"{msg.page.url if msg.page else '?'}: {msg.text}")

    phone_context.on("console", note_refusal)
    yield page
    await page.close()
    phone_context.remove_listener("console", note_refusal)
    assert refused == [], refused


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where browser tests save screenshots (git-ignored)."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


# ------------------------------------------------------------------ the real server
# Browser tests of the app itself run against the real API and database (issue 7, 10).


@pytest.fixture(scope="session")
def live_server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app (API + PWA at /) running in uvicorn (api/serving.py) on the
    test database."""
    from tests.pwa.live import run_server

    with run_server(database, tmp_path_factory.mktemp("live-var")) as base:
        yield base


@pytest.fixture(scope="session")
async def live_world(live_server: str, database: str) -> Any:
    """A production with a prop master, a scanner, an auditor and a few items:
    "Cast revolver" (inspected replica: CLEARED after confirmation), "Blank pistol"
    (restricted class), "Rubber rifle" (its tag revoked)."""
    import httpx

    from tests.pwa.live import seed_world

    world = await seed_world(live_server, database)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        await world.register(client, "Cast revolver", marks=["Chipped left grip", "Blue dot"])
        await world.register(client, "Blank pistol", "blank_firing")
        rifle = await world.register(client, "Rubber rifle")
        r = await client.post(
            f"/api/v1/tags/{rifle['tag']['id']}/revoke", headers=world.h("prop_master")
        )
        assert r.status_code == 200, r.text
    return world


async def sign_in(page: Any, base: str, email: str, password: str | None = None) -> None:
    """Sign in through the app's own form and wait for the home screen."""
    from tests.pwa.live import PASSWORD

    await page.goto(f"{base}/#/sign-in")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password or PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_selector("#scan-button, #tile-audit", timeout=15_000)
