"""Small request helpers shared by the API tests."""

from __future__ import annotations

import io
import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from PIL import Image

from tests.conftest import World

ITEM: dict[str, Any] = {
    "name": "Rubber Colt SAA",
    "capability_class": "non_firing_replica",
    "make": "Props Ltd",
    "distinctive_marks": ["chip on left grip", "red dot under barrel"],
    "keywords": ["western", "revolver"],
}
EVIDENCE = {"certificate_number": "DC-123", "issuer": "Proof House", "date": "2020-01-02"}


def jpeg(width: int = 800, height: int = 600, color: str = "olive") -> bytes:
    """A plain JPEG."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", quality=85)
    return buf.getvalue()


async def register(
    client: AsyncTestClient[Any], w: World, *, role: str = "prop_master", **over: Any
) -> dict[str, Any]:
    """Register an item in the world's production; returns the item."""
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/items", json={**ITEM, **over}, headers=w.h(role)
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def inspect(
    client: AsyncTestClient[Any],
    w: World,
    item_id: str,
    result: str = "pass",
    kind: str = "before_use",
) -> dict[str, Any]:
    """Record an inspection as the prop master."""
    r = await client.post(
        f"/api/v1/items/{item_id}/inspections",
        json={"kind": kind, "result": result},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def ready_item(client: AsyncTestClient[Any], w: World, **over: Any) -> dict[str, Any]:
    """A registered item that passed inspection: it verifies CLEARED."""
    item = await register(client, w, **over)
    await inspect(client, w, item["id"])
    return item


async def verify(
    client: AsyncTestClient[Any], w: World, code: str, role: str = "scanner", **body: Any
) -> dict[str, Any]:
    """POST /verify and return the JSON (asserting a 200)."""
    r = await client.post("/api/v1/verify", json={"code": code, **body}, headers=w.h(role))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def reason_codes(answer: dict[str, Any]) -> list[str]:
    """The reason codes of a verdict answer."""
    return [r["code"] for r in answer["reasons"]]


async def new_production(client: AsyncTestClient[Any], w: World, prefix: str = "Extra") -> str:
    """A new empty production in the world's studio with the world's three members."""
    r = await client.post(
        "/api/v1/productions",
        json={"studio_id": w.studio_id, "name": f"{prefix} {uuid.uuid4().hex[:8]}"},
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 201, r.text
    pid: str = r.json()["id"]
    for role in ("prop_master", "scanner", "auditor"):
        r = await client.post(
            f"/api/v1/productions/{pid}/members",
            json={"email": f"{role}-{w.tag}@a.test", "role": role},
            headers=w.h("studio_admin"),
        )
        assert r.status_code == 200, r.text
    return pid


async def enroll_phone(
    client: Any, production_id: str, prop_master: dict[str, str], name: str = "Crew phone"
) -> dict[str, str]:
    """A crew phone enrolled in ``production_id`` with a code its prop master (headers
    ``prop_master``) minted: the phone's Authorization headers. ``client`` is the test
    client or an httpx client of a live server."""
    r = await client.post(
        f"/api/v1/productions/{production_id}/enrollment-codes", headers=prop_master
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/auth/enroll", json={"code": r.json()["code"], "device_name": name}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def lapse_inspection_in(
    client: AsyncTestClient[Any], db: Any, w: World, item: dict[str, Any], seconds: float
) -> None:
    """Set ``w``'s policy so that ``item``'s passing inspection outgrows its age limit
    ``seconds`` from now (by the database's clock). Use a world of the test's own."""
    age_s = await db.fetchval(
        "SELECT extract(epoch FROM clock_timestamp() - max(created_at)) FROM inspections"
        " WHERE item_id = $1 AND result = 'pass'",
        uuid.UUID(item["id"]),
    )
    r = await client.put(
        f"/api/v1/productions/{w.production_id}/policy",
        json={"inspection_max_age_hours": (float(age_s) + seconds) / 3600},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 200, r.text
