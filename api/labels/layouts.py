"""Label stock: where each label sits on a page, in PDF points (1/72 in).

Sheet geometries are the manufacturers' published ones, so a sheet bought in a
stationery shop lines up without a calibration step:

* ``letter-30``: US Letter, Avery 5160 and compatibles (3 x 10, 2.625 x 1 in).
* ``a4-21``: A4, Avery L7160 and compatibles (3 x 7, 63.5 x 38.1 mm).
* ``thermal-2x1``: one 2 x 1 in label per page (Zebra, Dymo and similar printers).
* ``thermal-62mm``: one 62 x 29 mm label per page; fits 62 mm continuous tape and the
  62 x 29 mm die-cut labels of Brother QL printers.
"""

from __future__ import annotations

import msgspec
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import inch, mm

__all__ = ["LAYOUTS", "Box", "Layout", "cell_box", "get_layout"]


class Box(msgspec.Struct, frozen=True, kw_only=True):
    """A rectangle in points; ``x``, ``y`` is its lower-left corner (PDF convention)."""

    x: float
    y: float
    width: float
    height: float


class Layout(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of label stock. Lengths in points; rows are counted from the top."""

    name: str
    description: str
    page_width: float
    page_height: float
    columns: int
    rows: int
    label_width: float
    label_height: float
    #: Distance from the page's top edge to the first row's top edge.
    top: float
    #: Distance from the page's left edge to the first column's left edge.
    left: float
    column_gap: float = 0.0
    row_gap: float = 0.0
    #: Blank border kept inside each label. Sheet printers feed a millimetre or two
    #: off, so sheets keep more than thermal printers, which register to the label.
    inset: float = 1.5 * mm

    @property
    def per_page(self) -> int:
        """Number of labels on one page."""
        return self.columns * self.rows


def _layouts() -> dict[str, Layout]:
    letter_w, letter_h = LETTER
    a4_w, a4_h = A4
    items = [
        Layout(
            name="letter-30",
            description="US Letter sheet, 30 labels 2.625 x 1 in (Avery 5160)",
            page_width=letter_w,
            page_height=letter_h,
            columns=3,
            rows=10,
            label_width=2.625 * inch,
            label_height=1 * inch,
            top=0.5 * inch,
            left=0.1875 * inch,
            column_gap=0.125 * inch,
        ),
        Layout(
            name="a4-21",
            description="A4 sheet, 21 labels 63.5 x 38.1 mm (Avery L7160)",
            page_width=a4_w,
            page_height=a4_h,
            columns=3,
            rows=7,
            label_width=63.5 * mm,
            label_height=38.1 * mm,
            top=15.15 * mm,
            left=7.2 * mm,
            column_gap=2.5 * mm,
        ),
        Layout(
            name="thermal-2x1",
            description="Thermal printer, one 2 x 1 in label per page",
            page_width=2 * inch,
            page_height=1 * inch,
            columns=1,
            rows=1,
            label_width=2 * inch,
            label_height=1 * inch,
            top=0.0,
            left=0.0,
            inset=1.0 * mm,
        ),
        Layout(
            name="thermal-62mm",
            description="Thermal printer, 62 mm tape, one 62 x 29 mm label per page",
            page_width=62 * mm,
            page_height=29 * mm,
            columns=1,
            rows=1,
            label_width=62 * mm,
            label_height=29 * mm,
            top=0.0,
            left=0.0,
            inset=1.0 * mm,
        ),
    ]
    return {layout.name: layout for layout in items}


#: Every supported layout by name; ``letter-30`` is the default of the CLI.
LAYOUTS: dict[str, Layout] = _layouts()


def get_layout(name: str) -> Layout:
    """Return the layout called ``name`` or raise ``ValueError`` listing the known ones."""
    try:
        return LAYOUTS[name]
    except KeyError:
        known = ", ".join(sorted(LAYOUTS))
        raise ValueError(f"Unknown label layout {name!r}; choose one of: {known}.") from None


def cell_box(layout: Layout, position: int) -> Box:
    """Where the label at ``position`` (0-based, row by row from the top left) sits."""
    if not 0 <= position < layout.per_page:
        raise ValueError(f"Position {position} is not on a {layout.name} page.")
    row, column = divmod(position, layout.columns)
    x = layout.left + column * (layout.label_width + layout.column_gap)
    top = layout.top + row * (layout.label_height + layout.row_gap)
    y = layout.page_height - top - layout.label_height
    return Box(x=x, y=y, width=layout.label_width, height=layout.label_height)
