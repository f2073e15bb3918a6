"""Where the QR code, the Code 128 and the text sit inside one label.

The QR code gets as much of the label as it can: it is what phones read, and a tag on
a curved grip is photographed from an angle. Quiet zones are white by construction, so
they may reach into the label's inset; the dark modules and the text never do.

    +--------------------------------------------+
    | +--------+  [ NON-FIRING / RESTRICTED ]    |
    | |   QR   |  Item name                      |
    | |        |  Production name                |
    | +--------+  PC-XXXX-XXXX-XXXX-XXXX-XC      |
    |  ||| |||| Code 128, full width |||| ||| |  |
    +--------------------------------------------+
"""

from __future__ import annotations

import msgspec
from reportlab.lib.units import mm

from api.labels.layouts import Box, Layout
from api.labels.symbols import CODE128_MAX_MODULES, QR_MODULES

__all__ = ["LabelGeometry", "label_geometry"]

#: Quiet zones stay at least this far inside the label's edge.
_EDGE = 0.5 * mm
#: Gap between the QR's quiet zone and the bars below it.
_GAP = 0.5 * mm
#: The QR never takes more than this share of the label's width (text needs the rest).
_QR_MAX_SHARE = 0.42


class LabelGeometry(msgspec.Struct, frozen=True, kw_only=True):
    """Boxes relative to the label's lower-left corner, in points."""

    #: The QR code including its 4-module quiet zone.
    qr: Box
    qr_module: float
    #: The Code 128 including its 10-module quiet zones.
    barcode: Box
    bar_module: float
    #: Banner, item name, production name and human-readable code.
    text: Box


def label_geometry(layout: Layout) -> LabelGeometry:
    """Compute the parts of a label of ``layout``; identical for every label of it."""
    w, h, inset = layout.label_width, layout.label_height, layout.inset
    # ISO/IEC 15417 suggests bars at least 15% of the symbol's width or 6.35 mm tall;
    # a hand-held scanner needs far less, and every millimetre here is QR module size.
    bar_height = max(4.2 * mm, 0.18 * h)
    barcode = Box(x=_EDGE, y=inset, width=w - 2 * _EDGE, height=bar_height)
    bar_top = inset + bar_height
    side = min(h - _EDGE - bar_top - _GAP, _QR_MAX_SHARE * w)
    qr = Box(x=_EDGE, y=h - _EDGE - side, width=side, height=side)
    text_left = qr.x + side  # the QR's own quiet zone separates it from the text
    text = Box(
        x=text_left,
        y=bar_top + _GAP,
        width=w - inset - text_left,
        height=h - inset - bar_top - _GAP,
    )
    return LabelGeometry(
        qr=qr,
        qr_module=side / QR_MODULES,
        barcode=barcode,
        bar_module=barcode.width / CODE128_MAX_MODULES,
        text=text,
    )
