"""The two machine-readable symbols of a label, drawn as vector rectangles.

* QR code: segno builds the matrix (error correction M or better, 4-module quiet zone).
  A canonical code is 18 symbols of QR's alphanumeric set, so it always fits version 1
  (21 x 21 modules, 29 with the quiet zone), the largest modules for a given size.
* Code 128: reportlab's encoder (reportlab.graphics.barcode.code128, maintained with
  reportlab, which draws the PDF anyway) gives the bar and space widths; we draw them
  as one path so that every label of a layout shares one module width. Not
  python-barcode: its 0.16.1 encoder silently drops a leading "99" (upstream issue
  WhyNotHugo/python-barcode#251, fix merged but unreleased), which hit about one
  random tag code in 960 in our round-trip test.

Both symbols are filled as one path (the union of their dark rectangles), so rasterisers
leave no hairline seams between neighbouring modules.
"""

from __future__ import annotations

import segno
from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfgen.canvas import Canvas

__all__ = [
    "CODE128_MAX_MODULES",
    "CODE128_QUIET_MODULES",
    "QR_BORDER",
    "QR_MODULES",
    "code128_pattern",
    "draw_code128",
    "draw_qr",
    "qr_rows",
]

#: Quiet zone around the QR code, in modules: the full 4 that ISO/IEC 18004 asks for.
QR_BORDER = 4
#: Side of a version 1 QR code including its quiet zone, in modules.
QR_MODULES = 21 + 2 * QR_BORDER
#: Quiet zone on each side of the Code 128, in modules (ISO/IEC 15417 minimum).
CODE128_QUIET_MODULES = 10
#: Widest pattern of an 18-symbol code (all in code set B): start 11 + 18 x 11 +
#: check 11 + stop 13, plus both quiet zones. Every label of a layout uses the module
#: width that fits this, so bars look the same whatever the code.
CODE128_MAX_MODULES = 11 + 18 * 11 + 11 + 13 + 2 * CODE128_QUIET_MODULES


def qr_rows(text: str) -> list[list[bool]]:
    """The QR matrix of ``text`` with its quiet zone, as rows of dark (True) modules."""
    qr = segno.make_qr(text, error="m")
    return [[bool(v) for v in row] for row in qr.matrix_iter(border=QR_BORDER)]


def code128_pattern(text: str) -> str:
    """The Code 128 module pattern of ``text`` ('1' dark, '0' light), no quiet zones."""
    symbol = Code128(text, quiet=0)
    symbol.validate()
    symbol.encode()
    # reportlab spells each element as a letter: upper case a bar, lower case a space,
    # 'a'/'A' one module wide, 'b'/'B' two, and so on.
    return "".join(
        ("1" if ch.isupper() else "0") * (ord(ch.lower()) - ord("a") + 1)
        for ch in symbol.decompose()
    )


def draw_qr(canvas: Canvas, text: str, x: float, y: float, side: float) -> float:
    """Draw the QR code of ``text`` with its quiet zone in the square at ``x``, ``y``.

    Returns the module size in points.
    """
    rows = qr_rows(text)
    module = side / len(rows)
    path = canvas.beginPath()
    for r, row in enumerate(rows):
        top = y + side - r * module
        for start, length in _runs(row):
            path.rect(x + start * module, top - module, length * module, module)
    canvas.drawPath(path, stroke=0, fill=1)
    return module


def draw_code128(
    canvas: Canvas, text: str, x: float, y: float, width: float, height: float
) -> float:
    """Draw the Code 128 of ``text`` centred in the box, quiet zones included.

    Returns the module (narrowest bar) width in points.
    """
    pattern = code128_pattern(text)
    module = width / CODE128_MAX_MODULES
    left = x + (width - len(pattern) * module) / 2
    path = canvas.beginPath()
    for start, length in _runs([ch == "1" for ch in pattern]):
        path.rect(left + start * module, y, length * module, height)
    canvas.drawPath(path, stroke=0, fill=1)
    return module


def _runs(dark: list[bool]) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules."""
    runs: list[tuple[int, int]] = []
    start = -1
    for i, value in enumerate([*dark, False]):
        if value and start < 0:
            start = i
        elif not value and start >= 0:
            runs.append((start, i - start))
            start = -1
    return runs
