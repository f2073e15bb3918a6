"""The photo decoder: tags rendered on the fly, hostile bytes, and the benchmark glue."""

from __future__ import annotations

import contextlib
import io
import json
import random
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pyzbar import pyzbar

from tests.verifier.tagimages import (
    Scene,
    code128_tag,
    encode,
    place,
    qr_tag,
    structured_append_qr,
    textured_background,
)
from verifier.bench_decode import bench, decode_file_json, format_report, read_truth
from verifier.codes import format_code, new_code
from verifier.decode import Decoded, ImageRejected, decode_image

Point = tuple[float, float]


# Reading tests are about what the passes can read, not about the machine's speed: a
# generous budget keeps them deterministic on a loaded CI machine.
_READ_BUDGET_S = 20.0


def _read(data: bytes, *, second_engine: bool = True) -> list[Decoded]:
    return decode_image(data, budget_s=_READ_BUDGET_S, second_engine=second_engine)


# Codes drawn from a generator seeded with the test's id: whether a blurred photo reads
# depends on the code's bar pattern (at the hardest blur here, 8 of 600 random codes did
# not read when measured), so a failure must come back on the next run to be looked
# into, not vanish with a fresh random code.
_codes = random.Random()


@pytest.fixture(autouse=True)
def _seeded_codes(request: pytest.FixtureRequest) -> None:
    _codes.seed(request.node.nodeid)


def _code() -> str:
    return format_code(new_code(_codes.choice))


def _distance(a: Point, b: Point) -> float:
    return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)


def _assert_corners(found: Decoded, scene: Scene, tolerance: float = 8.0) -> None:
    """Every true corner of the symbol has a decoded point close to it."""
    assert len(found.points) == 4
    for corner in scene.corners:
        nearest = min(_distance(corner, p) for p in found.points)
        assert nearest <= tolerance, (corner, found.points)


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    ax, ay, bx, by = a[0], a[1], b[0], b[1]
    length_sq = (bx - ax) ** 2 + (by - ay) ** 2
    t = ((p[0] - ax) * (bx - ax) + (p[1] - ay) * (by - ay)) / length_sq
    t = max(0.0, min(1.0, t))
    return _distance(p, (ax + t * (bx - ax), ay + t * (by - ay)))


def _assert_on_symbol(found: Decoded, scene: Scene, tolerance: float = 24.0) -> None:
    """Every decoded point lies on the barcode or within ``tolerance`` px of it."""
    quad = list(scene.corners)
    edges = list(zip(quad, quad[1:] + quad[:1], strict=True))
    for point in found.points:
        sides = {
            (b[0] - a[0]) * (point[1] - a[1]) - (b[1] - a[1]) * (point[0] - a[0]) > 0
            for a, b in edges
        }
        inside = len(sides) == 1
        assert inside or min(_segment_distance(point, a, b) for a, b in edges) <= tolerance, (
            point,
            scene.corners,
        )


def _only(results: list[Decoded], code: str) -> Decoded:
    """The one valid code read; misreads (failing the check character) may come after."""
    valid = [d for d in results if d.valid_code]
    assert [d.text for d in valid] == [code]
    assert results[0] is valid[0]
    return valid[0]


# --------------------------------------------------------------------------- reading tags


@pytest.mark.parametrize(
    "distortion",
    [
        {},
        {"angle": 33, "blur": 1.2},
        {"angle": -12, "tilt": 0.3},
        {"scale": 0.7, "noise": 25},
        {"contrast": 0.35, "brightness": 0.6},
        {"angle": 170, "scale": 0.6, "blur": 0.8, "noise": 12},
    ],
    ids=["plain", "rotated-blurred", "perspective", "small-noisy", "dark-flat", "upside-down"],
)
def test_qr_tag_in_a_photo_reads_as_the_exact_code_with_its_corners(distortion: dict) -> None:
    code = _code()
    scene = place(qr_tag(code, module_px=5), seed=len(distortion), **distortion)
    found = _only(_read(encode(scene.image)), code)
    assert found.symbology == "QRCODE"
    _assert_corners(found, scene)


@pytest.mark.parametrize(
    "distortion",
    [
        {"angle": 4},
        {"angle": 40},
        {"angle": -70},
        {"angle": 25, "blur": 1.0},
        {"angle": 3, "noise": 20},
        {"angle": -22, "tilt": 0.1, "contrast": 0.5},
    ],
    ids=["level", "tilted-40", "steep", "tilted-blurred", "noisy", "perspective-flat"],
)
def test_code128_tag_in_a_photo_reads_as_the_exact_code_on_the_barcode(distortion: dict) -> None:
    code = _code()
    scene = place(code128_tag(code, module_px=2), seed=7, **distortion)
    found = _only(_read(encode(scene.image)), code)
    assert found.symbology == "CODE128"
    # The reported points are usually on the bars (40 random codes here: all of them).
    # Once in CI, for one random code, a point of a level tag came out 24.2 px (12
    # modules) past them; 16 modules still tells this barcode from any other in view.
    _assert_on_symbol(found, scene, tolerance=32)


@pytest.mark.parametrize(
    "distortion",
    [
        {"scale": 0.8, "blur": 1.0, "angle": 35, "noise": 6},
        {"scale": 0.9, "blur": 1.4, "angle": -60, "noise": 10, "contrast": 0.6},
        # Seen at a slant: the bars fan out, a quarter wider at their foot.
        {"scale": 0.9, "blur": 1.0, "angle": -20, "noise": 6, "tilt": 0.25},
    ],
    ids=["1.6px-modules", "1.8px-modules-flat", "1.8px-modules-perspective"],
)
def test_small_blurred_code128_is_read_from_deblurred_scan_lines(distortion: dict) -> None:
    # Modules under two pixels, blurred by most of their width: no libzbar pass (any
    # scale, rotation, sharpening or threshold) and no whole-image zxing pass reads
    # these; the scan-line reader does, and puts the barcode where it is.
    code = _code()
    scene = place(code128_tag(code, module_px=2), seed=3, **distortion)
    found = _only(_read(encode(scene.image)), code)
    assert (found.symbology, found.engine) == ("CODE128", "scanline")
    _assert_on_symbol(found, scene, tolerance=12)


def test_small_code128_in_a_twelve_megapixel_photo_is_read_at_full_size() -> None:
    # Bars 1.3 px wide in the photo are 0.65 px in the half-size working copy: only
    # reading the barcode-shaped region again from the full-size photo finds them.
    code = _code()
    tag = code128_tag(code, module_px=2)
    scene = place(tag, size=(4032, 3024), at=(0.4, 0.6), scale=0.65, blur=0.6, angle=30, noise=6)
    found = _only(_read(encode(scene.image, quality=88)), code)
    assert found.engine == "scanline"
    _assert_on_symbol(found, scene, tolerance=16)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_jpeg_gives_points_in_the_upright_image(orientation: int) -> None:
    code = _code()
    scene = place(qr_tag(code, module_px=5), size=(1000, 700), at=(0.3, 0.4), angle=10)
    # Store the pixels turned the other way, as a phone held sideways does.
    undo = {
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    stored = scene.image.transpose(undo)
    found = _only(_read(encode(stored, exif_orientation=orientation)), code)
    _assert_corners(found, scene)


def test_twelve_megapixel_photo_is_decoded_at_reduced_scale_with_full_size_points() -> None:
    code = _code()
    scene = place(qr_tag(code, module_px=8), size=(4000, 3000), at=(0.7, 0.3), angle=20)
    found = _only(_read(encode(scene.image, quality=80)), code)
    _assert_corners(found, scene, tolerance=16)


def test_two_different_tags_in_one_photo_are_both_returned() -> None:
    first, second = _code(), _code()
    scene = place(qr_tag(first, module_px=5), at=(0.25, 0.5))
    scene = place(qr_tag(second, module_px=5), at=(0.75, 0.5), background=scene.image)
    texts = {d.text for d in _read(encode(scene.image))}
    assert texts == {first, second}


def test_pyzbar_primary_reads_a_plain_tag_without_the_second_engine() -> None:
    code = _code()
    scene = place(qr_tag(code, module_px=5), angle=5)
    found = _only(_read(encode(scene.image), second_engine=False), code)
    assert found.engine == "zbar"


def test_structured_append_qr_that_crashes_pyzbar_is_read() -> None:
    # libzbar merges the group into one symbol with an unknown orientation, which
    # pyzbar 0.1.9 cannot convert: the defect decode_image must never surface.
    message = "propcheck structured append test message"
    image = structured_append_qr(message)
    with pytest.raises(ValueError, match="ZBarOrientation"):
        pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])
    results = _read(encode(image, "PNG"))
    assert [d.text for d in results] == [message]
    assert not results[0].valid_code


def test_photo_without_a_code_returns_nothing_within_the_budget() -> None:
    data = encode(textured_background((1600, 1200), seed=3))
    start = time.perf_counter()
    assert decode_image(data, budget_s=0.3) == []
    # The budget is checked between passes; one pass and the image decode come on top.
    assert time.perf_counter() - start < 1.2


# --------------------------------------------------------------------------- hostile input


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _small_tag_jpeg() -> bytes:
    return encode(place(qr_tag(_code(), module_px=3), size=(240, 180)).image)


def _animation(fmt: str) -> bytes:
    frames = [Image.new("L", (32, 32), 0), Image.new("L", (32, 32), 255)]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"this is a text file, not a photo", "not_an_image"),
        (b"\xff\xd8\xff\xe0" + bytes(200), None),
        (_png_claiming(10_000, 10_000), "too_large"),  # 100 megapixels
        (_png_claiming(200_000, 200_000), "too_large"),  # decompression bomb
        (_animation("PNG"), "animated"),
        (_animation("WEBP"), "animated"),
        (_animation("GIF"), None),
    ],
    ids=["0-bytes", "text", "jpeg-magic", "100MP", "bomb", "apng", "animated-webp", "gif"],
)
def test_hostile_input_raises_image_rejected_with_a_message(
    data: bytes, reason: str | None
) -> None:
    with pytest.raises(ImageRejected) as caught:
        decode_image(data)
    assert str(caught.value)
    if reason is not None:
        assert caught.value.reason == reason


def test_truncated_photo_raises_image_rejected() -> None:
    data = encode(textured_background((600, 400)))
    with pytest.raises(ImageRejected) as caught:
        decode_image(data[: len(data) // 2])
    assert caught.value.reason == "truncated"


def test_pixel_cap_is_a_parameter() -> None:
    data = _small_tag_jpeg()
    with pytest.raises(ImageRejected) as caught:
        decode_image(data, max_pixels=10_000)
    assert caught.value.reason == "too_large"


def test_corrupted_bytes_only_ever_raise_image_rejected() -> None:
    rng = random.Random(1)
    originals = [_small_tag_jpeg(), encode(textured_background((120, 90)), "PNG")]
    for original in originals:
        for _ in range(15):
            data = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            with contextlib.suppress(ImageRejected):
                decode_image(bytes(data), budget_s=0.2)


def test_cmyk_jpeg_is_converted_and_read() -> None:
    code = _code()
    scene = place(qr_tag(code, module_px=5), size=(800, 600))
    _only(_read(encode(scene.image.convert("CMYK"))), code)


def test_sixteen_bit_png_is_scaled_to_eight_bits_and_read() -> None:
    code = _code()
    scene = place(qr_tag(code, module_px=5), size=(800, 600), contrast=0.6)
    wide = scene.image.convert("I").point(lambda v: v * 257).convert("I;16")
    data = encode(wide, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    _only(_read(data), code)


# --------------------------------------------------------------------------- bench and CLI


def test_bench_scores_found_and_false_positives(tmp_path: Path) -> None:
    code = _code()
    (tmp_path / "tag.png").write_bytes(
        encode(place(qr_tag(code, module_px=4), size=(400, 300)).image, "PNG")
    )
    (tmp_path / "empty.jpg").write_bytes(encode(textured_background((400, 300))))
    (tmp_path / "truth.tsv").write_text(f"tag.png\tQRCODE\t{code}\nempty.jpg\t\t\n")
    assert [r.text for r in read_truth(tmp_path)] == [code, ""]
    [report] = bench([tmp_path])
    pipeline, plain = report.scores[0], report.scores[-1]
    assert plain.method == "plain pyzbar.decode"
    for score in (pipeline, plain):
        assert (score.found, score.with_code, score.wrong, score.false_positives) == (1, 1, 0, 0)
    assert str(tmp_path) in format_report([report])


def test_decode_file_json_ignores_the_file_extension(tmp_path: Path) -> None:
    code = _code()
    path = tmp_path / "photo.jpg"  # PNG bytes under a JPEG name
    path.write_bytes(encode(place(qr_tag(code, module_px=4), size=(400, 300)).image, "PNG"))
    line = json.loads(decode_file_json(path))
    assert line["file"] == str(path)
    assert [s["text"] for s in line["symbols"]] == [code]
    assert line["ms"] >= 0


def test_decode_file_json_reports_a_rejected_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    line = json.loads(decode_file_json(path))
    assert line["symbols"] == []
    assert line["error"] == "not_an_image"
