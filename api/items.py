"""The registry: items, their photos and edit history."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.params import Body, Parameter

from api.archive import refuse_if_archived
from api.auth import Perm, Principal
from api.events import append
from api.forms import json_or_multipart
from api.schemas import (
    EvidenceOut,
    HistoryEntry,
    ItemCreate,
    ItemOut,
    ItemPage,
    ItemPatch,
    ItemStatus,
    PhotoOut,
)
from api.sql import q
from api.state import AUTHED, services
from api.tags import issue_tag, tag_out
from api.uploads import photo_out, process_uploads, read_upload, save_photo
from verifier.rules import CLASSES, CLEARABLE_CLASSES

__all__ = ["ItemController", "item_production", "load_items"]

_MAX_PHOTOS = 10


class PhotoUpload(msgspec.Struct, kw_only=True):
    """Multipart form for adding a photo."""

    photo: Any
    purpose: str = "item"


async def item_production(conn: asyncpg.Connection, principal: Principal, item_id: UUID) -> UUID:
    """The item's production, if the caller can see it; else 404."""
    production_id: UUID | None = await conn.fetchval(q("item_production"), item_id)
    if production_id is None or not principal.perms(production_id):
        raise NotFoundException("Not found.")
    return production_id


def _item_out(row: asyncpg.Record, key: bytes) -> ItemOut:
    evidence = None
    if row["evidence_certificate"] is not None:
        evidence = EvidenceOut(
            certificate_number=row["evidence_certificate"],
            issuer=row["evidence_issuer"],
            date=row["evidence_date"],
            document_photo_id=row["evidence_photo_id"],
        )
    photos = [photo_out(key, p) for p in msgspec.json.decode(row["photos"])]
    tag = None
    if row["tag"] is not None:
        t = msgspec.json.decode(row["tag"])
        tag = tag_out(t)
    return ItemOut(
        id=row["id"],
        production_id=row["production_id"],
        name=row["name"],
        description=row["description"],
        capability_class=row["capability_class"],
        make=row["make"],
        model=row["model"],
        serial=row["serial"],
        distinctive_marks=list(row["distinctive_marks"]),
        keywords=list(row["keywords"]),
        status=row["status"],
        evidence=evidence,
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        photos=photos,
        tag=tag,
    )


async def load_items(conn: asyncpg.Connection, ids: list[UUID], key: bytes) -> list[ItemOut]:
    """Full views of the given items, in creation order."""
    return [_item_out(r, key) for r in await conn.fetch(q("item_views"), ids)]


def _snapshot(item: ItemOut) -> dict[str, Any]:
    """The fields of an item that an edit event records before and after."""
    fields = msgspec.to_builtins(item)
    for volatile in ("photos", "tag", "created_at", "updated_at", "version", "production_id"):
        fields.pop(volatile, None)
    return fields


def _encode_cursor(created_at: datetime, item_id: UUID) -> str:
    raw = msgspec.json.encode([created_at.isoformat(), str(item_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, item_id = msgspec.json.decode(raw, type=tuple[datetime, UUID])
    except (ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ClientException("The cursor is not valid.") from exc
    return at, item_id


def _like(text: str | None) -> str | None:
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ItemController(Controller):
    """Items of a production."""

    path = "/api/v1"
    tags = ["items"]
    dependencies = AUTHED

    @post(
        "/productions/{production_id:uuid}/items",
        operation_id="createItem",
        status_code=201,
    )
    async def create(
        self,
        production_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        request: Request[Any, Any, Any],
    ) -> ItemOut:
        """Register an item, with photos and a new tag in the same transaction.

        Send JSON (ItemCreate), or multipart/form-data with an ``item`` field holding that
        JSON and up to ten ``photos`` files (JPEG, PNG or WebP). Either everything is
        stored or nothing is.
        """
        principal.require(production_id, Perm.ACT)
        data, uploads = await json_or_multipart(
            request, ItemCreate, json_field="item", file_field="photos"
        )
        if data.capability_class == "deactivated" and data.evidence is None:
            raise ClientException(
                "A deactivated item needs its evidence: certificate number, issuer and date."
            )
        if data.evidence is not None and data.evidence.document_photo_id is not None:
            raise ClientException("Upload the evidence photo after the item exists.")
        if len(uploads) > _MAX_PHOTOS:
            raise ClientException(f"At most {_MAX_PHOTOS} photos per request.")
        svc = services(state)
        blobs = [await read_upload(u, svc) for u in uploads]
        processed = await process_uploads(svc, blobs)
        ev = data.evidence
        async with conn.transaction():
            await refuse_if_archived(conn, production_id)
            item_id = await conn.fetchval(
                q("insert_item"),
                production_id,
                data.name,
                data.description,
                data.capability_class,
                data.make,
                data.model,
                data.serial,
                data.distinctive_marks,
                data.keywords,
                data.status,
                ev.certificate_number if ev else None,
                ev.issuer if ev else None,
                ev.date if ev else None,
                principal.user_id,
            )
            saved = [
                await save_photo(
                    conn,
                    p,
                    production_id=production_id,
                    item_id=item_id,
                    purpose="item",
                    actor=principal.actor,
                )
                for p in processed
            ]
            (item,) = await load_items(conn, [item_id], svc.media_key)
            await append(
                conn,
                production_id,
                "item.registered",
                principal.actor,
                item_id,
                {
                    "item": _snapshot(item),
                    "photos": [p.id for p in item.photos],
                    # The bytes' hashes in the chain: the photos table names the blob,
                    # the record vouches for which one.
                    "photo_sha256": {str(s["id"]): s["original_sha"] for s in saved},
                },
            )
            if data.issue_tag:
                await issue_tag(conn, production_id, item_id, principal.actor)
                (item,) = await load_items(conn, [item_id], svc.media_key)
        return item

    @get("/productions/{production_id:uuid}/items", operation_id="listItems")
    async def list_items(
        self,
        production_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        text: Annotated[str | None, Parameter(query="q", max_length=200)] = None,
        capability_class: Annotated[str | None, Parameter(query="class", max_length=40)] = None,
        status: Annotated[str | None, Parameter(max_length=20)] = None,
        keyword: Annotated[str | None, Parameter(max_length=200)] = None,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> ItemPage:
        """Items of a production, filtered by text, class, status or keyword; paginated."""
        principal.require(production_id, Perm.READ)
        for value in (text, keyword):
            if value is not None and "\x00" in value:
                raise ClientException("Text filters may not contain NUL.")
        if capability_class is not None and capability_class not in CLASSES:
            raise ClientException(f"Unknown class; one of {', '.join(CLASSES)}.")
        if status is not None and status not in ItemStatus.__args__:  # type: ignore[attr-defined]
            raise ClientException("Unknown status; one of active, quarantined, missing, retired.")
        after_at, after_id = _decode_cursor(cursor) if cursor else (None, None)
        rows = await conn.fetch(
            q("list_item_ids"),
            production_id,
            _like(text),
            capability_class,
            status,
            keyword,
            after_at,
            after_id,
            limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        items = await load_items(conn, [r["id"] for r in rows], services(state).media_key)
        next_cursor = _encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
        return ItemPage(items=items, next_cursor=next_cursor)

    @get("/items/{item_id:uuid}", operation_id="getItem")
    async def show(
        self, item_id: UUID, principal: Principal, conn: asyncpg.Connection, state: State
    ) -> ItemOut:
        """One item with its photos and active tag."""
        await item_production(conn, principal, item_id)
        (item,) = await load_items(conn, [item_id], services(state).media_key)
        return item

    @patch("/items/{item_id:uuid}", operation_id="editItem")
    async def edit(
        self,
        item_id: UUID,
        data: ItemPatch,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
    ) -> ItemOut:
        """Edit an item (prop master). The record keeps who, when, before and after."""
        production_id = await item_production(conn, principal, item_id)
        principal.require(production_id, Perm.ACT)
        key = services(state).media_key
        async with conn.transaction():
            await refuse_if_archived(conn, production_id)
            row = await conn.fetchrow(q("item_for_update"), item_id)
            if row["version"] != data.version:
                raise HTTPException(
                    status_code=409,
                    detail=f"The item changed meanwhile (version {row['version']}); reload it.",
                )
            (before,) = await load_items(conn, [item_id], key)
            merged = _merge(row, data)
            if (
                row["capability_class"] not in CLEARABLE_CLASSES
                and merged["capability_class"] in CLEARABLE_CLASSES
                and merged["status"] == "active"
            ):
                # Something recorded as able to fire is now said not to: nobody hands it
                # to a performer on the strength of an edit. It is quarantined until a
                # passing inspection (after this change) says what it is.
                merged["status"] = "quarantined"
            elif row["status"] != "active" and merged["status"] == "active":
                # Only a passing inspection with no open incident puts an item back in
                # service (api/safety.py). An edit to active from any other status would
                # lift a quarantine by way of missing or retired, and a prop that was
                # missing may come back as something else: it is inspected first.
                raise HTTPException(
                    status_code=409,
                    detail=(
                        "An item returns to active only by passing an inspection: set it to "
                        "quarantined, then inspect it."
                    ),
                )
            photo_id = merged["evidence_photo_id"]
            changed_photo = photo_id is not None and photo_id != row["evidence_photo_id"]
            if changed_photo and await conn.fetchrow(q("photo_in_item"), photo_id, item_id) is None:
                raise ClientException("The evidence photo must be a photo of this item.")
            if (
                merged["capability_class"] == "deactivated"
                and merged["evidence_certificate"] is None
            ):
                raise ClientException("A deactivated item needs its evidence.")
            await conn.fetchval(
                q("update_item"),
                item_id,
                merged["name"],
                merged["description"],
                merged["capability_class"],
                merged["make"],
                merged["model"],
                merged["serial"],
                merged["distinctive_marks"],
                merged["keywords"],
                merged["status"],
                merged["evidence_certificate"],
                merged["evidence_issuer"],
                merged["evidence_date"],
                merged["evidence_photo_id"],
                data.version,
            )
            (after,) = await load_items(conn, [item_id], key)
            b, a = _snapshot(before), _snapshot(after)
            changed = sorted(k for k in a if a[k] != b.get(k))
            await append(
                conn,
                production_id,
                "item.edited",
                principal.actor,
                item_id,
                {
                    "before": {k: b.get(k) for k in changed},
                    "after": {k: a[k] for k in changed},
                    "note": data.note,
                },
            )
        return after

    @get("/items/{item_id:uuid}/history", operation_id="itemHistory")
    async def history(
        self, item_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> list[HistoryEntry]:
        """Every recorded event about the item, oldest first."""
        production_id = await item_production(conn, principal, item_id)
        rows = await conn.fetch(q("item_history"), production_id, item_id)
        return [
            HistoryEntry(
                seq=r["seq"],
                kind=r["kind"],
                actor=r["actor"],
                at=r["at"],
                body=msgspec.json.decode(r["body"]),
            )
            for r in rows
        ]

    @post("/items/{item_id:uuid}/photos", operation_id="addItemPhoto", status_code=201)
    async def add_photo(
        self,
        item_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        state: State,
        data: Annotated[PhotoUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> PhotoOut:
        """Add a photo to an item (multipart ``photo``; ``purpose`` item or evidence)."""
        production_id = await item_production(conn, principal, item_id)
        principal.require(production_id, Perm.ACT)
        if data.purpose not in ("item", "evidence"):
            raise ClientException("purpose is 'item' or 'evidence'.")
        svc = services(state)
        (processed,) = await process_uploads(svc, [await read_upload(data.photo, svc)])
        async with conn.transaction():
            await refuse_if_archived(conn, production_id)
            row = await save_photo(
                conn,
                processed,
                production_id=production_id,
                item_id=item_id,
                purpose=data.purpose,
                actor=principal.actor,
            )
            if data.purpose == "evidence":
                await conn.execute(q("set_evidence_photo"), item_id, row["id"])
            await append(
                conn,
                production_id,
                "photo.added",
                principal.actor,
                item_id,
                {"photo_id": row["id"], "purpose": data.purpose, "sha256": row["original_sha"]},
            )
        return photo_out(svc.media_key, row)


def _merge(row: asyncpg.Record, data: ItemPatch) -> dict[str, Any]:
    merged = dict(row)
    for field in (
        "name",
        "description",
        "capability_class",
        "make",
        "model",
        "serial",
        "distinctive_marks",
        "keywords",
        "status",
    ):
        value = getattr(data, field)
        if value is not msgspec.UNSET:
            merged[field] = value
    if data.evidence is None:
        merged.update(evidence_certificate=None, evidence_issuer=None, evidence_date=None)
        merged["evidence_photo_id"] = None
    elif data.evidence is not msgspec.UNSET:
        ev = data.evidence
        merged.update(
            evidence_certificate=ev.certificate_number,
            evidence_issuer=ev.issuer,
            evidence_date=ev.date,
        )
        if ev.document_photo_id is not None:
            merged["evidence_photo_id"] = ev.document_photo_id
    return merged
