"""Hostile images sent to every upload endpoint.

Decompression bombs (PNG, GIF, WebP, and one PNG just under the pixel cap), truncated
files, polyglots, empty files, 30,000 x 30,000 headers, a thousand-frame GIF and APNG,
CMYK and 16-bit images, wrong names and content types, extreme aspect ratios, a
compressed-text bomb and an over-size body, each to createItem (multipart), addItemPhoto,
verify (multipart), recordInspection (multipart) and reportIncident (multipart).

Each answer is a 4xx JSON error that writes nothing (no row, no event, no blob), or, for
an image that is legitimately fine, a 2xx whose stored files carry none of the hostile
payload. The app runs in this process, so the process's peak resident memory during the
whole run is the server's; it must stay under the cap below (docs/RELIABILITY.md).
Every big image is made from headers or streamed zlib, never allocated in the test.
"""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from tests.api.helpers import ITEM, register
from tests.conftest import World

#: The documented cap on the growth of the process's peak RSS over this whole run, per
#: photo-decoding worker: a 50 MP image (the pixel cap) costs up to ~8 bytes a pixel
#: while it is processed, and glibc keeps a worker thread's freed blocks for reuse
#: (docs/RELIABILITY.md has the measured figures).
PEAK_RSS_GROWTH_CAP_MB_PER_WORKER = 400
PEAK_RSS_GROWTH_BASE_MB = 100

# ------------------------------------------------------------------ crafted images


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _png(
    width: int, height: int, idat: bytes, *, depth: int = 8, color: int = 2, extra: bytes = b""
) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + extra
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def _streamed_zeros(total: int, row: int = 1 << 16) -> bytes:
    """zlib of ``total`` zero bytes, compressed piece by piece (never held whole)."""
    z = zlib.compressobj(9)
    piece = b"\x00" * row
    out = [z.compress(piece) for _ in range(total // row)]
    out.append(z.compress(b"\x00" * (total % row)))
    out.append(z.flush())
    return b"".join(out)


def png_header_bomb(side: int = 30_000) -> bytes:
    """A few hundred bytes claiming side x side RGB pixels."""
    return _png(side, side, zlib.compress(b"\x00" * 4096))


def png_near_cap() -> bytes:
    """A real, complete 7,000 x 7,000 RGB PNG (49 MP, under the 50 MP cap) of ~150 kB:
    a decompression bomb the cap lets through, so its cost is what the cap bounds."""
    side = 7000
    return _png(side, side, _streamed_zeros(side * (1 + 3 * side)))


def png_sixteen_bit_rgb() -> bytes:
    w, h = 64, 48
    rows = b"".join(b"\x00" + bytes(range(6)) * w for _ in range(h))
    return _png(w, h, zlib.compress(rows), depth=16, color=2)


def png_extreme_aspect(width: int, height: int) -> bytes:
    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    return _png(width, height, zlib.compress(rows))


def png_text_bomb() -> bytes:
    """A small valid PNG with a zTXt chunk that inflates to 64 MB."""
    text = _chunk(b"zTXt", b"Comment\x00\x00" + _streamed_zeros(64 << 20))
    rows = b"".join(b"\x00" + b"\x40" * 96 for _ in range(32))
    return _png(32, 32, zlib.compress(rows), extra=text)


def _save(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _scene() -> bytes:
    return _save(Image.effect_noise((640, 480), 60).convert("RGB"), "JPEG", quality=85)


def jpeg_ok() -> bytes:
    return _save(Image.new("RGB", (64, 48), "olive"), "JPEG")


def jpeg_header_bomb(side: int = 30_000) -> bytes:
    """A small baseline JPEG whose frame header claims side x side pixels."""
    data = bytearray(jpeg_ok())
    at = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, side, side)
    return bytes(data)


def webp_header_bomb() -> bytes:
    """A solid lossless WebP whose VP8L header claims 16,383 x 16,383 pixels (268 MP)."""
    data = bytearray(_save(Image.new("RGB", (16, 16), "red"), "WEBP", lossless=True))
    at = data.index(b"VP8L") + 8
    assert data[at] == 0x2F
    bits = struct.unpack_from("<I", data, at + 1)[0]
    bits = (bits & ~((1 << 28) - 1)) | 16382 | (16382 << 14)
    struct.pack_into("<I", data, at + 1, bits)
    return bytes(data)


def gif_header_bomb() -> bytes:
    data = bytearray(_save(Image.new("P", (8, 8)), "GIF"))
    struct.pack_into("<HH", data, 6, 65535, 65535)
    return bytes(data)


def _frames(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (8, 8), (i % 256, (i * 7) % 256, 0)) for i in range(n)]


def gif_thousand_frames() -> bytes:
    frames = _frames(1000)
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:])


def apng_thousand_frames() -> bytes:
    frames = _frames(1000)
    return _save(frames[0], "PNG", save_all=True, append_images=frames[1:])


def truncated(make: Callable[[], bytes]) -> Callable[[], bytes]:
    def half() -> bytes:
        data = make()
        return data[: len(data) // 2]

    return half


_PAYLOAD = b"<script>alert('propcheck')</script>"


def jpeg_zip_polyglot() -> bytes:
    """A JPEG with a ZIP (holding an HTML page) appended: valid as both."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", b"<html>" + _PAYLOAD + b"</html>")
    return jpeg_ok() + buf.getvalue()


def jpeg_html_comment() -> bytes:
    """A JPEG whose comment segment is an HTML page."""
    return _save(Image.new("RGB", (64, 48), "olive"), "JPEG", comment=b"<html>" + _PAYLOAD)


def html_then_jpeg() -> bytes:
    return b"<html>" + _PAYLOAD + b"</html>\n" + jpeg_ok()


def cmyk_jpeg() -> bytes:
    return _save(Image.new("CMYK", (64, 48), (0, 120, 255, 10)), "JPEG")


def sixteen_bit_gray_png() -> bytes:
    return _save(Image.new("I;16", (64, 48), 40_000), "PNG")


#: name -> (bytes maker, file name, content type, expected: "4xx" or "2xx").
HOSTILE: dict[str, tuple[Callable[[], bytes], str, str, str]] = {
    "png-30000x30000": (png_header_bomb, "bomb.png", "image/png", "4xx"),
    "jpeg-30000x30000": (jpeg_header_bomb, "bomb.jpg", "image/jpeg", "4xx"),
    "webp-bomb-16383x16383": (webp_header_bomb, "bomb.webp", "image/webp", "4xx"),
    "gif-bomb-65535x65535": (gif_header_bomb, "bomb.gif", "image/gif", "4xx"),
    "png-49mp-under-cap": (png_near_cap, "big.png", "image/png", "2xx"),
    "truncated-jpeg": (truncated(_scene), "half.jpg", "image/jpeg", "4xx"),
    "truncated-png": (
        truncated(lambda: _save(Image.effect_noise((320, 240), 50), "PNG")),
        "half.png",
        "image/png",
        "4xx",
    ),
    "truncated-webp": (
        truncated(lambda: _save(Image.effect_noise((320, 240), 50).convert("RGB"), "WEBP")),
        "half.webp",
        "image/webp",
        "4xx",
    ),
    "empty": (lambda: b"", "empty.jpg", "image/jpeg", "4xx"),
    "gif-1000-frames": (gif_thousand_frames, "anim.gif", "image/gif", "4xx"),
    # Stored as its default image: the upload pipeline keeps no animation chunk (checked
    # below); verify's decoder refuses it as animated.
    "apng-1000-frames": (apng_thousand_frames, "anim.png", "image/png", "any"),
    "html-then-jpeg": (html_then_jpeg, "page.jpg", "image/jpeg", "4xx"),
    "text-named-jpeg": (lambda: b"just some text", "photo.jpg", "image/jpeg", "4xx"),
    "jpeg-zip-polyglot": (jpeg_zip_polyglot, "poly.jpg", "image/jpeg", "2xx"),
    "jpeg-html-comment": (jpeg_html_comment, "comment.jpg", "image/jpeg", "2xx"),
    "cmyk-jpeg": (cmyk_jpeg, "cmyk.jpg", "image/jpeg", "2xx"),
    "png-16-bit-gray": (sixteen_bit_gray_png, "gray16.png", "image/png", "2xx"),
    "png-16-bit-rgb": (png_sixteen_bit_rgb, "rgb48.png", "image/png", "2xx"),
    "jpeg-named-gif": (jpeg_ok, "photo.gif", "image/gif", "2xx"),
    "png-named-jpeg-octet": (sixteen_bit_gray_png, "photo.jpg", "application/octet-stream", "2xx"),
    "png-50000x1": (lambda: png_extreme_aspect(50_000, 1), "wide.png", "image/png", "any"),
    "png-1x50000": (lambda: png_extreme_aspect(1, 50_000), "tall.png", "image/png", "any"),
    "png-ztxt-bomb": (png_text_bomb, "text.png", "image/png", "any"),
}

# ------------------------------------------------------------------ endpoints


async def _item(client: AsyncTestClient[Any], w: World) -> dict[str, Any]:
    return await register(client, w)


async def _create_item(
    client: AsyncTestClient[Any], w: World, file: tuple[str, bytes, str]
) -> tuple[Any, str | None]:
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/items",
        data={"item": json.dumps({**ITEM, "name": "Hostile upload"})},
        files={"photos": file},
        headers=w.h("prop_master"),
    )
    return r, None


async def _add_photo(
    client: AsyncTestClient[Any], w: World, file: tuple[str, bytes, str]
) -> tuple[Any, str | None]:
    item = await _item(client, w)
    r = await client.post(
        f"/api/v1/items/{item['id']}/photos", files={"photo": file}, headers=w.h("prop_master")
    )
    return r, item["id"]


async def _verify(
    client: AsyncTestClient[Any], w: World, file: tuple[str, bytes, str]
) -> tuple[Any, str | None]:
    r = await client.post("/api/v1/verify", files={"photo": file}, headers=w.h("scanner"))
    return r, None


async def _inspect(
    client: AsyncTestClient[Any], w: World, file: tuple[str, bytes, str]
) -> tuple[Any, str | None]:
    item = await _item(client, w)
    r = await client.post(
        f"/api/v1/items/{item['id']}/inspections",
        data={"inspection": json.dumps({"kind": "periodic", "result": "fail"})},
        files={"photo": file},
        headers=w.h("prop_master"),
    )
    return r, item["id"]


async def _incident(
    client: AsyncTestClient[Any], w: World, file: tuple[str, bytes, str]
) -> tuple[Any, str | None]:
    item = await _item(client, w)
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/incidents",
        data={"incident": json.dumps({"kind": "damaged", "item_id": item["id"]})},
        files={"photo": file},
        headers=w.h("scanner"),
    )
    return r, item["id"]


ENDPOINTS = {
    "createItem": _create_item,
    "addItemPhoto": _add_photo,
    "verify": _verify,
    "recordInspection": _inspect,
    "reportIncident": _incident,
}

_COUNTS = """
SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM items) AS items,
       (SELECT count(*) FROM photos) AS photos, (SELECT count(*) FROM verifications) AS v,
       (SELECT count(*) FROM inspections) AS inspections,
       (SELECT count(*) FROM incidents) AS incidents,
       (SELECT count(*) FROM items WHERE status <> 'active') AS not_active
"""


def _blob_files(client: AsyncTestClient[Any]) -> int:
    root = Path(client.app.state.services.settings.blob_dir)
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def _reset_peak() -> bool:
    """Start VmHWM again from the current RSS (Linux >= 4.0); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def _stored_blobs(
    client: AsyncTestClient[Any], db: asyncpg.Connection, since: int
) -> list[bytes]:
    """Every blob of the photo rows made after row count ``since``."""
    store = client.app.state.services.store
    rows = await db.fetch(
        "SELECT original_sha, display_sha, thumb_sha FROM photos ORDER BY created_at OFFSET $1",
        since,
    )
    out = []
    for r in rows:
        for sha in r:
            data = await store.get(sha)
            assert data is not None, sha
            out.append(data)
    return out


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    """Every hostile file, made once."""
    return {name: make() for name, (make, *_rest) in HOSTILE.items()}


async def test_hostile_images_to_every_upload_endpoint(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection, images: dict[str, bytes]
) -> None:
    reset = _reset_peak()
    base_rss = _rss_kb("VmRSS")
    base_hwm = _rss_kb("VmHWM")
    failures: list[str] = []
    timings: dict[str, float] = {}
    for name, (_make, filename, ctype, expected) in HOSTILE.items():
        data = images[name]
        for endpoint, send in ENDPOINTS.items():
            before = dict(await db.fetchrow(_COUNTS))
            blobs_before = _blob_files(client)
            photos_before = before["photos"]
            started = time.monotonic()
            r, item_id = await send(client, world, (filename, data, ctype))
            timings[f"{name} -> {endpoint}"] = time.monotonic() - started
            where = f"{name} -> {endpoint}: {r.status_code} {r.text[:160]}"
            if r.status_code >= 500:
                failures.append(where)
                continue
            if expected == "4xx" and not 400 <= r.status_code < 500:
                failures.append(f"want 4xx; {where}")
                continue
            if expected == "2xx" and not 200 <= r.status_code < 300:
                failures.append(f"want 2xx; {where}")
                continue
            if 400 <= r.status_code < 500:
                body = r.json()
                assert {"status_code", "error", "detail"} <= set(body), where
                # Nothing half-written: the item made for the request is the only change.
                after = dict(await db.fetchrow(_COUNTS))
                if item_id is not None:
                    before["items"] += 1
                    before["events"] += 2  # its registration and its tag
                assert after == before, f"{where}: wrote {before} -> {after}"
                assert _blob_files(client) == blobs_before, f"{where}: stored a blob"
            else:
                for blob in await _stored_blobs(client, db, photos_before):
                    assert _PAYLOAD not in blob, f"{where}: served file keeps the payload"
                    assert b"PK\x03\x04" not in blob, f"{where}: served file keeps the ZIP"
                    assert b"acTL" not in blob, f"{where}: served file is animated"
    peak_mb = (_rss_kb("VmHWM") - (base_rss if reset else base_hwm)) / 1024
    slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:3]
    print(f"hostile uploads: peak RSS growth {peak_mb:.0f} MB (reset={reset}); slowest {slowest}")
    assert not failures, "\n".join(failures)
    workers = client.app.state.services.settings.decode_workers
    assert peak_mb < PEAK_RSS_GROWTH_BASE_MB + workers * PEAK_RSS_GROWTH_CAP_MB_PER_WORKER
    assert _blob_files(client) > 0  # the blob check above looks where blobs really go
    # The server is still up and answering.
    assert (await client.get("/health")).status_code == 200


async def test_an_over_size_upload_is_413_and_writes_nothing(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection
) -> None:
    limit = client.app.state.services.settings.max_upload_bytes
    data = b"\xff\xd8\xff" + b"\x00" * (limit + 1)
    before = dict(await db.fetchrow(_COUNTS))
    for endpoint, send in ENDPOINTS.items():
        r, item_id = await send(client, world, ("big.jpg", data, "image/jpeg"))
        assert r.status_code == 413, f"{endpoint}: {r.status_code} {r.text[:200]}"
        assert r.json()["status_code"] == 413
        if item_id is not None:
            before["items"] += 1
            before["events"] += 2
    assert dict(await db.fetchrow(_COUNTS)) == before


async def test_a_bad_photo_among_good_ones_stores_nothing(
    client: AsyncTestClient[Any], world: World, db: asyncpg.Connection, images: dict[str, bytes]
) -> None:
    """createItem takes up to ten photos in one transaction: all or nothing."""
    before = dict(await db.fetchrow(_COUNTS))
    blobs = _blob_files(client)
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/items",
        data={"item": json.dumps({**ITEM, "name": "Half-written?"})},
        files=[
            ("photos", ("a.jpg", jpeg_ok(), "image/jpeg")),
            ("photos", ("b.jpg", cmyk_jpeg(), "image/jpeg")),
            ("photos", ("c.png", images["png-30000x30000"], "image/png")),
        ],
        headers=world.h("prop_master"),
    )
    assert r.status_code == 422, r.text
    assert dict(await db.fetchrow(_COUNTS)) == before
    assert _blob_files(client) == blobs
