"""The printable audit report (reportlab): summary and status, items, then the logs.

Every page carries the chain head (seq and hash) the report was made against and the
generation time, so a printed page can be matched to the record it came from. Text
uses the built-in PDF fonts; characters they cannot show print as "?" (see
api.labels.text.printable) rather than vanish.
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from typing import IO, Any
from uuid import UUID
from xml.sax.saxutils import escape

import asyncpg
import msgspec
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Image,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from api.labels.text import printable
from api.reports import LOGS, PDF_ITEM_CAP, PDF_ROW_CAP, PDF_THUMB_CAP, ReportMeta
from api.sql import q
from verifier import codes
from verifier.rules import CLEARABLE_CLASSES

__all__ = ["PdfData", "collect", "render_pdf"]

_PAGE = landscape(A4)
_STATUS_COLOURS = {
    "FIREARM-FREE": colors.HexColor("#1b7f3b"),
    "AT RISK": colors.HexColor("#b26a00"),
    "NOT FIREARM-FREE": colors.HexColor("#b00020"),
}
_THUMB = 22 * mm


class PdfData(msgspec.Struct, kw_only=True):
    """Everything the PDF shows, bounded by the PDF caps."""

    meta: ReportMeta
    items: list[dict[str, Any]]
    logs: dict[str, list[dict[str, Any]]]
    thumbs: dict[str, bytes]
    #: Tables with more rows than the PDF lists.
    cut: list[str]


async def collect(
    conn: asyncpg.Connection,
    store: Any,
    production_id: UUID,
    frm: datetime,
    to: datetime,
    meta: ReportMeta,
) -> PdfData:
    """Read the rows the PDF shows (caller's transaction) and fetch the thumbnails."""
    cut: list[str] = []
    rows = await conn.fetch(q("report_items"), production_id, to, PDF_ITEM_CAP + 1)
    if len(rows) > PDF_ITEM_CAP:
        cut.append("items")
    items = [dict(r.items()) for r in rows[:PDF_ITEM_CAP]]
    logs: dict[str, list[dict[str, Any]]] = {}
    for name, query in LOGS:
        rows = await conn.fetch(q(query), production_id, frm, to, PDF_ROW_CAP + 1)
        if len(rows) > PDF_ROW_CAP:
            cut.append(name)
        logs[name] = [dict(r.items()) for r in rows[:PDF_ROW_CAP]]
    shas = list(dict.fromkeys(i["thumb_sha"] for i in items[:PDF_THUMB_CAP] if i["thumb_sha"]))
    slots = asyncio.Semaphore(8)

    async def one(sha: str) -> tuple[str, bytes | None]:
        async with slots:
            try:
                return sha, await store.get(sha)
            except Exception:  # a missing photo must not cost the whole report
                return sha, None

    got = await asyncio.gather(*(one(s) for s in shas))
    thumbs = {sha: data for sha, data in got if data}
    return PdfData(meta=meta, items=items, logs=logs, thumbs=thumbs, cut=cut)


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_x(text), style)


#: Characters of one field that a PDF cell shows. reportlab refuses a table row taller
#: than the page (LayoutError: the whole report failed), and the API takes texts of up
#: to 5,000 characters (a correction's note, an incident's description), 30 marks of 200,
#: a correction's 50 values; the CSV and JSON reports have every character.
_CELL_CHARS = 600


def _x(text: Any) -> str:
    """Text made safe for a Paragraph's markup and the built-in fonts, cut to what a
    cell can hold."""
    out = printable("" if text is None else str(text))
    if len(out) > _CELL_CHARS:
        out = out[:_CELL_CHARS] + " … [cut: the CSV report has the whole text]"
    return escape(out)


def _lines(style: ParagraphStyle, *parts: str) -> Paragraph:
    return Paragraph("<br/>".join(p for p in parts if p), style)


_SEVERITY = {"not_firearm_free": "NOT FIREARM-FREE", "at_risk": "AT RISK"}


def _t(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _footer(meta: ReportMeta) -> Any:
    head = meta.status.chain_head
    chain = f"chain head seq {head.seq}  sha256 {head.hash}" if head else "chain head: none"
    made = meta.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    name = printable(meta.production_name)[:60]

    def draw(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#444444"))
        y = 8 * mm
        canvas.drawString(doc.leftMargin, y, f"propcheck audit report · {name} · generated {made}")
        canvas.drawRightString(_PAGE[0] - doc.rightMargin, y, f"page {doc.page}")
        canvas.drawString(doc.leftMargin, y - 3.2 * mm, chain)
        canvas.restoreState()

    return draw


def _table(header: list[str], rows: list[list[Any]], widths: list[float]) -> LongTable:
    t = LongTable([header, *rows], colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7.5),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 7),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def render_pdf(data: PdfData, out: IO[bytes]) -> None:
    """Lay out the report into ``out`` (CPU-bound: run it off the event loop)."""
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=7, leading=8.5)
    meta = data.meta
    status = meta.status
    names = {i["id"]: i["name"] for i in data.items}
    story: list[Any] = [
        _p(f"Audit report: {meta.production_name}", styles["Title"]),
        _p(
            f"Period {_t(meta.range_from)} to {_t(meta.range_to)} · generated "
            f"{_t(meta.generated_at)} by {meta.generated_by}",
            styles["Normal"],
        ),
        Spacer(1, 5 * mm),
    ]
    colour = _STATUS_COLOURS[status.status]
    big = ParagraphStyle("status", parent=styles["Title"], textColor=colour, fontSize=26)
    story += [Paragraph(status.status, big), Spacer(1, 3 * mm)]
    if status.reasons:
        rows = []
        for r in status.reasons:
            listed = ", ".join(printable(names.get(i, str(i)))[:40] for i in r.item_ids[:8])
            more = " …" if r.item_ids and r.count > min(len(r.item_ids), 8) else ""
            rows.append(
                [
                    _SEVERITY[r.severity],
                    _p(r.message, small),
                    str(r.count),
                    _p(listed + more, small),
                ]
            )
        story.append(
            _table(
                ["severity", "reason", "count", "items"],
                rows,
                [38 * mm, 110 * mm, 15 * mm, 110 * mm],
            )
        )
    else:
        story.append(
            _p(
                "No reason applies: no restricted item, no open incident, nothing overdue.",
                styles["Normal"],
            )
        )
    story.append(Spacer(1, 5 * mm))
    counts = [
        [
            name,
            str(len(data.logs[name]))
            + (" (PDF lists the first ones; see CSV)" if name in data.cut else ""),
        ]
        for name, _ in LOGS
    ]
    counts.insert(
        0,
        [
            "items",
            str(len(data.items))
            + (" (PDF lists the first ones; see CSV)" if "items" in data.cut else ""),
        ],
    )
    story.append(_table(["table", "rows in this report"], counts, [40 * mm, 120 * mm]))

    story += [PageBreak(), _p("Items", styles["Heading1"])]
    item_rows = []
    for n, i in enumerate(data.items):
        thumb: Any = ""
        blob = data.thumbs.get(i["thumb_sha"] or "") if n < PDF_THUMB_CAP else None
        if blob:
            img = Image(io.BytesIO(blob))
            scale = _THUMB / max(img.imageWidth, img.imageHeight)
            img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
            thumb = img
        code = codes.format_code(i["tag_code"]) if i["tag_code"] else "no active tag"
        desc = " ".join(
            x for x in (i["make"], i["model"], i["serial"] and f"s/n {i['serial']}") if x
        )
        marks = "; ".join(i["distinctive_marks"] or [])
        klass = _x(i["capability_class"].replace("_", " "))
        if i["capability_class"] not in CLEARABLE_CLASSES:
            klass = f"<b>RESTRICTED</b><br/>{klass}"
        item_rows.append(
            [
                thumb,
                _lines(small, f"<b>{_x(i['name'])}</b>", _x(desc), _x(marks)),
                Paragraph(klass, small),
                i["status"],
                code,
                _t(i["last_pass_at"]) or "never",
            ]
        )
    story.append(
        _table(
            ["photo", "item", "class", "status", "tag", "last passed inspection"],
            item_rows,
            [26 * mm, 95 * mm, 38 * mm, 22 * mm, 45 * mm, 38 * mm],
        )
    )
    for name, spec in _LOG_COLUMNS.items():
        story += [PageBreak(), _p(name.capitalize(), styles["Heading1"])]
        rows = [[_p(_t(row[c]), small) for c, _, _ in spec] for row in data.logs[name]]
        if not rows:
            story.append(_p("None in this period.", styles["Normal"]))
            continue
        story.append(_table([h for _, h, _ in spec], rows, [w * mm for _, _, w in spec]))
    doc = SimpleDocTemplate(
        out,
        pagesize=_PAGE,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=16 * mm,
        title=printable(f"propcheck audit report: {meta.production_name}"),
        author="propcheck",
    )
    footer = _footer(meta)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


# Columns of each log in the PDF: (field, heading, width in mm); the page is 273 mm wide.
_LOG_COLUMNS: dict[str, list[tuple[str, str, float]]] = {
    "verifications": [
        ("created_at", "time", 36),
        ("verdict", "verdict", 18),
        ("reasons", "reasons", 55),
        ("purpose", "purpose", 18),
        ("handoff_to", "to", 24),
        ("item_name", "item", 45),
        ("code_scanned", "code", 35),
        ("actor", "by", 30),
        ("confirmed_match", "match", 12),
    ],
    "handoffs": [
        ("out_at", "out", 36),
        ("item_name", "item", 55),
        ("performer", "performer", 35),
        ("scene", "scene", 15),
        ("take", "take", 12),
        ("out_by", "by", 40),
        ("in_at", "in", 36),
        ("in_by", "taken back by", 40),
    ],
    "inspections": [
        ("created_at", "time", 36),
        ("item_name", "item", 60),
        ("kind", "kind", 25),
        ("result", "result", 15),
        ("notes", "notes", 90),
        ("actor", "by", 45),
    ],
    "incidents": [
        ("created_at", "time", 36),
        ("kind", "kind", 32),
        ("item_name", "item", 40),
        ("description", "description", 60),
        ("actor", "by", 30),
        ("resolved_at", "resolved", 36),
        ("resolution_notes", "resolution", 38),
    ],
    # The correction beside the original it corrects: the original is never changed.
    "corrections": [
        ("at", "time", 32),
        ("seq", "event", 12),
        ("actor", "by", 30),
        ("note", "what was wrong, what is right", 64),
        ("corrected_values", "corrected values", 35),
        ("corrects_seq", "corrects event", 14),
        ("corrects_kind", "of kind", 22),
        ("corrects_at", "made", 32),
        ("corrects_actor", "made by", 32),
    ],
}
