"""Security headers on every response, chosen by what the path serves.

The PWA holds a bearer token in the page's storage and a prop master's screens change
the record (inspections, hand-outs, revocations), so the app's pages must not be framed
by another site (clickjacking) nor run script from anywhere but this origin. Photos are
people's uploads served from the same origin: whatever bytes they hold, a browser must
never run them as a page (nosniff, and a sandbox with nothing allowed). API answers are
never documents either, and carry verdicts and registry data that no cache should keep.

One place sets these, a hook on every message the app sends (api/app.py), so no route
and no error answer goes without them; handlers do not set them themselves.
"""

from __future__ import annotations

from litestar.types import Message, Scope

__all__ = ["MEDIA_CSP", "PWA_CSP", "SCHEMA_CSP", "add_security_headers", "headers_for"]

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # for browsers without frame-ancestors
]

#: The app's pages: script, style and everything fetched from this origin only.
#: 'wasm-unsafe-eval' lets the vendored zxing WebAssembly decoder compile (the scanner
#: on browsers without BarcodeDetector, iOS Safari among them); it allows no JS eval.
#: blob: and data: images are the label QR previews and camera stills.
PWA_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: Uploaded photos: never a document, whatever their bytes.
MEDIA_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
#: JSON, PDFs, CSVs and label images of the API: nothing in them may load or run.
_API_CSP = "default-src 'none'; frame-ancestors 'none'"

_API = [*_COMMON, (b"content-security-policy", _API_CSP.encode())]
_API_NO_STORE = [*_API, (b"cache-control", b"no-store")]
_MEDIA = [*_COMMON, (b"content-security-policy", MEDIA_CSP.encode())]
_PWA = [*_COMMON, (b"content-security-policy", PWA_CSP.encode())]
#: The OpenAPI viewers (Litestar's, under /schema) load their script from a CDN, which
#: no page of this origin may run: the token is in this origin's storage. Sandboxed
#: without allow-same-origin, a viewer page is an origin of its own: scripts run, but
#: see none of the app's storage and cannot read the API's answers. Redoc, the one
#: viewer served (api/app.py), has the schema inline and so works sandboxed;
#: /schema/openapi.json is the schema itself.
SCHEMA_CSP = "sandbox allow-scripts; frame-ancestors 'none'"
_SCHEMA = [*_COMMON, (b"content-security-policy", SCHEMA_CSP.encode())]


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to ``path``."""
    if path.startswith("/api/"):
        return _API_NO_STORE
    if path.startswith("/media/"):
        return _MEDIA
    if path == "/schema" or path.startswith("/schema/"):
        return _SCHEMA
    if path.startswith(("/health", "/.well-known/")):
        return _API
    return _PWA


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar before_send hook: add headers_for(path) to every HTTP response start.

    A before_send hook wraps the app's own send, so error answers (401, 404, a 500's
    STOP body) get the headers too. A header the response already has is left as it is
    (the photos' long-lived Cache-Control wins over the API's no-store).
    """
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or ())
    have = {name.lower() for name, _ in headers}
    headers.extend(h for h in headers_for(scope["path"]) if h[0] not in have)
    message["headers"] = headers
