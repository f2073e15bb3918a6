"""What the generated OpenAPI document cannot see: hand-parsed bodies and error answers.

Four handlers parse their own body because they take either JSON or multipart (a JSON
part plus photos in one transaction): createItem, verify, recordInspection and
reportIncident. Litestar sees no ``data`` parameter there, so their request bodies are
added here from the same msgspec Structs the handlers decode with. Every operation also
gets the error answers it can give (JSON ``{status_code, error, detail}``), so that a
client, or a fuzzer, can tell a documented refusal from a broken server.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    Reference,
    RequestBody,
    Schema,
)

from api.incidents import IncidentIn
from api.inspections import InspectionIn
from api.schemas import ItemCreate, VerifyOut
from api.verify import VerifyRequest

__all__ = ["document_api"]

_REF = "#/components/schemas/{name}"
_FILE: dict[str, Any] = {"type": "string", "format": "binary"}


def _multipart(json_field: str, struct: type, files: str, *, many: bool) -> dict[str, Any]:
    file_schema = {"type": "array", "items": _FILE} if many else _FILE
    return {
        "type": "object",
        "properties": {
            json_field: {
                "type": "string",
                "description": f"{struct.__name__} as JSON (unknown fields are refused).",
            },
            files: file_schema,
        },
        "required": [json_field],
    }


_VERIFY_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "photo": _FILE,
        "production_id": {"type": "string", "format": "uuid"},
        "purpose": {"type": "string", "enum": ["check", "checkout", "checkin"]},
        "handoff_to": {"type": "string", "maxLength": 200},
        "client_id": {"type": "string", "format": "uuid"},
    },
    "required": ["photo"],
}

#: (path, method) -> (JSON Struct, multipart schema) of the hand-parsed bodies.
_BODIES: dict[tuple[str, str], tuple[type, dict[str, Any]]] = {
    ("/api/v1/productions/{production_id}/items", "post"): (
        ItemCreate,
        _multipart("item", ItemCreate, "photos", many=True),
    ),
    ("/api/v1/verify", "post"): (VerifyRequest, _VERIFY_FORM),
    ("/api/v1/items/{item_id}/inspections", "post"): (
        InspectionIn,
        _multipart("inspection", InspectionIn, "photo", many=False),
    ),
    ("/api/v1/productions/{production_id}/incidents", "post"): (
        IncidentIn,
        _multipart("incident", IncidentIn, "photo", many=False),
    ),
}

_ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "description": "Every refusal and failure: a status, a stable error name and a sentence.",
    "properties": {
        "status_code": {"type": "integer"},
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "extra": {},
        "verdict": {"type": "string", "enum": ["STOP"], "description": "verify only"},
        "reasons": {"type": "array", "items": {"$ref": _REF.format(name="Reason")}},
    },
    "required": ["status_code", "detail"],
}

#: Downloads: (path, method) -> the media types of their 200 answer.
_DOWNLOADS: dict[tuple[str, str], tuple[str, ...]] = {
    ("/api/v1/productions/{production_id}/reports", "get"): (
        "application/pdf",
        "application/zip",
        "application/json",
    ),
    ("/api/v1/productions/{production_id}/labels", "post"): ("application/pdf",),
    ("/api/v1/items/{item_id}/label.png", "get"): ("image/png",),
}

#: Answers every operation may give, and what they mean.
_ERRORS = {
    "400": "The request is malformed: bad JSON, unknown field, out-of-range value.",
    "401": "No valid bearer token (or a wrong password / enrollment code).",
    "403": "The caller can see the object but its role may not do this.",
    "404": "No such object in the caller's scope.",
    "409": "Conflicts with the current state (stale version, already done, refused hand-off).",
    "413": "The body or a file is larger than the upload limit.",
    "422": "An uploaded image was refused (format, size, pixels, corrupt).",
    "429": "Too many requests: retry after Retry-After seconds (verify: a STOP body).",
    "503": "The database is unreachable or the server is busy (verify: a STOP body).",
}
#: Verify answers 500 with a STOP body on an unexpected error (README, "fails closed").
_VERIFY_500 = "An unexpected error; the body is still a STOP verdict."


def _error(description: str) -> OpenAPIResponse:
    ref = Reference(ref=_REF.format(name="ErrorBody"))
    return OpenAPIResponse(
        description=description, content={"application/json": OpenAPIMediaType(schema=ref)}
    )


#: A wall-clock time as msgspec writes it ("23:00:00", "06:30:00.5"), no zone.
_TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"


def _time_of_day(component: Any) -> None:
    """Litestar documents ``datetime.time`` as format "duration" (an ISO 8601 period such
    as "PT23H"); the API sends a wall-clock time. Say so with a pattern instead."""
    for prop in (getattr(component, "properties", None) or {}).values():
        if isinstance(prop, Schema) and prop.format == OpenAPIFormat.DURATION:
            prop.format = None
            prop.pattern = _TIME_OF_DAY


def document_api(app: Litestar) -> None:
    """Add hand-parsed request bodies and error answers to ``app``'s OpenAPI document.

    Call once, after the app is built and before it serves the document (the document
    is generated once and cached by Litestar).
    """
    doc = app.openapi_schema
    assert doc.components.schemas is not None
    _, components = msgspec.json.schema_components(
        [struct for struct, _ in _BODIES.values()] + [VerifyOut], ref_template=_REF
    )
    for name, schema in {**components, "ErrorBody": _ERROR_BODY}.items():
        # Litestar's own component of the same Struct stays (they describe one type).
        doc.components.schemas.setdefault(name, schema)
    for component in doc.components.schemas.values():
        _time_of_day(component)
    for path, item in (doc.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            op = getattr(item, method, None)
            if op is None:
                continue
            body = _BODIES.get((path, method))
            if body is not None:
                struct, form = body
                op.request_body = RequestBody(
                    required=True,
                    content={
                        "application/json": OpenAPIMediaType(
                            schema=Reference(ref=_REF.format(name=struct.__name__))
                        ),
                        "multipart/form-data": OpenAPIMediaType(schema=form),  # type: ignore[arg-type]
                    },
                )
            responses = op.responses if op.responses is not None else {}
            for code, description in _ERRORS.items():
                responses.setdefault(code, _error(description))
            download = _DOWNLOADS.get((path, method))
            ok = responses.get("200")
            if download is not None and isinstance(ok, OpenAPIResponse):
                ok.content = {
                    kind: OpenAPIMediaType(schema={} if kind.endswith("json") else _FILE)  # type: ignore[arg-type]
                    for kind in download
                }
            if path == "/api/v1/verify":
                responses["500"] = _error(_VERIFY_500)
                ok = responses["200"]
                if isinstance(ok, OpenAPIResponse):
                    ref = Reference(ref=_REF.format(name="VerifyOut"))
                    ok.content = {"application/json": OpenAPIMediaType(schema=ref)}
            op.responses = responses
