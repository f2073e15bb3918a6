"""Photo pipeline: an untrusted upload becomes a stripped original, a display size and a thumb.

Everything served is free of metadata (EXIF with GPS, XMP, ICC profiles, comments, phone
trailers after the image) and has its EXIF orientation applied to the pixels.

How the original is made, fastest first:

* JPEG or PNG whose orientation is already upright: the upload's own compressed pixel
  data is kept byte for byte and only whitelisted structural segments/chunks are copied
  (no re-encode: no quality loss, no full-size decode). Derivatives come from one JPEG
  decode through ``draft()`` at 1/2..1/8 scale, so a 12 MP photo is never decoded at
  full size.
* Anything else (rotated by EXIF, WebP, unusual JPEG such as CMYK or arithmetic-coded):
  one full decode, orientation applied, re-encoded as JPEG q90, or as PNG when the
  source is PNG or has transparency; derivatives come from that decode via ``reduce()``.

Derivatives are always JPEG (transparency flattened on white). This is pure CPU work;
the API runs :func:`process_photo` in a worker thread.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings

import msgspec
from PIL import ExifTags, Image

from verifier.imageio import PHOTO_FORMATS, open_image

__all__ = [
    "DISPLAY_SIZE",
    "THUMB_SIZE",
    "Blob",
    "ProcessedPhoto",
    "process_photo",
]

#: Long side of the display derivative, in pixels (sharp on a phone held upright).
DISPLAY_SIZE = 1280
#: Long side of the thumbnail, in pixels.
THUMB_SIZE = 256
_ORIGINAL_QUALITY = 90
_DISPLAY_QUALITY = 85
_THUMB_QUALITY = 80
# reduce() by an integer factor first once the image is at least 3x (1.5 * 2) the target:
# it averages pixel blocks cheaply, like the JPEG draft's DCT scaling; bicubic finishes.
_REDUCING_GAP = 1.5

_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class Blob(msgspec.Struct, frozen=True, kw_only=True):
    """One stored file: its SHA-256 (hex, the storage key and ETag) and its pixels' size."""

    sha256: str
    content_type: str
    width: int
    height: int
    data: bytes

    def __repr__(self) -> str:  # a repr with megabytes of bytes ruins tracebacks and logs
        return (
            f"Blob(sha256={self.sha256!r}, content_type={self.content_type!r}, "
            f"width={self.width}, height={self.height}, data=<{len(self.data)} bytes>)"
        )


class ProcessedPhoto(msgspec.Struct, frozen=True, kw_only=True):
    """The result of :func:`process_photo`: three blobs ready to store."""

    #: SHA-256 of the bytes as uploaded (for de-duplication; never served).
    upload_sha256: str
    #: ``JPEG``, ``PNG`` or ``WEBP``: what the upload was.
    source_format: str
    #: Full resolution, metadata stripped, upright. JPEG, or PNG for PNG/transparent input.
    original: Blob
    #: Long side at most :data:`DISPLAY_SIZE`, JPEG.
    display: Blob
    #: Long side at most :data:`THUMB_SIZE`, JPEG.
    thumb: Blob
    #: True when ``original`` keeps the upload's compressed pixel data unchanged.
    original_lossless: bool


def process_photo(data: bytes, *, max_pixels: int) -> ProcessedPhoto:
    """Turn uploaded bytes into a stripped original, a display size and a thumbnail.

    Accepts JPEG, PNG and WebP only; anything else, damaged, animated or larger than
    ``max_pixels`` raises :class:`verifier.imageio.ImageRejected`, the one error type.
    """
    source_format, orientation = _peek(data)
    stripped = _strip(source_format, data)
    lossless = stripped is not None and orientation == 1
    if stripped is not None and lossless:
        # The original is the stripped stream; decode only what the display size needs.
        img = open_image(
            stripped.data,
            max_pixels=max_pixels,
            transpose=False,
            draft_size=(DISPLAY_SIZE, DISPLAY_SIZE),
        )
    elif stripped is not None:
        # Decoding the stripped stream also lets a phone's MPO (photo plus depth or gain
        # map) through as the plain JPEG it starts with.
        img = open_image(stripped.data, max_pixels=max_pixels, transpose=False)
        if orientation in _TRANSPOSE:
            img = img.transpose(_TRANSPOSE[orientation])
    else:
        img = open_image(data, max_pixels=max_pixels, transpose=True)
    img.info = _clean_info(img.info)
    base = _for_jpeg(img)
    if stripped is not None and lossless:
        original = _blob(stripped.data, stripped.content_type, stripped.width, stripped.height)
    else:
        original = _encode_original(img, base, source_format or img.format or "")
    display_img = _fit(base, DISPLAY_SIZE)
    thumb_img = _fit(display_img, THUMB_SIZE)
    return ProcessedPhoto(
        upload_sha256=hashlib.sha256(data).hexdigest(),
        source_format=_source_name(source_format, img),
        original=original,
        display=_encode_jpeg(display_img, _DISPLAY_QUALITY, optimize=True),
        thumb=_encode_jpeg(thumb_img, _THUMB_QUALITY, optimize=True),
        original_lossless=lossless,
    )


# ---------------------------------------------------------------- decoding helpers


def _peek(data: bytes) -> tuple[str | None, int]:
    """The format and EXIF orientation from the headers alone (no pixel decoding).

    Only picks the strategy: any failure here falls through to :func:`open_image`, the
    gate that decides and explains rejections.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=PHOTO_FORMATS) as im:
                fmt = im.format
                if fmt == "PNG" and "exif" not in im.info:
                    # Pillow would decode the whole image, before any pixel cap, to look
                    # for an eXIf chunk after the pixel data; such a late one is ignored.
                    orientation = 1
                else:
                    # Same source as ImageOps.exif_transpose (EXIF, else XMP orientation).
                    orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return None, 1
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return fmt, orientation


def _source_name(peeked: str | None, img: Image.Image) -> str:
    # A phone JPEG with a depth map or gain map parses as MPO; to the user it is a JPEG.
    name = peeked or img.format or "JPEG"
    return "JPEG" if name == "MPO" else name


def _clean_info(info: dict[str | tuple[int, int], object]) -> dict[str | tuple[int, int], object]:
    # Pillow's savers fall back to im.info for some metadata (PNG: icc_profile, JPEG:
    # comment); keep only what changes the pixels' meaning.
    return {"transparency": info["transparency"]} if "transparency" in info else {}


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _for_jpeg(img: Image.Image) -> Image.Image:
    """The image in a mode JPEG can hold (RGB or L), transparency flattened on white."""
    if img.mode in ("RGB", "L"):
        return img
    if img.mode.startswith("I;16") or img.mode == "I":
        # 16-bit greyscale PNG: convert("L") would clip everything above 255 to white.
        return img.convert("I").point(lambda v: v / 256).convert("L")
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("L" if img.mode == "1" else "RGB")


def _fit(img: Image.Image, long_side: int) -> Image.Image:
    """``img`` scaled down (never up) so its long side is at most ``long_side``."""
    width, height = img.size
    if max(width, height) <= long_side:
        return img
    scale = long_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return img.resize(size, Image.Resampling.BICUBIC, reducing_gap=_REDUCING_GAP)


# ---------------------------------------------------------------- encoding helpers


def _blob(data: bytes, content_type: str, width: int, height: int) -> Blob:
    return Blob(
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type,
        width=width,
        height=height,
        data=data,
    )


def _encode_jpeg(img: Image.Image, quality: int, *, optimize: bool = False) -> Blob:
    buf = io.BytesIO()
    # Only explicit parameters: no exif=, icc_profile=, comment= reaches the encoder.
    img.save(buf, "JPEG", quality=quality, optimize=optimize)
    return _blob(buf.getvalue(), "image/jpeg", *img.size)


def _encode_original(img: Image.Image, as_jpeg: Image.Image, source_format: str) -> Blob:
    if source_format == "PNG" or _has_alpha(img):
        if img.mode not in _PNG_MODES:
            img = img.convert("RGBA")
        buf = io.BytesIO()
        # Rare path (rotated PNG, transparent WebP): favour upload latency over bytes.
        img.save(buf, "PNG", compress_level=1)
        return _blob(buf.getvalue(), "image/png", *img.size)
    # Optimized Huffman tables would save ~5 % of bytes for 3x the encode time.
    return _encode_jpeg(as_jpeg, _ORIGINAL_QUALITY)


# ---------------------------------------------------------------- lossless stripping


class _Stripped(msgspec.Struct, frozen=True):
    data: bytes
    content_type: str
    width: int
    height: int


def _strip(source_format: str | None, data: bytes) -> _Stripped | None:
    """``data`` without metadata, pixels untouched; None when only a re-encode is safe."""
    if source_format in ("JPEG", "MPO"):
        return _strip_jpeg(data)
    if source_format == "PNG":
        return _strip_png(data)
    return None


_SOF = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended, progressive (Huffman)
_TABLES = frozenset({0xC4, 0xDB, 0xDD})  # DHT, DQT, DRI
_SOS, _EOI, _APP0, _APP14 = 0xDA, 0xD9, 0xE0, 0xEE
_METADATA = frozenset({*range(0xE0, 0xF0), 0xFE})  # APP0..APP15, COM
_SCAN_DATA = frozenset({0x00, *range(0xD0, 0xD8)})  # stuffed 0xFF, restart markers
_METADATA_MARKER = re.compile(rb"\xff[\xe0-\xef\xfe]")
# A JFIF header without a thumbnail, written only when the source had one: a 3-component
# JPEG without JFIF and with component ids R, G, B is decoded as RGB, with JFIF as YCbCr.
_JFIF = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def _strip_jpeg(data: bytes) -> _Stripped | None:
    """Copy SOI, tables, the frame header, the scans and EOI; drop everything else.

    Whitelisting means APPn (EXIF, XMP, ICC, MPF), COM and any trailer after EOI (MPF
    secondary images, phone vendor data) can only be dropped, never copied. Anything the
    whitelist does not know returns None and the image is re-encoded instead.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out: list[bytes] = []
    size: tuple[int, int] | None = None
    had_jfif = scanned = False
    pos, end_of_data = 2, len(data)
    while True:
        if pos >= end_of_data or data[pos] != 0xFF:
            return None
        while pos < end_of_data and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos >= end_of_data:
            return None
        marker = data[pos]
        if marker == _EOI:
            break
        length = int.from_bytes(data[pos + 1 : pos + 3], "big")
        seg_end = pos + 1 + length
        if length < 2 or seg_end > end_of_data:
            return None
        segment = data[pos - 1 : seg_end]  # 0xFF, marker, length, payload
        payload = data[pos + 3 : seg_end]
        if marker in _SOF:
            if size is not None or len(payload) < 6 or payload[5] not in (1, 3):
                return None  # second frame, or CMYK/odd component counts: re-encode
            size = (int.from_bytes(payload[3:5], "big"), int.from_bytes(payload[1:3], "big"))
            out.append(segment)
        elif marker in _TABLES:
            out.append(segment)
        elif marker == _SOS:
            if size is None:
                return None
            scan_end = _scan_end(data, seg_end)
            if scan_end is None:
                return None
            out.append(data[pos - 1 : scan_end])
            scanned = True
            pos = scan_end
            continue
        elif marker == _APP14:
            return None  # Adobe colour transform flag: its meaning would change
        elif marker in _METADATA:
            had_jfif = had_jfif or (marker == _APP0 and payload.startswith(b"JFIF\x00"))
        else:
            return None  # DNL, arithmetic coding, lossless, hierarchical...
        pos = seg_end
    if size is None or not scanned or 0 in size:
        return None
    body = b"".join(out)
    # Belt and braces against a parsing slip: the tables may legitimately hold these
    # byte pairs, in which case re-encoding is merely slower, never leakier.
    if _METADATA_MARKER.search(body):
        return None
    header = b"\xff\xd8" + (_JFIF if had_jfif else b"")
    return _Stripped(header + body + b"\xff\xd9", "image/jpeg", *size)


def _scan_end(data: bytes, pos: int) -> int | None:
    """Index of the 0xFF starting the first marker after entropy-coded data at ``pos``."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return None
        if data[pos + 1] not in _SCAN_DATA:
            return pos  # a marker, possibly after 0xFF fill bytes
        pos += 2


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Structure and the colour information needed to show the same pixels; no text, eXIf,
# iCCP, tIME, pHYs, C2PA or animation chunks.
_PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"gAMA", b"cHRM", b"sRGB"})


def _strip_png(data: bytes) -> _Stripped | None:
    """Copy only whitelisted chunks; None when an unknown critical chunk appears."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    out = [_PNG_SIGNATURE]
    size: tuple[int, int] | None = None
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            return None
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return None
        if kind == b"IHDR":
            if size is not None or length != 13:
                return None
            size = (
                int.from_bytes(data[pos + 8 : pos + 12], "big"),
                int.from_bytes(data[pos + 12 : pos + 16], "big"),
            )
        elif size is None:
            return None  # IHDR must come first
        if kind in _PNG_KEEP:
            out.append(data[pos:end])
        elif not kind[0] & 0x20:
            return None  # an unknown critical chunk: decoders may not ignore it
        pos = end
        if kind == b"IEND":
            break
    if size is None or 0 in size:
        return None
    return _Stripped(b"".join(out), "image/png", *size)
