"""Render tag labels: vector PDF pages for any layout, and a PNG of a single label."""

from __future__ import annotations

import io

import msgspec
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from api.labels.geometry import LabelGeometry, label_geometry
from api.labels.layouts import Box, cell_box, get_layout
from api.labels.symbols import draw_code128, draw_qr
from api.labels.text import (
    BANNER_WORDS,
    draw_banner,
    fit_line,
    is_restricted,
    printable,
    wrap_lines,
)
from verifier.codes import format_code, parse

__all__ = ["LabelData", "render_pdf", "render_png"]

_NAME_FONT = "Helvetica-Bold"
_PRODUCTION_FONT = "Helvetica"
_CODE_FONT = "Courier-Bold"
#: Below this the text is too small to read on a prop; we truncate rather than shrink.
_MIN_UNIT = 5.0
#: An item name gets a second line only if the text stays at least this large.
_TWO_LINE_MIN_UNIT = 7.0


class LabelData(msgspec.Struct, frozen=True, kw_only=True):
    """What one label shows."""

    #: Tag code; any accepted spelling, printed in canonical form.
    code: str
    item_name: str
    production_name: str
    #: One of verifier.rules.CLASSES; decides the banner.
    capability_class: str


def render_pdf(labels: list[LabelData], layout: str, *, start_position: int = 0) -> bytes:
    """Render ``labels`` on pages of ``layout`` as a vector PDF.

    Labels fill the positions row by row; ``start_position`` skips the first positions
    of the first sheet so that a partly used sheet can be fed again. Raises
    ``ValueError`` for an unknown layout or class, an empty list or a bad position,
    and ``verifier.codes.CodeError`` for an invalid code: nothing is printed then.
    """
    spec = get_layout(layout)
    if not labels:
        raise ValueError("There are no labels to print.")
    if not 0 <= start_position < spec.per_page:
        raise ValueError(
            f"start_position must be between 0 and {spec.per_page - 1} for {spec.name}."
        )
    checked = [_checked(label) for label in labels]
    geometry = label_geometry(spec)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(spec.page_width, spec.page_height), invariant=True)
    canvas.setTitle("propcheck tag labels")
    canvas.setCreator("propcheck")
    canvas.setSubject(spec.description)
    position = start_position
    for index, label in enumerate(checked):
        if index and position == 0:
            canvas.showPage()
        _draw_label(canvas, label, cell_box(spec, position), geometry)
        position = (position + 1) % spec.per_page
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_png(label: LabelData, *, dpi: int = 300, layout: str = "thermal-2x1") -> bytes:
    """Render one label as a PNG at ``dpi``, cropped to the label.

    The one-label PDF is rasterised with pypdfium2, so the PNG is exactly what the PDF
    prints. Sheet layouts are cropped to the first label's cell.
    """
    try:
        import pypdfium2
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError("PNG labels need pypdfium2: pip install pypdfium2") from exc
    if not 30 <= dpi <= 1200:
        raise ValueError("dpi must be between 30 and 1200.")
    spec = get_layout(layout)
    document = pypdfium2.PdfDocument(render_pdf([label], layout))
    try:
        scale = dpi / 72
        image = document[0].render(scale=scale, grayscale=True).to_pil()
    finally:
        document.close()
    cell = cell_box(spec, 0)
    top = spec.page_height - cell.y - cell.height
    image = image.crop(
        (
            round(cell.x * scale),
            round(top * scale),
            round((cell.x + cell.width) * scale),
            round((top + cell.height) * scale),
        )
    )
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


def _checked(label: LabelData) -> LabelData:
    if label.capability_class not in BANNER_WORDS:
        raise ValueError(f"Unknown capability class {label.capability_class!r}.")
    return msgspec.structs.replace(
        label,
        code=parse(label.code),
        item_name=printable(label.item_name),
        production_name=printable(label.production_name),
    )


def _draw_label(canvas: Canvas, label: LabelData, cell: Box, geometry: LabelGeometry) -> None:
    canvas.saveState()
    canvas.translate(cell.x, cell.y)
    canvas.setFillGray(0)
    qr = geometry.qr
    draw_qr(canvas, label.code, qr.x, qr.y, qr.width)
    bars = geometry.barcode
    draw_code128(canvas, label.code, bars.x, bars.y, bars.width, bars.height)
    _draw_text(canvas, label, geometry.text)
    canvas.restoreState()


def _draw_text(canvas: Canvas, label: LabelData, box: Box) -> None:
    """Banner on top, then item name and production name; the code sits at the bottom."""
    grouped = format_code(label.code)
    # The RESTRICTED bar is taller: it is the warning that matters, and often needs
    # two lines on a narrow label.
    banner = 2.1 if is_restricted(label.capability_class) else 1.6
    unit, names, code_lines = _plan_text(label.item_name, grouped, box, banner)
    banner_h = unit * banner
    top = box.y + box.height
    draw_banner(
        canvas,
        label.capability_class,
        Box(x=box.x, y=top - banner_h, width=box.width, height=banner_h),
        unit,
    )
    canvas.setFillGray(0)
    baseline = top - banner_h - unit * 0.45 - unit * 1.05 * 0.85
    canvas.setFont(_NAME_FONT, unit * 1.05)
    for line in names:
        canvas.drawString(box.x, baseline, line)
        baseline -= unit * 1.05 * 1.15
    canvas.setFont(_PRODUCTION_FONT, unit * 0.85)
    production = fit_line(label.production_name, _PRODUCTION_FONT, unit * 0.85, box.width)
    canvas.drawString(box.x, baseline + unit * 0.1, production)
    canvas.setFont(_CODE_FONT, unit)
    baseline = box.y + unit * 0.2 + (len(code_lines) - 1) * unit * 1.1
    for line in code_lines:
        canvas.drawString(box.x, baseline, line)  # never truncated: sizes guarantee a fit
        baseline -= unit * 1.1


def _plan_text(
    name: str, grouped: str, box: Box, banner: float
) -> tuple[float, list[str], list[str]]:
    """Pick one size unit for all the text so that it fits ``box``.

    A long item name gets a second line while the unit stays readable; below that it
    is cut to one line with an ellipsis, and only then does everything shrink further.
    """
    halves = [grouped[:12], grouped[13:]]  # PC-XXXX-XXXX / XXXX-XXXX-XC
    for max_names, floor in ((2, _TWO_LINE_MIN_UNIT), (1, _MIN_UNIT)):
        unit = box.height / 5
        while True:
            names = wrap_lines(name, _NAME_FONT, unit * 1.05, box.width, max_names)
            code = [grouped] if _fits(grouped, _CODE_FONT, unit, box.width) else halves
            needed = unit * (banner + 0.45 + 1.2075 * len(names) + 1.02 + 0.3 + 1.1 * len(code))
            if needed <= box.height:
                return unit, names, code
            if unit <= floor:
                break
            unit = max(unit * 0.95, floor)
    return unit, names, code  # the smallest sizes, even if the box is too small


def _fits(text: str, font: str, size: float, width: float) -> bool:
    return stringWidth(text, font, size) <= width
