"""Audit reports of a production for a date range: CSV (zip), JSON, or a printable PDF.

Everything in one report comes from one REPEATABLE READ snapshot, so the status, the
logs and the chain head printed on it describe the same moment. Rows come through a
server-side cursor and go straight into a temporary file (memory up to a few MB, then
disk); the database connection is released before the download starts. The range is
bounded (MAX_RANGE_DAYS) and so is every table (caps below; the report says when a
table was cut, and the PDF points to the CSV for the rest).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import IO, Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.exceptions import ClientException
from litestar.params import Parameter
from litestar.response import Stream

from api.auth import Perm, Principal
from api.custody import production_zone
from api.sql import q
from api.state import AUTHED, services
from api.status import ProductionStatus, production_status

__all__ = [
    "LOGS",
    "MAX_RANGE_DAYS",
    "ReportController",
    "ReportMeta",
    "parse_range",
]

MAX_RANGE_DAYS = 400
_DEFAULT_DAYS = 31
#: Rows per table in CSV and JSON reports.
ROW_CAP = 200_000
#: The PDF is for reading and printing: it lists fewer rows.
PDF_ITEM_CAP = 2_000
PDF_THUMB_CAP = 500
PDF_ROW_CAP = 2_000
_BATCH = 5_000
_SPOOL = 8 * 1024 * 1024

#: The logs of a report, in order: (name, query).
LOGS: tuple[tuple[str, str], ...] = (
    ("verifications", "report_verifications"),
    ("handoffs", "report_handoffs"),
    ("inspections", "report_inspections"),
    ("incidents", "report_incidents"),
    ("corrections", "report_corrections"),
)

Format = Literal["csv", "json", "pdf"]


class ReportMeta(msgspec.Struct, frozen=True, kw_only=True):
    """What a report covers and when it was made."""

    production_id: UUID
    production_name: str
    range_from: datetime
    range_to: datetime
    generated_at: datetime
    generated_by: str
    status: ProductionStatus
    #: Tables that hit their row cap (the rest is in a narrower range's report).
    truncated: list[str] = msgspec.field(default_factory=list)


def _when(text: str | None, name: str, zone: tzinfo) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ClientException(f"{name} is not an ISO date or date-time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=zone)


def parse_range(
    start: str | None,
    end: str | None,
    now: datetime,
    created_at: datetime,
    timezone: str = "UTC",
) -> tuple[datetime, datetime]:
    """The report's [from, to) range: defaults, order, and the MAX_RANGE_DAYS bound.

    A date or time without a zone is the production's local time (a set's day is its
    own, not UTC's); a bare date as ``to`` includes that whole day.
    """
    zone = production_zone(timezone)
    to = _when(end, "to", zone) or now
    try:
        if end and re.fullmatch(r"\d{4}-\d{2}-\d{2}", end):
            to += timedelta(days=1)
        frm = _when(start, "from", zone) or max(created_at, to - timedelta(days=_DEFAULT_DAYS))
    except OverflowError:  # a date at the end (or start) of the calendar
        raise ClientException("The report's dates are out of range.") from None
    if frm >= to:
        raise ClientException("'from' must be before 'to'.")
    if to - frm > timedelta(days=MAX_RANGE_DAYS):
        raise ClientException(f"A report covers at most {MAX_RANGE_DAYS} days.")
    return frm, to


async def _open(
    conn: asyncpg.Connection, query: str, *args: Any
) -> tuple[list[str], AsyncIterator[list[asyncpg.Record]]]:
    """A query's column names (for a CSV header even when it has no rows) and batches."""
    stmt = await conn.prepare(q(query))
    columns = [a.name for a in stmt.get_attributes()]
    cursor = await stmt.cursor(*args)

    async def batches() -> AsyncIterator[list[asyncpg.Record]]:
        while rows := await cursor.fetch(_BATCH):
            yield rows

    return columns, batches()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in _FORMULA_START:
        # An item named "=HYPERLINK(...)" would run as a formula when an auditor opens
        # the CSV in a spreadsheet (OWASP: CSV injection); the JSON report is verbatim.
        return "'" + value
    return str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Sink:
    """Where the rows of one report go: a CSV zip or a JSON document."""

    def __init__(self, fmt: Format, out: IO[bytes]) -> None:
        self.fmt = fmt
        self.out = out
        self.zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) if fmt == "csv" else None
        self._enc = msgspec.json.Encoder()
        self._first = True
        if fmt == "json":
            out.write(b"{")

    async def table(
        self,
        name: str,
        table: tuple[list[str], AsyncIterator[list[asyncpg.Record]]],
        cap: int,
    ) -> bool:
        """Write one table; True when it hit ``cap`` (the query fetched cap + 1)."""
        columns, rows = table
        count = 0
        truncated = False
        if self.zip is not None:
            with self.zip.open(f"{name}.csv", "w") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(columns)
                async for batch in rows:
                    for r in batch:
                        if count == cap:
                            truncated = True
                            break
                        writer.writerow([_cell(v) for v in r.values()])
                        count += 1
                text.flush()
                text.detach()
            return truncated
        self._key(name)
        self.out.write(b"[")
        async for batch in rows:
            for r in batch:
                if count == cap:
                    truncated = True
                    break
                if count:
                    self.out.write(b",")
                self.out.write(self._enc.encode(dict(r.items())))
                count += 1
        self.out.write(b"]")
        return truncated

    def _key(self, name: str) -> None:
        if not self._first:
            self.out.write(b",")
        self._first = False
        self.out.write(self._enc.encode(name) + b":")

    def close(self, meta: ReportMeta) -> None:
        """Finish the document with what it covers (written last: it knows the cuts)."""
        if self.zip is not None:
            self.zip.writestr("report.json", msgspec.json.format(msgspec.json.encode(meta)))
            self.zip.close()
        else:
            self._key("report")
            self.out.write(self._enc.encode(meta))
            self.out.write(b"}")


async def _write_tables(
    conn: asyncpg.Connection,
    fmt: Format,
    out: IO[bytes],
    production_id: UUID,
    frm: datetime,
    to: datetime,
    meta: Callable[[list[str]], ReportMeta],
) -> None:
    sink = _Sink(fmt, out)
    cut: list[str] = []
    items = await _open(conn, "report_items", production_id, to, ROW_CAP + 1)
    if await sink.table("items", items, ROW_CAP):
        cut.append("items")
    for name, query in LOGS:
        rows = await _open(conn, query, production_id, frm, to, ROW_CAP + 1)
        if await sink.table(name, rows, ROW_CAP):
            cut.append(name)
    sink.close(meta(cut))


async def _stream(f: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        f.seek(0)
        while chunk := await asyncio.to_thread(f.read, 256 * 1024):
            yield chunk
    finally:
        f.close()


def _filename(name: str, frm: datetime, to: datetime, ext: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:40] or "production"
    return f"propcheck-{slug}-{frm:%Y%m%d}-{to:%Y%m%d}.{ext}"


_MEDIA = {"csv": "application/zip", "json": "application/json", "pdf": "application/pdf"}
_EXT = {"csv": "zip", "json": "json", "pdf": "pdf"}


class ReportController(Controller):
    """Audit reports."""

    path = "/api/v1/productions/{production_id:uuid}/reports"
    tags = ["record"]
    dependencies = AUTHED

    @get("/", operation_id="productionReport")
    async def report(
        self,
        production_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        fmt: Annotated[Format, Parameter(query="format")] = "pdf",
        start: Annotated[str | None, Parameter(query="from", max_length=40)] = None,
        end: Annotated[str | None, Parameter(query="to", max_length=40)] = None,
    ) -> Response[Any]:
        """The record of a production for a date range (default: the last 31 days, at
        most 400): items, verifications, hand-offs, inspections, incidents and
        corrections (each beside the original it corrects), with the status and chain
        head. ``format`` is csv (a zip of one file per table), json or
        pdf (printable: summary and status, items with photos, then the logs)."""
        principal.require(production_id, Perm.READ)
        svc = services(state)
        out = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 - streamed, closed there
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                status = await production_status(conn, production_id)
                prod = await conn.fetchrow(q("production_created_at"), production_id)
                frm, to = parse_range(
                    start, end, status.checked_at, prod["created_at"], prod["timezone"]
                )

                def meta(cut: list[str]) -> ReportMeta:
                    return ReportMeta(
                        production_id=production_id,
                        production_name=status.name,
                        range_from=frm,
                        range_to=to,
                        generated_at=status.checked_at,
                        generated_by=principal.actor,
                        status=status,
                        truncated=cut,
                    )

                if fmt == "pdf":
                    from api.report_pdf import collect, render_pdf

                    data = await collect(conn, svc.store, production_id, frm, to, meta([]))
                else:
                    await _write_tables(conn, fmt, out, production_id, frm, to, meta)
            if fmt == "pdf":
                await asyncio.to_thread(render_pdf, data, out)
        except BaseException:
            out.close()
            raise
        name = _filename(status.name, frm, to, _EXT[fmt])
        return Stream(
            _stream(out),
            media_type=_MEDIA[fmt],
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )
