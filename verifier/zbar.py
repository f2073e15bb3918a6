"""libzbar through pyzbar's ctypes bindings, restricted to the symbologies propcheck prints.

``pyzbar.decode`` is not used: in pyzbar 0.1.9 it converts every symbol's orientation
with an enum that cannot hold libzbar's "unknown" (left on merged structured-append QR
groups), which raises ``ValueError: 4294967295 is not a valid ZBarOrientation`` and
loses the read. :func:`zbar_scan` runs the same libzbar calls without reading the
orientation, enables only QR codes and Code 128 (which also keeps libzbar's DataBar
decoder and its assertion noise on stderr out of the way), and returns QR byte segments
raw so that :func:`symbol_text` chooses the text encoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from ctypes import c_char_p, c_void_p, cast, string_at
from dataclasses import dataclass
from typing import Any, Final, Literal

from PIL import Image
from pyzbar import wrapper as _zb

__all__ = ["Symbology", "ZbarSymbol", "symbol_text", "zbar_scan"]

Symbology = Literal["QRCODE", "CODE128"]

# libzbar symbology ids and config keys (zbar.h); pyzbar's enums lack the last two.
_ZBAR_QRCODE: Final = 64
_ZBAR_CODE128: Final = 128
_CFG_ENABLE: Final = 0
_CFG_BINARY: Final = 4  # return QR byte segments raw; we choose the text encoding
_CFG_TEST_INVERTED: Final = 0x81  # also try the negative image (light-on-dark QR)
_FOURCC_Y800: Final = 0x30303859  # 8-bit grayscale, "Y800"
_SYMBOLOGY: Final[dict[int, Symbology]] = {_ZBAR_QRCODE: "QRCODE", _ZBAR_CODE128: "CODE128"}


@dataclass(frozen=True, slots=True)
class ZbarSymbol:
    """A raw libzbar result: ``data`` as returned, ``points`` in the scanned image."""

    data: bytes
    symbology: Symbology
    points: tuple[tuple[int, int], ...]


def zbar_scan(image: Image.Image, *, inverted: bool = False) -> list[ZbarSymbol]:
    """Scan one grayscale (``L``) image with libzbar for QR codes and Code 128 only.

    This is ``pyzbar.decode``'s loop without its orientation lookup (the source of the
    pyzbar 0.1.9 ``ZBarOrientation`` ValueError) and with QR byte segments returned raw,
    so that :func:`symbol_text` can decode UTF-8 correctly where libzbar guesses Shift-JIS.
    Only the two symbologies propcheck prints are enabled, which also keeps libzbar's
    DataBar decoder (and its assertion noise on stderr) out of the way.
    """
    if image.mode != "L":
        image = image.convert("L")
    pixels = image.tobytes()
    width, height = image.size
    scanner = _zb.zbar_image_scanner_create()
    if not scanner:
        raise MemoryError("libzbar could not create a scanner")
    try:
        _zb.zbar_image_scanner_set_config(scanner, 0, _CFG_ENABLE, 0)  # 0 = all symbologies
        for sym in (_ZBAR_QRCODE, _ZBAR_CODE128):
            _zb.zbar_image_scanner_set_config(scanner, sym, _CFG_ENABLE, 1)
            _zb.zbar_image_scanner_set_config(scanner, sym, _CFG_BINARY, 1)
        if inverted:
            _zb.zbar_image_scanner_set_config(scanner, 0, _CFG_TEST_INVERTED, 1)
        zimage = _zb.zbar_image_create()
        if not zimage:
            raise MemoryError("libzbar could not create an image")
        try:
            _zb.zbar_image_set_format(zimage, _FOURCC_Y800)
            _zb.zbar_image_set_size(zimage, width, height)
            # libzbar reads the buffer in place; `pixels` outlives the scan below.
            _zb.zbar_image_set_data(zimage, cast(c_char_p(pixels), c_void_p), len(pixels), None)
            if _zb.zbar_scan_image(scanner, zimage) < 0:
                return []
            return list(_symbols(zimage))
        finally:
            _zb.zbar_image_destroy(zimage)
    finally:
        _zb.zbar_image_scanner_destroy(scanner)


def _symbols(zimage: Any) -> Iterator[ZbarSymbol]:
    symbol = _zb.zbar_image_first_symbol(zimage)
    while symbol:
        symbology = _SYMBOLOGY.get(symbol.contents.type)
        if symbology is not None:  # ZBAR_PARTIAL placeholders of incomplete groups
            data = string_at(
                _zb.zbar_symbol_get_data(symbol), _zb.zbar_symbol_get_data_length(symbol)
            )
            count = _zb.zbar_symbol_get_loc_size(symbol)
            points = tuple(
                (_zb.zbar_symbol_get_loc_x(symbol, i), _zb.zbar_symbol_get_loc_y(symbol, i))
                for i in range(count)
            )
            yield ZbarSymbol(data=data, symbology=symbology, points=points)
        symbol = _zb.zbar_symbol_next(symbol)


def symbol_text(data: bytes) -> str:
    """Decode raw symbol bytes the way the encoder most likely meant them.

    UTF-8 first: a non-ASCII byte string that is valid UTF-8 is almost never anything
    else. Then Shift-JIS when C1 bytes (0x80-0x9F, unused in Latin-1 text) appear, as
    in Japanese QR codes, and ISO-8859-1, the QR standard's default, last.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if any(0x80 <= b <= 0x9F for b in data):
        try:
            return data.decode("shift_jis")
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")
