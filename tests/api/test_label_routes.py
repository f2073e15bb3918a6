"""Printing labels through the API and the CLI: the right tags, in place, and recorded.

Each PDF is rasterised with pypdfium2 at 300 dpi and every used label position is read
back with the project's decoder, so a test passes only if the sheet carries exactly the
codes asked for, where they were asked for.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from api.label_routes import LabelError, LabelRequest, print_labels
from api.labels import LAYOUTS, LabelData, cell_box, render_pdf
from tests.api.helpers import new_production, register
from tests.conftest import World, make_world
from verifier.decode import decode_image

pypdfium2 = pytest.importorskip("pypdfium2")

pytestmark = pytest.mark.asyncio

DPI = 300


def _read(image: Image.Image) -> set[str]:
    """The texts of every symbol the project's decoder reads in ``image``."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {d.text for d in decode_image(buffer.getvalue())}


def _sheet(pdf: bytes, layout: str) -> dict[tuple[int, int], set[str]]:
    """{(page, position): codes read there} for every non-blank label position."""
    spec = LAYOUTS[layout]
    scale = DPI / 72
    found: dict[tuple[int, int], set[str]] = {}
    document = pypdfium2.PdfDocument(pdf)
    try:
        for page_index, page in enumerate(document):
            image = page.render(scale=scale, grayscale=True).to_pil()
            for position in range(spec.per_page):
                cell = cell_box(spec, position)
                top = spec.page_height - cell.y - cell.height
                crop = image.crop(
                    (
                        round(cell.x * scale),
                        round(top * scale),
                        round((cell.x + cell.width) * scale),
                        round((top + cell.height) * scale),
                    )
                )
                if crop.getextrema() != (255, 255):
                    found[(page_index, position)] = _read(crop)
    finally:
        document.close()
    return found


def _in_place(codes: list[str], layout: str, start: int = 0) -> dict[tuple[int, int], set[str]]:
    per_page = LAYOUTS[layout].per_page
    return {divmod(start + i, per_page): {code} for i, code in enumerate(codes)}


@pytest.fixture(scope="module")
async def world(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> World:
    """Its own world: these tests add productions to the members' roles."""
    return await make_world(db, client)


async def _production(client: AsyncTestClient[Any], w: World) -> str:
    """A new production of the world's studio whose prop master is the world's."""
    return await new_production(client, w, "Labels")


async def _item(
    client: AsyncTestClient[Any], w: World, pid: str, name: str, **over: Any
) -> dict[str, Any]:
    body = {"name": name, "capability_class": "non_firing_replica", **over}
    r = await client.post(f"/api/v1/productions/{pid}/items", json=body, headers=w.h("prop_master"))
    assert r.status_code == 201, r.text
    item: dict[str, Any] = r.json()
    return item


async def _print(
    client: AsyncTestClient[Any], w: World, pid: str, role: str = "prop_master", **body: Any
) -> Any:
    return await client.post(f"/api/v1/productions/{pid}/labels", json=body, headers=w.h(role))


async def _never_printed(client: AsyncTestClient[Any], w: World, pid: str) -> set[str]:
    r = await client.get(
        f"/api/v1/productions/{pid}/tags",
        params={"never_printed": "true", "status": "active"},
        headers=w.h("prop_master"),
    )
    assert r.status_code == 200, r.text
    return {t["code"] for t in r.json()}


async def _printed_events(db: asyncpg.Connection, pid: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT actor, subject_id, at, body FROM events"
        " WHERE chain_id = $1 AND kind = 'tag.printed' ORDER BY seq",
        UUID(pid),
    )


async def test_every_active_tag_prints_in_place_and_each_printing_is_recorded(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection
) -> None:
    pid = await _production(client, world)
    a = await _item(client, world, pid, "Rubber Colt SAA")
    b = await _item(client, world, pid, "Blank revolver", capability_class="blank_firing")
    revoked = await _item(client, world, pid, "Lost prop")
    await _item(client, world, pid, "Untagged prop", issue_tag=False)
    r = await client.post(
        f"/api/v1/tags/{revoked['tag']['id']}/revoke", headers=world.h("prop_master")
    )
    assert r.status_code == 200, r.text
    expected = [a["tag"]["code"], b["tag"]["code"]]
    assert await _never_printed(client, world, pid) == set(expected)

    r = await _print(client, world, pid)

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.content.startswith(b"%PDF-")
    assert _sheet(r.content, "letter-30") == _in_place(expected, "letter-30")
    events = await _printed_events(db, pid)
    prop_master = (await client.get("/api/v1/auth/me", headers=world.h("prop_master"))).json()
    assert [json.loads(e["body"])["code"] for e in events] == expected
    assert [e["subject_id"] for e in events] == [UUID(a["id"]), UUID(b["id"])]
    for e in events:
        assert e["actor"] == f"user:{prop_master['user_id']}"
        assert json.loads(e["body"])["layout"] == "letter-30"
    rows = await db.fetch(
        "SELECT code, first_printed_at FROM tags WHERE production_id = $1 AND status = 'active'",
        UUID(pid),
    )
    assert {row["code"] for row in rows if row["first_printed_at"] is not None} == set(expected)
    assert await _never_printed(client, world, pid) == set()


async def test_reprinting_keeps_the_first_printing_time_and_records_again(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection
) -> None:
    pid = await _production(client, world)
    item = await _item(client, world, pid, "Foam knife")
    assert (await _print(client, world, pid, layout="thermal-2x1")).status_code == 200
    first = await db.fetchval(
        "SELECT first_printed_at FROM tags WHERE id = $1", UUID(item["tag"]["id"])
    )
    assert (await _print(client, world, pid, layout="a4-21")).status_code == 200
    again = await db.fetchval(
        "SELECT first_printed_at FROM tags WHERE id = $1", UUID(item["tag"]["id"])
    )
    assert first is not None and again == first
    layouts = [json.loads(e["body"])["layout"] for e in await _printed_events(db, pid)]
    assert layouts == ["thermal-2x1", "a4-21"]


async def test_only_unprinted_prints_just_the_new_tags(
    client: AsyncTestClient[Any], world: World
) -> None:
    pid = await _production(client, world)
    await _item(client, world, pid, "Resin rifle")
    assert (await _print(client, world, pid)).status_code == 200
    new = await _item(client, world, pid, "Rubber shotgun")

    r = await _print(client, world, pid, only_unprinted=True, layout="thermal-62mm")

    assert r.status_code == 200, r.text
    assert _sheet(r.content, "thermal-62mm") == _in_place([new["tag"]["code"]], "thermal-62mm")
    r = await _print(client, world, pid, only_unprinted=True)
    assert r.status_code == 400
    assert "printed already" in r.json()["detail"]


async def test_selected_items_print_in_the_order_asked_from_the_start_position(
    client: AsyncTestClient[Any], world: World
) -> None:
    pid = await _production(client, world)
    items = [await _item(client, world, pid, f"Prop {i}") for i in range(4)]
    chosen = [items[2], items[0], items[3]]

    r = await _print(
        client,
        world,
        pid,
        item_ids=[i["id"] for i in chosen] + [items[0]["id"]],  # a repeat prints once
        start_position=29,
    )

    assert r.status_code == 200, r.text
    codes = [i["tag"]["code"] for i in chosen]
    # Positions 29 of the first sheet, then the top of a second one.
    assert _sheet(r.content, "letter-30") == _in_place(codes, "letter-30", start=29)
    assert await _never_printed(client, world, pid) == {items[1]["tag"]["code"]}


async def test_only_unprinted_with_item_ids_skips_printed_ones(
    client: AsyncTestClient[Any], world: World
) -> None:
    pid = await _production(client, world)
    old = await _item(client, world, pid, "Old prop")
    assert (await _print(client, world, pid)).status_code == 200
    new = await _item(client, world, pid, "New prop")
    r = await _print(
        client,
        world,
        pid,
        item_ids=[old["id"], new["id"]],
        only_unprinted=True,
        layout="thermal-2x1",
    )
    assert r.status_code == 200, r.text
    assert _sheet(r.content, "thermal-2x1") == _in_place([new["tag"]["code"]], "thermal-2x1")


async def test_roles_without_prop_master_rights_get_403_and_strangers_404(
    client: AsyncTestClient[Any], world: World
) -> None:
    item = await register(client, world)
    # Studio-wide roles see the production but do no prop master work.
    for role in ("scanner", "auditor", "studio_admin", "studio_auditor"):
        assert (await _print(client, world, world.production_id, role=role)).status_code == 403
        r = await client.get(f"/api/v1/items/{item['id']}/label.png", headers=world.h(role))
        assert r.status_code == 403
    for role in ("q_prop_master", "p2_prop_master"):
        assert (await _print(client, world, world.production_id, role=role)).status_code == 404
        r = await client.get(f"/api/v1/items/{item['id']}/label.png", headers=world.h(role))
        assert r.status_code == 404
    r = await client.post(f"/api/v1/productions/{world.production_id}/labels", json={})
    assert r.status_code == 401


async def test_an_item_of_another_production_is_404_like_an_unknown_one(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection
) -> None:
    mine = await register(client, world)
    r = await client.post(
        f"/api/v1/productions/{world.other_production_id}/items",
        json={"name": "Their prop", "capability_class": "non_firing_replica"},
        headers=world.h("q_prop_master"),
    )
    assert r.status_code == 201, r.text
    theirs = r.json()
    before = len(await _printed_events(db, world.production_id))
    answers = []
    for other in (theirs["id"], str(uuid.uuid4())):
        r = await _print(client, world, world.production_id, item_ids=[mine["id"], other])
        assert r.status_code == 404
        answers.append(r.json()["detail"].replace(other, "ID"))
    assert answers[0] == answers[1]  # nothing tells that the first one exists elsewhere
    assert mine["id"] not in answers[0]
    assert len(await _printed_events(db, world.production_id)) == before


async def test_requests_that_cannot_print_are_400_with_a_reason(
    client: AsyncTestClient[Any], world: World
) -> None:
    pid = await _production(client, world)
    r = await _print(client, world, pid)
    assert r.status_code == 400 and "no active tags" in r.json()["detail"]
    untagged = await _item(client, world, pid, "Unmarked prop", issue_tag=False)
    tagged = await _item(client, world, pid, "Marked prop")
    r = await _print(client, world, pid, item_ids=[tagged["id"], untagged["id"]])
    assert r.status_code == 400
    assert untagged["id"] in r.json()["detail"] and "Unmarked prop" in r.json()["detail"]
    assert tagged["id"] not in r.json()["detail"]
    r = await _print(client, world, pid, layout="letter-31")
    assert r.status_code == 400 and "letter-30" in r.json()["detail"]
    r = await _print(client, world, pid, layout="thermal-2x1", start_position=1)
    assert r.status_code == 400 and "start_position" in r.json()["detail"]
    r = await _print(client, world, pid, item_ids=[])
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    r = await _print(client, world, pid, item_ids=["not-a-uuid"])
    assert r.status_code == 400
    # A misspelt field must not fall back to "every tag of the production".
    r = await _print(client, world, pid, item_id=[tagged["id"]])
    assert r.status_code == 400
    assert await _never_printed(client, world, pid) == {tagged["tag"]["code"]}


async def test_png_is_a_300_dpi_label_that_reads_back_and_is_recorded(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection
) -> None:
    pid = await _production(client, world)
    item = await _item(client, world, pid, "Rubber Glock", capability_class="airsoft_projectile")
    r = await client.get(f"/api/v1/items/{item['id']}/label.png", headers=world.h("prop_master"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    spec = LAYOUTS["thermal-2x1"]
    assert image.format == "PNG"
    assert round(image.info["dpi"][0]) == DPI
    assert image.size == (round(spec.label_width * DPI / 72), round(spec.label_height * DPI / 72))
    assert _read(image) == {item["tag"]["code"]}
    (event,) = await _printed_events(db, pid)
    assert json.loads(event["body"]) | {"tag_id": None} == {
        "tag_id": None,
        "code": item["tag"]["code"],
        "layout": "thermal-2x1",
        "format": "png",
    }
    assert await _never_printed(client, world, pid) == set()

    r = await client.get(
        f"/api/v1/items/{item['id']}/label.png",
        params={"layout": "a4-21"},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 200
    sheet = LAYOUTS["a4-21"]
    assert Image.open(io.BytesIO(r.content)).size == (
        round(sheet.label_width * DPI / 72),
        round(sheet.label_height * DPI / 72),
    )
    r = await client.get(
        f"/api/v1/items/{item['id']}/label.png",
        params={"layout": "huge"},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 400
    untagged = await _item(client, world, pid, "No tag", issue_tag=False)
    r = await client.get(
        f"/api/v1/items/{untagged['id']}/label.png", headers=world.h("prop_master")
    )
    assert r.status_code == 400 and "no active tag" in r.json()["detail"]
    r = await client.get(f"/api/v1/items/{uuid.uuid4()}/label.png", headers=world.h("prop_master"))
    assert r.status_code == 404


async def test_a_tag_revoked_while_its_label_is_drawn_is_not_recorded_as_printed(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection, database: str
) -> None:
    from api.seed import app_connection

    pid = await _production(client, world)
    item = await _item(client, world, pid, "Prop pistol")
    tag_id = UUID(item["tag"]["id"])

    async def render_then_revoke(labels: list[LabelData], layout: str, start: int) -> bytes:
        pdf = render_pdf(labels, layout, start_position=start)
        await db.execute("UPDATE tags SET status = 'revoked' WHERE id = $1", tag_id)
        return pdf

    conn = await app_connection(database)
    try:
        with pytest.raises(LabelError) as failed:
            await print_labels(
                conn, UUID(pid), LabelRequest(), actor="test", render=render_then_revoke
            )
    finally:
        await conn.close()
    assert failed.value.status == 409
    assert await db.fetchval("SELECT first_printed_at FROM tags WHERE id = $1", tag_id) is None
    assert await _printed_events(db, pid) == []


async def test_cli_writes_the_production_pdf_and_records_the_printing(
    client: AsyncTestClient[Any],
    world: World,
    db: asyncpg.Connection,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api import cli
    from api.settings import get_settings

    pid = await _production(client, world)
    items = [await _item(client, world, pid, f"CLI prop {i}") for i in range(3)]
    out = tmp_path / "labels.pdf"
    monkeypatch.setenv("DATABASE_URL", database)
    get_settings.cache_clear()
    try:
        # main() runs its own event loop: give it a thread of its own.
        import asyncio

        status = await asyncio.to_thread(
            cli.main, ["labels", "--production", pid, "--out", str(out)]
        )
        assert status == 0
        codes = [i["tag"]["code"] for i in items]
        assert _sheet(out.read_bytes(), "letter-30") == _in_place(codes, "letter-30")
        assert "3 labels" in capsys.readouterr().out
        events = await _printed_events(db, pid)
        assert [e["actor"] for e in events] == ["cli"] * 3
        assert await _never_printed(client, world, pid) == set()

        picked = tmp_path / "one.pdf"
        status = await asyncio.to_thread(
            cli.main,
            [
                "labels",
                "--production",
                pid,
                "--items",
                items[1]["id"],
                "--layout",
                "thermal-2x1",
                "--out",
                str(picked),
            ],
        )
        assert status == 0
        assert _sheet(picked.read_bytes(), "thermal-2x1") == _in_place([codes[1]], "thermal-2x1")

        status = await asyncio.to_thread(
            cli.main,
            ["labels", "--production", str(uuid.uuid4()), "--out", str(tmp_path / "x.pdf")],
        )
        assert status == 2
        assert "No such production" in capsys.readouterr().err
        assert not (tmp_path / "x.pdf").exists()
    finally:
        get_settings.cache_clear()
