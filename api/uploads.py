"""Turning uploaded photo bytes into stored blobs and a photo row.

Image work (decoding, derivatives, barcode reading) is CPU-bound: it runs in a worker
pool with a concurrency cap, off the event loop. Over the cap a request waits briefly,
then gets 503 with Retry-After instead of piling up. Blobs are stored before the
database transaction; a failed transaction leaves at most an unreferenced,
content-addressed blob, never a photo row without its bytes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException, HTTPException

from api.media import media_url
from api.photos import ProcessedPhoto, process_photo
from api.schemas import PhotoOut
from api.sql import q
from api.state import Services

__all__ = [
    "optional_photo",
    "photo_out",
    "process_uploads",
    "read_upload",
    "run_image_job",
    "save_optional_photo",
    "save_photo",
]

T = TypeVar("T")


async def run_image_job(svc: Services, fn: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound image work in the worker pool, within the concurrency cap."""
    try:
        await asyncio.wait_for(svc.decode_slots.acquire(), timeout=svc.settings.decode_wait_s)
    except TimeoutError:
        raise HTTPException(
            status_code=503,
            detail="The server is busy reading other photos. Try again in a moment.",
            headers={"Retry-After": "2"},
        ) from None
    try:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(svc.executor, fn, *args)
    finally:
        svc.decode_slots.release()


async def read_upload(upload: Any, svc: Services) -> bytes:
    """The bytes of one uploaded file, bounded by the upload cap."""
    if not isinstance(upload, UploadFile):
        raise ClientException("Expected a file upload.")
    data = await upload.read(svc.settings.max_upload_bytes + 1)
    if len(data) > svc.settings.max_upload_bytes:
        raise HTTPException(status_code=413, detail="The file is larger than the upload limit.")
    return data


async def process_uploads(svc: Services, blobs: list[bytes]) -> list[ProcessedPhoto]:
    """Process every photo (all or nothing) and store their blobs."""
    processed = [
        await run_image_job(
            svc, functools.partial(process_photo, max_pixels=svc.settings.max_image_pixels), data
        )
        for data in blobs
    ]
    for p in processed:
        for blob in (p.original, p.display, p.thumb):
            await svc.store.put(blob.sha256, blob.data, blob.content_type)
    return processed


async def save_photo(
    conn: asyncpg.Connection,
    photo: ProcessedPhoto,
    *,
    production_id: UUID,
    item_id: UUID | None,
    purpose: str,
    actor: str,
) -> asyncpg.Record:
    """Insert the photo row (inside the caller's transaction)."""
    return await conn.fetchrow(
        q("insert_photo"),
        production_id,
        item_id,
        purpose,
        photo.original.sha256,
        photo.display.sha256,
        photo.thumb.sha256,
        photo.original.width,
        photo.original.height,
        photo.upload_sha256,
        actor,
    )


async def optional_photo(svc: Services, files: list[Any], what: str) -> ProcessedPhoto | None:
    """The one optional photo of a record (an inspection, an incident), processed."""
    if len(files) > 1:
        raise ClientException(f"At most one photo per {what}.")
    processed = await process_uploads(svc, [await read_upload(f, svc) for f in files])
    return processed[0] if processed else None


async def save_optional_photo(
    conn: asyncpg.Connection, photo: ProcessedPhoto | None, **where: Any
) -> UUID | None:
    """Insert the optional photo's row; its id, or None without a photo."""
    if photo is None:
        return None
    row = await save_photo(conn, photo, **where)
    photo_id: UUID = row["id"]
    return photo_id


def photo_out(key: bytes, p: dict[str, Any] | asyncpg.Record) -> PhotoOut:
    """A photo row (or its JSON form) as a response body with signed URLs."""
    created = p["created_at"]
    if isinstance(created, str):
        from datetime import datetime

        created = datetime.fromisoformat(created)
    return PhotoOut(
        id=UUID(str(p["id"])),
        purpose=p["purpose"],
        width=p["width"],
        height=p["height"],
        original_url=media_url(key, p["original_sha"]),
        display_url=media_url(key, p["display_sha"]),
        thumb_url=media_url(key, p["thumb_sha"]),
        created_at=created,
    )
