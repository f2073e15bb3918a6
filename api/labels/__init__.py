"""Printable tag labels: vector PDF sheets and thermal labels, and single-label PNGs.

Pure rendering: no database, no HTTP. The API and the CLI choose which tags to print,
record the printing, and call :func:`render_pdf` or :func:`render_png`.

Sizes (measured by rasterising with pypdfium2 and decoding with pyzbar):

* QR (version 1-M, 29 modules with the quiet zone): at 300 dpi with a 0.8 px blur it
  reads every time down to 0.22 mm modules, a 4.6 mm symbol (6.4 mm with its quiet
  zone); 0.17 mm with a 0.5 px blur, 0.30 mm with a 1.2 px blur. The smallest label
  here (letter-30) prints 0.63 mm modules: about three times that minimum.
* Code 128 (18 symbols, code set B: 233 modules + 2 x 10 quiet): needs about 2 px per
  module at 300 dpi with blur (0.17 mm, a 43 mm wide symbol) and 1.5 px in a sharp
  150 dpi raster (0.25 mm, 64 mm wide), so at 150 dpi only letter-30's bars read.
"""

from __future__ import annotations

from api.labels.geometry import LabelGeometry, label_geometry
from api.labels.layouts import LAYOUTS, Box, Layout, cell_box, get_layout
from api.labels.render import LabelData, render_pdf, render_png
from api.labels.text import BANNER_WORDS, RESTRICTED_TEXT

__all__ = [
    "BANNER_WORDS",
    "LAYOUTS",
    "RESTRICTED_TEXT",
    "Box",
    "LabelData",
    "LabelGeometry",
    "Layout",
    "cell_box",
    "get_layout",
    "label_geometry",
    "render_pdf",
    "render_png",
]
