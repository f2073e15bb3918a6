"""Bodies that come as JSON, or as multipart with a JSON part and files.

Phones send a record and its photos in one request so that either both are stored or
neither. The JSON part is decoded with the same Struct (unknown fields refused) as a
plain JSON body.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import ClientException

__all__ = ["json_or_multipart"]

T = TypeVar("T")


async def json_or_multipart(
    request: Request[Any, Any, Any], kind: type[T], *, json_field: str, file_field: str
) -> tuple[T, list[Any]]:
    """Decode ``kind`` from JSON, or from multipart field ``json_field`` plus files."""
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("multipart/form-data"):
            form = await request.form()
            unknown = set(form.keys()) - {json_field, file_field}
            if unknown:
                raise ClientException(f"Unknown form fields: {sorted(unknown)}.")
            raw = form.get(json_field)
            if not isinstance(raw, str):
                raise ClientException(f"Multipart needs a '{json_field}' field holding JSON.")
            return msgspec.json.decode(raw, type=kind), form.getall(file_field, [])
        return msgspec.json.decode(await request.body(), type=kind), []
    except msgspec.ValidationError as exc:
        raise ClientException(f"Invalid request: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ClientException(f"The body is not valid JSON: {exc}") from exc
