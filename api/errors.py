"""Exception handlers: every failure is a JSON body with a status and a plain detail.

Database outages become 503 with Retry-After (never a 500, never a hang); data the
database refuses becomes 400; rejected images 422.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException

from verifier import rules
from verifier.imageio import ImageRejected

__all__ = ["DB_DOWN", "Replayed", "exception_handlers", "json_error"]

_log = logging.getLogger("propcheck.errors")


class Replayed(Exception):
    """Raised inside a transaction when its record turns out to be a replay (its client_id
    was stored before): everything the transaction wrote for it (a photo row) rolls
    back, and the caller answers with the stored record, ``existing`` when known."""

    def __init__(self, existing: Any = None) -> None:
        super().__init__(str(existing))
        self.existing = existing


DB_DOWN: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.QueryCanceledError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def json_error(
    status: int, detail: str, *, error: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    """A JSON error response."""
    body: dict[str, Any] = {"status_code": status, "error": error, "detail": detail}
    body.update(extra)
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {"extra": exc.extra} if exc.extra else {}
    headers = exc.headers
    if exc.status_code == 429:
        headers = dict(headers or {})
        # Every 429 carries Retry-After (api/abuse.py sets it; 1 s if a path did not).
        headers.setdefault("Retry-After", "1")
        if request.url.path.startswith(_VERIFY_PATHS):
            # A client that reads only the verdict must still see STOP.
            extra |= {"verdict": "STOP", "reasons": [_RATE_LIMITED]}
    return json_error(
        exc.status_code,
        exc.detail,
        error=_ERROR_NAMES.get(exc.status_code, "error"),
        headers=headers,
        **extra,
    )


#: The reason shown when a phone is throttled (not a verdict on any item).
_RATE_LIMITED = {"code": "rate_limited", "message": rules.MESSAGES["rate_limited"]}


_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    503: "unavailable",
}


def _image(request: Request[Any, Any, Any], exc: ImageRejected) -> Response[dict[str, Any]]:
    return json_error(422, str(exc), error=f"image_{exc.reason}")


def _db_data(request: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[dict[str, Any]]:
    return json_error(400, "The database refused a value in this request.", error="bad_value")


def _conflict(
    request: Request[Any, Any, Any], exc: asyncpg.IntegrityConstraintViolationError
) -> Response[dict[str, Any]]:
    return json_error(409, "This conflicts with existing data.", error="conflict")


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    _log.warning("database unavailable: %r", exc)
    extra: dict[str, Any] = {}
    if request.url.path.startswith(_VERIFY_PATHS):
        # A client that reads only the verdict must still see STOP.
        extra = {"verdict": "STOP", "reasons": [msgspec.to_builtins(r) for r in _DOWN.reasons]}
    return json_error(
        503,
        "The database is not reachable. Try again shortly.",
        error="unavailable",
        headers={"Retry-After": "2"},
        **extra,
    )


_VERIFY_PATHS = ("/api/v1/verify", "/api/v1/verifications/")
_DOWN = rules.stop("service_unavailable")


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, DB_DOWN):
        return _unavailable(request, exc)
    _log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_error(500, "Internal error.", error="internal")


exception_handlers: dict[Any, Any] = {
    HTTPException: _http,
    ImageRejected: _image,
    asyncpg.DataError: _db_data,
    asyncpg.IntegrityConstraintViolationError: _conflict,
    **dict.fromkeys(DB_DOWN, _unavailable),
    Exception: _internal,
}
