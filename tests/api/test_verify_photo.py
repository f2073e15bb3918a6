"""Verify by photo, end to end against the real database and the real decoder."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from tests.api.helpers import jpeg, ready_item, reason_codes
from tests.conftest import World
from tests.verifier.tagimages import encode, place, qr_tag
from verifier import codes

pytestmark = pytest.mark.asyncio


def tag_photo(*texts: str, angle: float = 8.0) -> bytes:
    """A phone-like photo with one QR tag per text."""
    scenes = [
        place(qr_tag(t), angle=angle, scale=0.8, noise=4, seed=i) for i, t in enumerate(texts)
    ]
    if len(scenes) == 1:
        return encode(scenes[0].image)
    canvas = Image.new("L", (1200 * len(scenes), 900), 128)
    for i, s in enumerate(scenes):
        canvas.paste(s.image, (1200 * i, 0))
    return encode(canvas)


async def verify_photo(client: AsyncTestClient[Any], w: World, photo: bytes, **fields: str) -> Any:
    return await client.post(
        "/api/v1/verify",
        data=fields,
        files={"photo": ("tag.jpg", photo, "image/jpeg")},
        headers=w.h("scanner"),
    )


async def test_photo_of_a_tag_verifies_like_its_code(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    item = await ready_item(client, world)
    r = await verify_photo(client, world, tag_photo(codes.format_code(item["tag"]["code"])))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["verdict"] == "CLEARED"
    assert answer["item"]["id"] == item["id"]
    row = await db.fetchrow(
        "SELECT v.method, v.photo_id, p.purpose FROM verifications v "
        "JOIN photos p ON p.id = v.photo_id WHERE v.id = $1",
        uuid.UUID(answer["verification_id"]),
    )
    assert row["method"] == "photo"
    assert row["purpose"] == "verification"  # the photo is kept as evidence


async def test_a_photo_scan_resent_after_a_quarantine_is_stop(
    client: AsyncTestClient[Any], world: World, db: Any
) -> None:
    """Sent again under its client_id (the answer lost), a photo scan is decided again:
    the item quarantined since, the answer is STOP; nothing more is stored, the photo's
    second row included."""
    item = await ready_item(client, world)
    photo = tag_photo(codes.format_code(item["tag"]["code"]))
    cid = str(uuid.uuid4())
    first = await verify_photo(client, world, photo, client_id=cid)
    assert first.status_code == 200 and first.json()["verdict"] == "CLEARED", first.text
    counts = (
        "SELECT (SELECT count(*) FROM verifications WHERE item_id = $1::uuid),"
        " (SELECT count(*) FROM photos WHERE item_id = $1::uuid)"
    )
    before = tuple(await db.fetchrow(counts, item["id"]))
    again = await verify_photo(client, world, photo, client_id=cid)
    assert again.status_code == 200, again.text
    assert again.json()["verification_id"] == first.json()["verification_id"]
    assert again.json()["verdict"] == "CLEARED"  # nothing changed: the stored answer
    assert tuple(await db.fetchrow(counts, item["id"])) == before
    r = await client.post(
        f"/api/v1/items/{item['id']}/inspections",
        json={"kind": "periodic", "result": "fail"},
        headers=world.h("prop_master"),
    )
    assert r.status_code == 201, r.text
    before = tuple(await db.fetchrow(counts, item["id"]))
    late = await verify_photo(client, world, photo, client_id=cid)
    assert late.status_code == 200, late.text
    assert late.json()["verdict"] == "STOP"
    assert "quarantined" in reason_codes(late.json())
    assert late.json()["verification_id"] == first.json()["verification_id"]
    assert tuple(await db.fetchrow(counts, item["id"])) == before


async def test_photo_without_code_is_stop_with_advice(
    client: AsyncTestClient[Any], world: World
) -> None:
    r = await verify_photo(client, world, jpeg(1000, 800, "gray"))
    assert r.status_code == 200
    assert r.json()["verdict"] == "STOP"
    assert reason_codes(r.json()) == ["no_code_found"]
    assert "type the code" in r.json()["reasons"][0]["message"]


async def test_two_tags_in_one_photo_is_ambiguous(
    client: AsyncTestClient[Any], world: World
) -> None:
    a = await ready_item(client, world)
    b = await ready_item(client, world)
    photo = tag_photo(a["tag"]["code"], b["tag"]["code"], angle=0)
    r = await verify_photo(client, world, photo)
    assert r.status_code == 200
    assert reason_codes(r.json()) == ["ambiguous_photo"]


async def test_misread_text_is_not_a_code(client: AsyncTestClient[Any], world: World) -> None:
    item = await ready_item(client, world)
    code = item["tag"]["code"]
    bad = code[:5] + ("0" if code[5] != "0" else "1") + code[6:]
    # A QR holding a code whose check character fails is ignored, never looked up.
    r = await verify_photo(client, world, tag_photo(bad))
    assert reason_codes(r.json()) == ["no_code_found"]


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"", "image_empty"),
        (b"%PDF-1.4 not an image", "image_not_an_image"),
        (jpeg()[:300], "image_truncated"),
    ],
)
async def test_hostile_photos_are_422(
    client: AsyncTestClient[Any], world: World, payload: bytes, error: str
) -> None:
    r = await verify_photo(client, world, payload)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == error


async def test_busy_decoder_answers_503(client: AsyncTestClient[Any], world: World) -> None:
    svc = client.app.state.services
    slots = svc.decode_slots
    svc.decode_slots = asyncio.Semaphore(0)  # every worker busy
    try:
        r = await verify_photo(client, world, jpeg())
    finally:
        svc.decode_slots = slots
    assert r.status_code == 503
    assert r.headers["retry-after"]


@pytest.mark.parametrize(
    "pair",
    [
        # Pairs whose two tags, side by side, the decoder used to read only one of (it
        # stopped at the first pass that read a code, an 800 px copy): the photo was
        # then answered for that one item instead of ambiguous_photo.
        ("VEBBCHFFMYEKK7X746", "KQDCQVBDBWT71KTCX6"),
        ("W734HSFHM0EEHACKV9", "0SX6R91H812WK7RCM6"),
    ],
)
async def test_both_tags_side_by_side_are_read(pair: tuple[str, str]) -> None:
    from verifier.decode import decode_image

    found = {d.text for d in decode_image(tag_photo(*pair, angle=0)) if codes.is_valid(d.text)}
    assert {codes.parse(t) for t in found} == set(pair)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling policies")
async def test_photos_are_read_on_time_no_code_scan_wants(client: AsyncTestClient[Any]) -> None:
    # The threads that decode photos run under SCHED_IDLE (api/app.py), so that a busy
    # server answers scanned codes first and reads photos in the time left over.
    from api.state import services
    from api.uploads import run_image_job

    def how_scheduled() -> tuple[int, int]:
        return os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    svc = services(client.app.state)
    policy, nice = await run_image_job(svc, how_scheduled)
    assert policy == os.SCHED_IDLE
    assert nice == 10
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the event loop's thread is not
