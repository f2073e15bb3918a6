"""Security headers: the app's pages cannot be framed or run foreign script, uploaded
photos can never run as a page, and API answers are not kept by caches; on every
answer, errors included (api/security_headers.py)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.helpers import jpeg, ready_item
from tests.conftest import World

pytestmark = pytest.mark.asyncio


def _common(r: Any) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_the_app_shell_runs_only_its_own_script_and_cannot_be_framed(
    client: AsyncTestClient[Any],
) -> None:
    for path in ("/", "/index.html", "/js/app.js", "/sw.js"):
        r = await client.get(path)
        assert r.status_code == 200, path
        _common(r)
        csp = r.headers["content-security-policy"]
        # Its own origin only; WebAssembly (the zxing scanner) but never JS eval.
        assert "script-src 'self' 'wasm-unsafe-eval';" in csp
        assert "'unsafe-eval'" not in csp.replace("'wasm-unsafe-eval'", "")
        assert "'unsafe-inline'" not in csp
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp


async def test_api_answers_are_never_documents_nor_cached(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    r = await client.post(
        "/api/v1/verify", json={"code": item["tag"]["code"]}, headers=world.h("scanner")
    )
    assert r.status_code == 200
    _common(r)
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["cache-control"] == "no-store"
    # Error answers too: refused, unknown, and malformed.
    for r in (
        await client.get("/api/v1/me"),
        await client.get("/api/v1/no-such-thing", headers=world.h("scanner")),
        await client.post("/api/v1/verify", content=b"{not json", headers=world.h("scanner")),
    ):
        assert r.status_code in (400, 401, 404), r.text
        _common(r)
        assert r.headers["cache-control"] == "no-store"


async def test_an_uploaded_photo_is_sandboxed_and_keeps_its_own_caching(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await ready_item(client, world)
    r = await client.post(
        f"/api/v1/items/{item['id']}/photos",
        files={"photo": ("p.jpg", jpeg(64, 48), "image/jpeg")},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    url = r.json()["display_url"]
    r = await client.get(url)
    assert r.status_code == 200
    _common(r)
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert r.headers["cache-control"].startswith("private, max-age=")  # not no-store
    assert r.headers.get_list("cache-control") == [r.headers["cache-control"]]


async def test_the_api_viewer_runs_its_cdn_script_in_an_origin_of_its_own(
    client: AsyncTestClient[Any],
) -> None:
    # Litestar's OpenAPI viewer loads its script from a CDN: sandboxed without
    # allow-same-origin, that script cannot reach the token in the app's storage.
    r = await client.get("/schema")
    assert r.status_code == 200
    assert "<script" in r.text
    _common(r)
    csp = r.headers["content-security-policy"]
    assert "sandbox allow-scripts" in csp and "allow-same-origin" not in csp
    assert "Redoc.init(" in r.text  # the schema inline: nothing to fetch from a sandbox
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200 and r.json()["info"]["title"] == "propcheck"
    # The viewers that fetch the schema by URL would not work sandboxed: not served.
    for path in ("/schema/swagger", "/schema/elements", "/schema/rapidoc"):
        assert (await client.get(path)).status_code == 404, path
