"""Text on a label: the class banner and lines that always fit their box.

The banner must not be misread in a hurry, on a monochrome thermal print, by someone
who is colour-blind: the two kinds differ in words, in fill and in shape.

* Clearable classes: black words (NON-FIRING or DEACTIVATED) on white, thin border.
* Restricted classes: white bold words RESTRICTED — ARMORER ONLY on a solid black
  bar, a warning triangle at its left end and hazard hatching at its right end.
"""

from __future__ import annotations

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from api.labels.layouts import Box

__all__ = [
    "BANNER_WORDS",
    "RESTRICTED_TEXT",
    "draw_banner",
    "fit_line",
    "is_restricted",
    "printable",
    "wrap_lines",
]

BOLD = "Helvetica-Bold"
RESTRICTED_TEXT = "RESTRICTED — ARMORER ONLY"
_RESTRICTED_LINES = ("RESTRICTED", "ARMORER ONLY")
#: Banner words per capability class (verifier.rules.CLASSES).
BANNER_WORDS: dict[str, str] = {
    "non_firing_replica": "NON-FIRING",
    "non_firing_mechanical": "NON-FIRING",
    "deactivated": "DEACTIVATED",
    "airsoft_projectile": RESTRICTED_TEXT,
    "blank_firing": RESTRICTED_TEXT,
    "functional_firearm": RESTRICTED_TEXT,
}
_ELLIPSIS = "…"


def is_restricted(capability_class: str) -> bool:
    """True for the classes that get the RESTRICTED banner."""
    return BANNER_WORDS[capability_class] == RESTRICTED_TEXT


def printable(text: str) -> str:
    """``text`` on one line, limited to what the PDF's standard fonts can show.

    The built-in PDF fonts cover Windows-1252 only; anything else would print as a
    blank or a box, so it becomes ``?`` and the reader sees something is missing.
    """
    flat = " ".join(text.split())
    return "".join(ch if ch.isprintable() and ch.encode("cp1252", "ignore") else "?" for ch in flat)


def fit_line(text: str, font: str, size: float, width: float) -> str:
    """``text`` as is when it fits ``width``, else its longest prefix plus an ellipsis."""
    if stringWidth(text, font, size) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix whose truncated form fits
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid].rstrip() + _ELLIPSIS, font, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + _ELLIPSIS if lo else ""


def wrap_lines(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Word-wrap ``text`` into at most ``max_lines`` lines; the last one is truncated."""
    lines: list[str] = []
    rest = text
    while rest and len(lines) < max_lines - 1:
        words = rest.split(" ")
        taken = 0
        while taken < len(words) and (
            stringWidth(" ".join(words[: taken + 1]), font, size) <= width
        ):
            taken += 1
        if taken == 0:  # a single word wider than the line: cut it on the last line
            break
        lines.append(" ".join(words[:taken]))
        rest = " ".join(words[taken:])
    if rest:
        lines.append(fit_line(rest, font, size, width))
    return lines


def draw_banner(canvas: Canvas, capability_class: str, box: Box, size: float) -> None:
    """Draw the class banner filling ``box``; ``size`` is the largest font size to use."""
    canvas.saveState()
    if is_restricted(capability_class):
        _draw_restricted(canvas, box, size)
    else:
        words = BANNER_WORDS[capability_class]
        canvas.setLineWidth(0.6)
        canvas.setStrokeGray(0)
        canvas.rect(box.x, box.y, box.width, box.height, stroke=1, fill=0)
        size = min(size, _size_to_fit(words, box.width - box.height * 0.5))
        canvas.setFillGray(0)
        canvas.setFont(BOLD, size)
        canvas.drawCentredString(
            box.x + box.width / 2, box.y + (box.height - size * 0.7) / 2, words
        )
    canvas.restoreState()


def _size_to_fit(text: str, width: float) -> float:
    return width / max(stringWidth(text, BOLD, 1.0), 1e-6)


def _draw_restricted(canvas: Canvas, box: Box, size: float) -> None:
    canvas.setFillGray(0)
    canvas.rect(box.x, box.y, box.width, box.height, stroke=0, fill=1)
    pad = box.height * 0.12
    tri = box.height - 2 * pad  # warning triangle's height, at the left end
    _warning_triangle(canvas, box.x + pad, box.y + pad, tri)
    hatch = min(box.height * 0.9, box.width * 0.12)
    _hatch(canvas, Box(x=box.x + box.width - hatch, y=box.y, width=hatch, height=box.height))
    left = box.x + 2 * pad + tri * 1.15
    width = box.x + box.width - hatch - pad - left
    canvas.setFillGray(1)
    one = min(size, _size_to_fit(RESTRICTED_TEXT, width))
    if one >= size * 0.8:
        canvas.setFont(BOLD, one)
        canvas.drawString(left, box.y + (box.height - one * 0.7) / 2, RESTRICTED_TEXT)
        return
    # Two lines; the em dash only joins the halves on one line.
    two = min(size * 0.85, box.height / 2.3, *(_size_to_fit(t, width) for t in _RESTRICTED_LINES))
    gap = (box.height - 2 * two * 0.7) / 3
    canvas.setFont(BOLD, two)
    canvas.drawString(left, box.y + 2 * gap + two * 0.7, _RESTRICTED_LINES[0])
    canvas.drawString(left, box.y + gap, _RESTRICTED_LINES[1])


def _warning_triangle(canvas: Canvas, x: float, y: float, height: float) -> None:
    """A white triangle with a black exclamation mark (ISO 7010 W001 shape)."""
    side = height * 1.155
    path = canvas.beginPath()
    path.moveTo(x, y)
    path.lineTo(x + side, y)
    path.lineTo(x + side / 2, y + height)
    path.close()
    canvas.setFillGray(1)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.setFillGray(0)
    bar = side * 0.11
    cx = x + side / 2
    canvas.rect(cx - bar / 2, y + height * 0.32, bar, height * 0.38, stroke=0, fill=1)
    canvas.rect(cx - bar / 2, y + height * 0.12, bar, bar, stroke=0, fill=1)


def _hatch(canvas: Canvas, box: Box) -> None:
    """White diagonal stripes, like hazard tape, clipped to ``box``."""
    canvas.saveState()
    clip = canvas.beginPath()
    clip.rect(box.x, box.y, box.width, box.height)
    canvas.clipPath(clip, stroke=0, fill=0)
    canvas.setFillGray(1)
    step = box.height / 2.5
    stripes = canvas.beginPath()
    x = box.x - box.height
    while x < box.x + box.width:
        stripes.moveTo(x, box.y)
        stripes.lineTo(x + step / 2, box.y)
        stripes.lineTo(x + step / 2 + box.height, box.y + box.height)
        stripes.lineTo(x + box.height, box.y + box.height)
        stripes.close()
        x += step
    canvas.drawPath(stripes, stroke=0, fill=1)
    canvas.restoreState()
