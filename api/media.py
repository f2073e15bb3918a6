"""Serving stored photos by capability URL.

Photos are shown in <img> tags, which cannot send a bearer token, so each photo URL
carries an HMAC of the blob's SHA-256 and an expiry day, made with a key that never
leaves the server: only a response to an authorised request can contain it, and it
stops working a week or so later (someone removed from a production keeps no lasting
way to its photos). The expiry is a whole day, so a photo's URL changes once a day and
the browser's and the offline app's caches keep working. Blobs are content-addressed,
so they never change: served with a strong ETag and a one-year immutable cache.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException

from api.state import services

__all__ = ["MediaController", "load_media_key", "media_url"]

_SHA = re.compile(r"^[0-9a-f]{64}$")
#: A URL made today works until the end of the UTC day this many days on.
URL_DAYS = 7


def load_media_key(key_dir: Path) -> bytes:
    """PROPCHECK_MEDIA_KEY (hex) when set, shared by all API processes; else a key file."""
    configured = os.environ.get("PROPCHECK_MEDIA_KEY", "").strip()
    if configured:
        return bytes.fromhex(configured)
    path = key_dir / "media.key"
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return bytes.fromhex(path.read_text().strip())


# Cached: a verify answers with three signed URLs per photo of the item, the same ones
# every time the item is scanned (an HMAC is ~3 us; a cache hit well under 1 us).
@functools.lru_cache(maxsize=65536)
def _sign(key: bytes, sha: str, expires: int) -> str:
    return hmac.new(key, f"{sha}.{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def _today() -> int:
    """Days since 1970-01-01, UTC."""
    return int(time.time() // 86400)


def media_url(key: bytes, sha: str) -> str:
    """The capability URL of one stored blob, good until URL_DAYS days after today."""
    expires = _today() + URL_DAYS
    return f"/media/{sha}?e={expires}&s={_sign(key, sha, expires)}"


def _content_type(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


class MediaController(Controller):
    """Stored photos."""

    path = "/media"
    tags = ["media"]
    include_in_schema = False

    @get("/{sha:str}", operation_id="getMedia")
    async def get_blob(
        self, sha: str, state: State, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """One stored photo, if the signature matches."""
        svc = services(state)
        sig = request.query_params.get("s", "")
        day = request.query_params.get("e", "")
        expires = int(day) if day.isascii() and day.isdigit() and len(day) <= 6 else -1
        # Compared as bytes: compare_digest refuses non-ASCII text with a TypeError (a 500).
        given = sig.encode("utf-8", "surrogatepass")
        if (
            not _SHA.match(sha)
            or expires < _today()
            or not hmac.compare_digest(given, _sign(svc.media_key, sha, expires).encode())
        ):
            raise NotFoundException("Not found.")
        etag = f'"{sha}"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"}
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers=headers)
        data = await svc.store.get(sha)
        if data is None:
            raise NotFoundException("Not found.")
        return Response(data, media_type=_content_type(data), headers=headers)
