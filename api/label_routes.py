"""Printing tag labels: choose the tags, render them, and record who printed what.

Every printable copy of a tag is accounted for: each label rendered (PDF sheet, thermal
label or single PNG) appends a ``tag.printed`` event with who, when and the layout, and
sets the tag's ``first_printed_at`` once, so a production can list its never-printed tags.

Rendering takes about 3 ms a label and runs before the recording transaction: the event
chain of a production is locked from the first append until commit, and verifications
append to the same chain, so a scan never waits for a sheet being drawn. A tag revoked
or re-issued while its label was being drawn makes the recording fail (409) and nothing
is returned.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.params import Parameter

from api.auth import Perm, Principal
from api.events import append
from api.labels import LabelData, get_layout, render_pdf, render_png
from api.sql import q
from api.state import AUTHED, services
from api.uploads import run_image_job

__all__ = [
    "MAX_LABELS",
    "LabelController",
    "LabelError",
    "LabelRequest",
    "PrintedLabels",
    "Render",
    "print_labels",
    "print_labels_to_file",
]

#: Labels per request: about 3 s of rendering; a larger run is split into batches.
MAX_LABELS = 1000


class LabelRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which labels to print, and on what stock.

    Unknown fields are refused: a misspelt ``item_ids`` must not print every tag.
    """

    #: Items to print, in this order; ``null`` means every active tag of the production.
    item_ids: Annotated[list[UUID], msgspec.Meta(max_length=MAX_LABELS)] | None = None
    #: One of api.labels.LAYOUTS: letter-30, a4-21, thermal-2x1, thermal-62mm.
    layout: Annotated[str, msgspec.Meta(max_length=40)] = "letter-30"
    #: Leave out tags that were printed before.
    only_unprinted: bool = False
    #: Positions of the first sheet already used (0 = start at the top left).
    start_position: int = 0


class PrintedLabels(msgspec.Struct, frozen=True, kw_only=True):
    """A rendered, recorded print run."""

    data: bytes
    layout: str
    codes: list[str]
    pages: int
    production_name: str


class LabelError(Exception):
    """A print request that cannot be served; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _Selected(msgspec.Struct, frozen=True, kw_only=True):
    tag_id: UUID
    item_id: UUID
    label: LabelData


#: Renders labels on a layout from a start position; the API runs it in its worker pool.
Render = Callable[[list[LabelData], str, int], Awaitable[bytes]]


def _label(row: asyncpg.Record) -> _Selected:
    return _Selected(
        tag_id=row["tag_id"],
        item_id=row["item_id"],
        label=LabelData(
            code=row["code"],
            item_name=row["item_name"],
            production_name=row["production_name"],
            capability_class=row["capability_class"],
        ),
    )


async def _select(
    conn: asyncpg.Connection, production_id: UUID, request: LabelRequest
) -> list[_Selected]:
    if request.item_ids is None:
        rows = await conn.fetch(
            q("label_tags_of_production"), production_id, request.only_unprinted, MAX_LABELS + 1
        )
        if not rows:
            if request.only_unprinted:
                raise LabelError("Nothing to print: every active tag has been printed already.")
            raise LabelError("Nothing to print: this production has no active tags.")
        if len(rows) > MAX_LABELS:
            raise LabelError(f"More than {MAX_LABELS} labels: print them in batches with item_ids.")
        return [_label(r) for r in rows]
    asked = list(dict.fromkeys(request.item_ids))  # one label per item, in the order asked
    if not asked:
        raise LabelError("Nothing to print: item_ids is empty.")
    rows = await conn.fetch(q("label_items"), production_id, asked)
    found = {r["item_id"] for r in rows}
    missing = [str(i) for i in asked if i not in found]
    if missing:
        # The same answer whether the item does not exist or is in another production.
        raise LabelError(f"Not in this production: {', '.join(missing)}.", status=404)
    untagged = [f"{r['item_name']!r} ({r['item_id']})" for r in rows if r["tag_id"] is None]
    if untagged:
        raise LabelError(
            f"No active tag, issue one first: {', '.join(untagged)}.",
        )
    if request.only_unprinted:
        rows = [r for r in rows if r["first_printed_at"] is None]
        if not rows:
            raise LabelError("Nothing to print: these items' tags have been printed already.")
    return [_label(r) for r in rows]


async def _record(
    conn: asyncpg.Connection,
    production_id: UUID,
    selected: list[_Selected],
    *,
    layout: str,
    fmt: str,
    actor: str,
) -> None:
    """Record the printing of ``selected`` (in one transaction, after rendering)."""
    async with conn.transaction():
        tag_ids = [s.tag_id for s in selected]
        await conn.fetch(q("lock_tag_items"), tag_ids)
        still_active = {r["id"] for r in await conn.fetch(q("mark_tags_printed"), tag_ids)}
        if len(still_active) != len(set(tag_ids)):
            raise LabelError(
                "A tag was revoked or replaced while its label was being made; print again.",
                status=409,
            )
        for s in selected:
            await append(
                conn,
                production_id,
                "tag.printed",
                actor,
                s.item_id,
                {"tag_id": s.tag_id, "code": s.label.code, "layout": layout, "format": fmt},
            )


async def print_labels(
    conn: asyncpg.Connection,
    production_id: UUID,
    request: LabelRequest,
    *,
    actor: str,
    render: Render,
) -> PrintedLabels:
    """Select, render and record a print run of one production's labels as a PDF.

    The caller has checked access. Raises :class:`LabelError` for a request that
    cannot be printed; then nothing is recorded.
    """
    try:
        spec = get_layout(request.layout)
    except ValueError as exc:
        raise LabelError(str(exc)) from None
    if not 0 <= request.start_position < spec.per_page:
        raise LabelError(
            f"start_position must be between 0 and {spec.per_page - 1} for {spec.name}."
        )
    status = await conn.fetchval(q("production_status"), production_id)
    if status is None:
        raise LabelError("No such production.", status=404)
    if status != "active":
        raise LabelError("This production is archived: its tags no longer verify.")
    selected = await _select(conn, production_id, request)
    labels = [s.label for s in selected]
    try:
        data = await render(labels, spec.name, request.start_position)
    except ValueError as exc:  # e.g. a stored code that fails its check: print nothing
        raise LabelError(f"Cannot print these labels: {exc}") from None
    await _record(conn, production_id, selected, layout=spec.name, fmt="pdf", actor=actor)
    pages = -(-(request.start_position + len(labels)) // spec.per_page)
    return PrintedLabels(
        data=data,
        layout=spec.name,
        codes=[label.code for label in labels],
        pages=pages,
        production_name=labels[0].production_name,
    )


async def _render_here(labels: list[LabelData], layout: str, start_position: int) -> bytes:
    return render_pdf(labels, layout, start_position=start_position)


async def print_labels_to_file(
    dsn: str, production_id: UUID, request: LabelRequest, out: Path, *, actor: str = "cli"
) -> PrintedLabels:
    """The CLI's print run: connect as the application role, print, write ``out``.

    The file is written after the printing is recorded, so a failed run leaves no
    unrecorded labels behind.
    """
    from api.seed import app_connection

    if not out.parent.is_dir():
        raise LabelError(f"No such folder: {out.parent}")
    conn = await app_connection(dsn)
    try:
        printed = await print_labels(conn, production_id, request, actor=actor, render=_render_here)
    finally:
        await conn.close()
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(printed.data)
    tmp.replace(out)
    return printed


def _http(exc: LabelError) -> HTTPException:
    if exc.status == 404:
        return NotFoundException(str(exc))
    if exc.status == 400:
        return ClientException(str(exc))
    return HTTPException(status_code=exc.status, detail=str(exc))


class LabelController(Controller):
    """Printable tag labels (prop master)."""

    path = "/api/v1"
    tags = ["labels"]
    dependencies = AUTHED

    @post("/productions/{production_id:uuid}/labels", operation_id="printLabels", status_code=200)
    async def print_sheet(
        self,
        production_id: UUID,
        data: LabelRequest,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
    ) -> Response[bytes]:
        """Labels as a vector PDF for printing; each printed tag is recorded.

        Without ``item_ids``: every active tag of the production (with
        ``only_unprinted``, those never printed). Layouts: letter-30 (Avery 5160),
        a4-21 (L7160), thermal-2x1, thermal-62mm.
        """
        principal.require(production_id, Perm.ACT)
        svc = services(state)

        async def render(labels: list[LabelData], layout: str, start: int) -> bytes:
            job = functools.partial(render_pdf, start_position=start)
            return await run_image_job(svc, job, labels, layout)

        try:
            printed = await print_labels(
                conn, production_id, data, actor=principal.actor, render=render
            )
        except LabelError as exc:
            raise _http(exc) from None
        return Response(
            printed.data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="tags-{printed.layout}.pdf"',
                "Cache-Control": "no-store",
                "X-Label-Count": str(len(printed.codes)),
            },
        )

    @get("/items/{item_id:uuid}/label.png", operation_id="itemLabelPng")
    async def label_png(
        self,
        item_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        layout: Annotated[str, Parameter(max_length=40)] = "thermal-2x1",
    ) -> Response[bytes]:
        """The item's label as a 300 dpi PNG, cropped to one label; recorded as printed."""
        row = await conn.fetchrow(q("label_item"), item_id)
        if row is None or not principal.perms(row["production_id"]):
            raise NotFoundException("Not found.")
        production_id: UUID = row["production_id"]
        principal.require(production_id, Perm.ACT)
        try:
            spec = get_layout(layout)
        except ValueError as exc:
            raise ClientException(str(exc)) from None
        if row["production_status"] != "active":
            raise ClientException("This production is archived: its tags no longer verify.")
        if row["tag_id"] is None:
            raise ClientException("This item has no active tag; issue one first.")
        selected = _label(row)
        job = functools.partial(render_png, dpi=300, layout=spec.name)
        try:
            png = await run_image_job(services(state), job, selected.label)
        except ValueError as exc:
            raise ClientException(f"Cannot print this label: {exc}") from None
        try:
            await _record(
                conn, production_id, [selected], layout=spec.name, fmt="png", actor=principal.actor
            )
        except LabelError as exc:
            raise _http(exc) from None
        return Response(
            png,
            media_type="image/png",
            headers={
                "Content-Disposition": 'inline; filename="label.png"',
                "Cache-Control": "no-store",
            },
        )
