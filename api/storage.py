"""Content-addressed blob storage: one small interface, a local disk and any obstore store.

A blob's key is the SHA-256 (lowercase hex) of its bytes, so a put is idempotent, a blob
never changes once written, and the key doubles as the HTTP ETag. Both implementations
lay keys out the same way (``ab/cd/abcd…``), so a local folder can be copied into a
bucket as is. Content types are not stored on the local disk; the database row keeps
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread

if TYPE_CHECKING:  # a TypedDict that obstore only ships in its stubs
    from obstore.store import S3Config

__all__ = [
    "BlobStore",
    "InvalidBlobKey",
    "LocalDiskStore",
    "ObstoreBlobStore",
    "check_store",
    "s3_store",
    "store_from_settings",
]

_KEY = re.compile(r"[0-9a-f]{64}")


class InvalidBlobKey(ValueError):
    """The key is not a lowercase hex SHA-256, or does not match the data put under it."""


class BlobStore(Protocol):
    """Where photo bytes live. Keys are the SHA-256 hex digest of the data."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``; storing the same blob again is a no-op."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The blob's bytes, or None when nothing is stored under ``key``."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        ...


def _check_key(key: str) -> str:
    # Also what keeps a key from naming a path outside the store ("../", "/etc/...").
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidBlobKey(f"Not a blob key (lowercase hex SHA-256): {key!r:.80}")
    return key


def _check_content(key: str, data: bytes) -> None:
    if hashlib.sha256(data).hexdigest() != key:
        raise InvalidBlobKey(f"The data put under {key} has a different SHA-256.")


def _blob_path(key: str) -> str:
    """``ab/cd/abcd…``: two levels of 256 folders keep directories small."""
    return f"{key[:2]}/{key[2:4]}/{key}"


class LocalDiskStore:
    """Blobs as files under ``root``; disk IO runs in worker threads.

    Writes go to a temporary file in the target folder, are flushed to disk, then renamed
    into place, so a reader sees the whole blob or nothing, even across a crash.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalDiskStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / _blob_path(_check_key(key))

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (its SHA-256); a no-op when already stored."""
        path = self._path(key)
        await anyio.to_thread.run_sync(_check_content, key, data)
        await anyio.to_thread.run_sync(_write_atomically, path, data)

    async def get(self, key: str) -> bytes | None:
        """The blob's bytes, or None when missing."""
        path = self._path(key)
        try:
            return await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            return None

    async def exists(self, key: str) -> bool:
        """Whether the blob is stored."""
        return await anyio.to_thread.run_sync(self._path(key).is_file)

    async def check_writable(self) -> None:
        """Create and remove a temporary file where blobs go (a put of a blob that is
        already there writes nothing, so it cannot show that the folder still takes new
        ones). Abandoned, not waited for, when the caller's timeout ends: a hung mount
        must not hang the start."""
        await anyio.to_thread.run_sync(_try_write, self.root, abandon_on_cancel=True)


def _try_write(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-")
    os.close(fd)
    os.unlink(tmp)


def _write_atomically(path: Path, data: bytes) -> None:
    if path.is_file():
        return  # content-addressed: what is there is already these bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot-prefixed temporary name can never be mistaken for a key.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # Atomic on POSIX; two writers racing for one key both write the same bytes.
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _obstore() -> Any:
    """obstore, imported on first use so the local-disk store works without it."""
    try:
        import obstore
        import obstore.store
    except ImportError as exc:  # pragma: no cover - obstore is a declared dependency
        raise RuntimeError(
            "This blob store needs the obstore package: pip install 'obstore>=0.12'"
        ) from exc
    return obstore


class ObstoreBlobStore:
    """Blobs in any obstore store (S3Store, MemoryStore, LocalStore, …), same key layout.

    obstore's puts are atomic (a reader never sees a partial object); a put simply
    rewrites identical bytes when the blob is already there, which needs no conditional
    request support from S3-compatible servers.
    """

    def __init__(self, store: Any) -> None:
        self.store = store

    def __repr__(self) -> str:  # never print the store's config: it may hold credentials
        return f"ObstoreBlobStore({type(self.store).__name__})"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (its SHA-256), with its content type."""
        path = _blob_path(_check_key(key))
        await anyio.to_thread.run_sync(_check_content, key, data)
        await _obstore().put_async(
            self.store, path, data, attributes={"Content-Type": content_type}
        )

    async def get(self, key: str) -> bytes | None:
        """The blob's bytes, or None when missing; other failures raise."""
        path = _blob_path(_check_key(key))
        obs = _obstore()
        try:
            result = await obs.get_async(self.store, path)
            return bytes(await result.bytes_async())
        except FileNotFoundError:  # obstore raises the builtin for a missing object
            return None

    async def exists(self, key: str) -> bool:
        """Whether the blob is stored; other failures raise."""
        path = _blob_path(_check_key(key))
        try:
            await _obstore().head_async(self.store, path)
        except FileNotFoundError:
            return False
        return True


_PROBE = b"propcheck: this blob store is reachable and gives back what it is given\n"


async def check_store(store: BlobStore, within_s: float = 30.0) -> None:
    """Store one small fixed blob and read it back (content-addressed: the same object
    every time). Run at start: a misconfigured store (a typo in the bucket, wrong
    credentials, a folder that cannot be written) stops the server with a clear error,
    instead of every photo reading as missing later (obstore reports a bucket that is
    not there as a missing object). It cannot tell a mistyped folder or prefix that
    works from the right one: that is a new, empty place, and the photos the database
    lists would read as missing."""
    key = hashlib.sha256(_PROBE).hexdigest()
    try:
        # Bounded: an endpoint that does not answer would keep obstore retrying for
        # minutes while the server seems to start.
        async with asyncio.timeout(within_s):
            if isinstance(store, LocalDiskStore):
                await store.check_writable()
            await store.put(key, _PROBE, "text/plain")
            back = await store.get(key)
    except TimeoutError as exc:
        raise RuntimeError(
            f"PROPCHECK_BLOB_URL: the blob store did not answer within {within_s:g} s."
        ) from exc
    except Exception as exc:
        raise RuntimeError(f"PROPCHECK_BLOB_URL: the blob store cannot be used: {exc}") from exc
    if back != _PROBE:
        raise RuntimeError("PROPCHECK_BLOB_URL: the blob store did not give back what was stored.")


def s3_store(
    bucket: str,
    *,
    prefix: str = "",
    endpoint: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    allow_http: bool = False,
) -> ObstoreBlobStore:
    """A blob store in an S3-compatible bucket (AWS, MinIO, Garage, R2, …) via obstore.

    Values left as None fall back to obstore's own environment lookup (AWS_REGION,
    instance credentials, …). ``allow_http`` is for a server on a private network only.
    """
    config: S3Config = {}
    if endpoint:
        config["endpoint"] = endpoint
    if region:
        config["region"] = region
    if access_key_id:
        config["access_key_id"] = access_key_id
    if secret_access_key:
        config["secret_access_key"] = secret_access_key
    if session_token:
        config["session_token"] = session_token
    store = _obstore().store.S3Store(
        bucket,
        prefix=prefix.strip("/") or None,
        config=config,
        client_options={"allow_http": allow_http},
    )
    return ObstoreBlobStore(store)


_S3_PARAMS = frozenset({"endpoint", "region", "allow_http"})


def store_from_settings(url: str, root: Path, *, env: Mapping[str, str] | None = None) -> BlobStore:
    """The blob store named by ``PROPCHECK_BLOB_URL``.

    * empty: files on the local disk under ``root``;
    * ``file:///srv/propcheck/blobs``: files on the local disk there;
    * ``s3://bucket/prefix?endpoint=https://…&region=…&allow_http=false``: an
      S3-compatible bucket, credentials from ``AWS_ACCESS_KEY_ID``,
      ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``) in the environment;
    * ``memory://``: in memory, lost on exit (tests and demos).

    An unknown scheme or query parameter raises ValueError: a typo in storage settings
    must stop the server, not send photos somewhere unexpected.
    """
    env = os.environ if env is None else env
    url = url.strip()
    if not url:
        return LocalDiskStore(root)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.query or parts.netloc not in ("", "localhost"):
            raise ValueError(f"PROPCHECK_BLOB_URL: use file:///absolute/path, not {url!r}.")
        return LocalDiskStore(Path(parts.path))
    if parts.scheme == "memory":
        return ObstoreBlobStore(_obstore().store.MemoryStore())
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError("PROPCHECK_BLOB_URL: s3:// needs a bucket, e.g. s3://photos/prod.")
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = sorted(set(params) - _S3_PARAMS)
        if unknown:
            raise ValueError(
                f"PROPCHECK_BLOB_URL: unknown parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_S3_PARAMS))}."
            )
        allow_http = params.get("allow_http", "false").lower()
        if allow_http not in ("true", "false", "1", "0"):
            raise ValueError("PROPCHECK_BLOB_URL: allow_http must be true or false.")
        return s3_store(
            parts.netloc,
            prefix=parts.path,
            endpoint=params.get("endpoint") or None,
            region=params.get("region") or None,
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
            allow_http=allow_http in ("true", "1"),
        )
    raise ValueError(
        f"PROPCHECK_BLOB_URL: unsupported scheme {parts.scheme!r}; "
        "use empty (local disk), file://, s3:// or memory://."
    )
