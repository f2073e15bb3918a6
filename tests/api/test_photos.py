"""The photo pipeline: what is served is upright, stripped of metadata, and cheap to make."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import ExifTags, Image, ImageCms

import api.photos
from api.photos import DISPLAY_SIZE, THUMB_SIZE, Blob, ProcessedPhoto, process_photo
from verifier.imageio import ImageRejected

MAX_PIXELS = 50_000_000
SECRET = b"SECRET-LOCATION-4711"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>' + SECRET + b"</rdf:Description>"
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int = 1) -> bytes:
    """EXIF with an orientation, a camera serial and a GPS position (51.5N, 0.12W)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.BodySerialNumber] = SECRET.decode()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 26.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 39.0)
    return exif.tobytes()


def _scene(size: tuple[int, int] = (640, 480)) -> Image.Image:
    """Left half red, right half blue, with a gradient so resizing has something to do."""
    width, height = size
    img = Image.new("RGB", size, (220, 20, 20))
    img.paste((20, 20, 220), (width // 2, 0, width, height))
    ramp = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (img.getchannel("R"), ramp, img.getchannel("B")))


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _jpeg_with_metadata(img: Image.Image, orientation: int = 1, **params: object) -> bytes:
    data = _save(
        img,
        "JPEG",
        quality=90,
        exif=_exif(orientation),
        icc_profile=SRGB_ICC,
        xmp=XMP,
        comment=SECRET,
        **params,
    )
    # Phones append data after the image (MPF previews, vendor trailers with GPS).
    return data + b"\xff\xd8 trailer " + SECRET


def _jpeg_segments(data: bytes) -> list[int]:
    """The marker of every segment up to the first scan."""
    markers, pos = [], 2
    while data[pos + 1] != 0xDA:
        markers.append(data[pos + 1])
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return markers


def _assert_no_metadata(blob: Blob) -> None:
    assert SECRET not in blob.data
    assert b"Exif\x00\x00" not in blob.data
    assert b"xmpmeta" not in blob.data
    with Image.open(io.BytesIO(blob.data)) as img:
        assert not img.getexif()
        for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"):
            assert key not in img.info, key
        if blob.content_type == "image/jpeg":
            assert img.format == "JPEG"
            allowed_app0 = [0xE0] if blob.data[2:4] == b"\xff\xe0" else []
            assert [m for m in _jpeg_segments(blob.data) if 0xE0 <= m <= 0xEF or m == 0xFE] == (
                allowed_app0
            )
            assert blob.data.endswith(b"\xff\xd9")
        else:
            assert img.format == "PNG"
            assert not getattr(img, "text", {})


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGBA").tobytes()


def _all_blobs(photo: ProcessedPhoto) -> list[Blob]:
    return [photo.original, photo.display, photo.thumb]


@pytest.fixture(scope="module")
def twelve_mp_jpeg() -> bytes:
    return _save(_scene((4000, 3000)), "JPEG", quality=90, exif=_exif())


# ------------------------------------------------------------------ metadata and lossless


@pytest.mark.parametrize(
    "params",
    [{}, {"progressive": True}, {"restart_marker_blocks": 4}, {"subsampling": 0}],
    ids=["baseline", "progressive", "restart-markers", "4:4:4"],
)
def test_upright_jpeg_original_keeps_its_pixels_and_loses_its_metadata(params: dict) -> None:
    upload = _jpeg_with_metadata(_scene(), **params)
    photo = process_photo(upload, max_pixels=MAX_PIXELS)
    assert photo.original_lossless
    assert _pixels(photo.original.data) == _pixels(upload)
    assert (photo.original.width, photo.original.height) == (640, 480)
    for blob in _all_blobs(photo):
        _assert_no_metadata(blob)


def test_greyscale_jpeg_is_kept_greyscale() -> None:
    upload = _jpeg_with_metadata(_scene().convert("L"))
    photo = process_photo(upload, max_pixels=MAX_PIXELS)
    assert photo.original_lossless
    assert _pixels(photo.original.data) == _pixels(upload)
    with Image.open(io.BytesIO(photo.display.data)) as display:
        assert display.mode == "L"


@pytest.mark.parametrize(
    "make_upload",
    [
        lambda: _jpeg_with_metadata(_scene()),
        lambda: _jpeg_with_metadata(_scene(), orientation=6),
        lambda: _save(_scene(), "WEBP", exif=_exif(), icc_profile=SRGB_ICC, xmp=XMP),
        lambda: _save(_scene().convert("RGBA"), "WEBP", lossless=True, exif=_exif(), xmp=XMP),
        lambda: _png_with_metadata(_scene()),
        lambda: _png_with_metadata(_scene(), orientation=8),
        lambda: _jpeg_with_metadata(_scene().convert("CMYK")),
    ],
    ids=["jpeg", "jpeg-rotated", "webp", "webp-alpha", "png", "png-rotated", "jpeg-cmyk"],
)
def test_no_served_file_carries_gps_or_other_metadata(make_upload: Callable[[], bytes]) -> None:
    upload = make_upload()
    with Image.open(io.BytesIO(upload)) as probe:
        gps = probe.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert gps[ExifTags.GPS.GPSLatitudeRef] == "N"  # the upload really carries GPS
    photo = process_photo(upload, max_pixels=MAX_PIXELS)
    for blob in _all_blobs(photo):
        _assert_no_metadata(blob)


def test_data_after_the_jpeg_end_is_dropped() -> None:
    first = _save(_scene((300, 200)), "JPEG")
    second = _jpeg_with_metadata(_scene((50, 40)))
    photo = process_photo(first + second, max_pixels=MAX_PIXELS)
    assert photo.original.data.count(b"\xff\xd8") == 1
    assert _pixels(photo.original.data) == _pixels(first)


def test_phone_mpo_with_a_second_image_is_accepted_as_its_first_image() -> None:
    main, depth = _scene((300, 200)), Image.new("RGB", (60, 40), "white")
    upload = _save(main, "MPO", save_all=True, append_images=[depth])
    photo = process_photo(upload, max_pixels=MAX_PIXELS)
    assert photo.source_format == "JPEG"
    assert (photo.original.width, photo.original.height) == (300, 200)
    _assert_no_metadata(photo.original)


# ------------------------------------------------------------------ orientation


@pytest.mark.parametrize(
    ("orientation", "size", "red_at", "blue_at"),
    [
        # Raw pixels: red left, blue right (60x40). Each tag says how to turn them upright.
        (3, (60, 40), (55, 20), (5, 20)),  # rotated 180°: red ends up right
        (6, (40, 60), (20, 5), (20, 55)),  # rotate 90° clockwise: red ends up on top
        (8, (40, 60), (20, 55), (20, 5)),  # rotate 90° counter-clockwise: red at the bottom
    ],
)
def test_exif_orientation_is_applied_to_the_pixels(
    orientation: int, size: tuple[int, int], red_at: tuple[int, int], blue_at: tuple[int, int]
) -> None:
    raw = Image.new("RGB", (60, 40), (230, 0, 0))
    raw.paste((0, 0, 230), (30, 0, 60, 40))
    photo = process_photo(_jpeg_with_metadata(raw, orientation), max_pixels=MAX_PIXELS)
    assert not photo.original_lossless
    for blob in (photo.original, photo.display):
        assert (blob.width, blob.height) == size
        with Image.open(io.BytesIO(blob.data)) as img:
            assert img.size == size
            rgb = img.convert("RGB")
            red, blue = rgb.getpixel(red_at), rgb.getpixel(blue_at)
        assert isinstance(red, tuple) and isinstance(blue, tuple)
        assert red[0] > 200 and red[2] < 50
        assert blue[2] > 200 and blue[0] < 50


# ------------------------------------------------------------------ PNG and WebP


def _png_with_metadata(img: Image.Image, orientation: int = 1) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.decode())
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    return _save(img, "PNG", pnginfo=info, exif=_exif(orientation), icc_profile=SRGB_ICC)


def test_png_stays_png_with_identical_pixels_and_flattened_derivatives() -> None:
    img = _scene().convert("RGBA")
    img.paste((0, 0, 0, 0), (0, 0, 100, 100))  # a transparent corner
    upload = _png_with_metadata(img)
    photo = process_photo(upload, max_pixels=MAX_PIXELS)
    assert photo.source_format == "PNG"
    assert photo.original_lossless
    assert photo.original.content_type == "image/png"
    assert _pixels(photo.original.data) == _pixels(upload)
    assert photo.display.content_type == "image/jpeg"
    with Image.open(io.BytesIO(photo.display.data)) as display:
        corner = display.convert("RGB").getpixel((10, 10))
    assert isinstance(corner, tuple) and min(corner) > 240  # transparent -> white


def test_sixteen_bit_greyscale_png_is_not_clipped_to_white() -> None:
    grey = Image.new("I;16", (64, 64), 0x8000)  # 50 % grey
    photo = process_photo(_save(grey, "PNG"), max_pixels=MAX_PIXELS)
    with Image.open(io.BytesIO(photo.thumb.data)) as thumb:
        value = thumb.convert("L").getpixel((32, 32))
    assert isinstance(value, int) and 120 <= value <= 136


def test_webp_becomes_jpeg_and_transparent_webp_becomes_png() -> None:
    opaque = process_photo(_save(_scene(), "WEBP", quality=90), max_pixels=MAX_PIXELS)
    assert opaque.source_format == "WEBP"
    assert opaque.original.content_type == "image/jpeg"
    assert (opaque.original.width, opaque.original.height) == (640, 480)

    clear = _scene().convert("RGBA")
    clear.putalpha(128)
    transparent = process_photo(_save(clear, "WEBP", lossless=True), max_pixels=MAX_PIXELS)
    assert transparent.original.content_type == "image/png"
    with Image.open(io.BytesIO(transparent.original.data)) as original:
        alpha = original.getchannel("A").getpixel((10, 10))
    assert alpha == 128


# ------------------------------------------------------------------ sizes, hashes, speed path


def test_twelve_megapixel_jpeg_gets_display_and_thumb_sizes(twelve_mp_jpeg: bytes) -> None:
    photo = process_photo(twelve_mp_jpeg, max_pixels=MAX_PIXELS)
    assert (photo.original.width, photo.original.height) == (4000, 3000)
    assert (photo.display.width, photo.display.height) == (DISPLAY_SIZE, 960)
    assert (photo.thumb.width, photo.thumb.height) == (THUMB_SIZE, 192)
    for blob in _all_blobs(photo):
        with Image.open(io.BytesIO(blob.data)) as img:
            assert img.size == (blob.width, blob.height)
    assert len(photo.thumb.data) < len(photo.display.data) < len(photo.original.data)


def test_twelve_megapixel_jpeg_is_never_decoded_at_full_size(
    twelve_mp_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[tuple[int, int]] = []
    real_open_image = api.photos.open_image

    def spy(data: bytes, **kwargs: object) -> Image.Image:
        img = real_open_image(data, **kwargs)  # type: ignore[arg-type]
        decoded.append(img.size)
        return img

    monkeypatch.setattr(api.photos, "open_image", spy)
    photo = process_photo(twelve_mp_jpeg, max_pixels=MAX_PIXELS)
    assert decoded == [(2000, 1500)]  # JPEG draft at 1/2 scale, the smallest >= 1280
    assert (photo.original.width, photo.original.height) == (4000, 3000)


def test_small_images_are_not_upscaled() -> None:
    photo = process_photo(_save(_scene((120, 90)), "JPEG"), max_pixels=MAX_PIXELS)
    assert (photo.display.width, photo.display.height) == (120, 90)
    assert (photo.thumb.width, photo.thumb.height) == (120, 90)


def test_every_blob_is_named_by_the_sha256_of_its_bytes() -> None:
    upload = _jpeg_with_metadata(_scene(), orientation=6)
    photo = process_photo(upload, max_pixels=MAX_PIXELS)
    assert photo.upload_sha256 == hashlib.sha256(upload).hexdigest()
    for blob in _all_blobs(photo):
        assert blob.sha256 == hashlib.sha256(blob.data).hexdigest()
    assert str(len(photo.original.data)) in repr(photo.original)  # repr shows a size
    assert len(repr(photo.original)) < 200  # not the bytes


# ------------------------------------------------------------------ rejections


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _png_bomb() -> bytes:
    """A tiny file claiming 30000 x 30000 pixels."""
    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + _png_chunk(b"IEND", b"")
    )


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _animated_webp() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue")]
    return _save(frames[0], "WEBP", save_all=True, append_images=frames[1:])


@pytest.mark.parametrize(
    ("make_upload", "reason"),
    [
        (lambda: b"", "empty"),
        (lambda: b"hello, this is not an image", "not_an_image"),
        (lambda: _save(Image.new("P", (32, 32)), "GIF"), "not_an_image"),
        (lambda: _save(Image.new("RGB", (32, 32)), "BMP"), "not_an_image"),
        (lambda: _half(_save(_scene(), "JPEG")), "truncated"),
        (lambda: _half(_save(_scene(), "JPEG", progressive=True)), "truncated"),
        (lambda: _half(_save(_scene(), "PNG")), "truncated"),
        (_png_bomb, "too_large"),
        (_animated_webp, "animated"),
    ],
    ids=[
        "empty",
        "text",
        "gif",
        "bmp",
        "truncated-jpeg",
        "truncated-progressive",
        "truncated-png",
        "bomb",
        "animated",
    ],
)
def test_bad_uploads_raise_image_rejected(make_upload: Callable[[], bytes], reason: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        process_photo(make_upload(), max_pixels=MAX_PIXELS)
    assert caught.value.reason == reason


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_pixel_cap_applies_to_every_path(fmt: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        process_photo(_save(_scene((200, 100)), fmt), max_pixels=19_999)
    assert caught.value.reason == "too_large"


def test_png_over_the_cap_is_refused_without_decoding_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import PngImagePlugin

    upload = _save(_scene((200, 100)), "PNG")
    loads: list[object] = []
    real_load = PngImagePlugin.PngImageFile.load

    def counting_load(self: PngImagePlugin.PngImageFile) -> object:
        loads.append(self)
        return real_load(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", counting_load)
    with pytest.raises(ImageRejected, match="limit"):
        process_photo(upload, max_pixels=19_999)
    assert loads == []
