"""One frozen settings object, read from the environment once."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import msgspec

__all__ = ["Settings", "get_settings"]

_ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Configuration; every field has an environment variable (see the README)."""

    #: PostgreSQL URL. Empty: start the embedded server with its data under var_dir.
    database_url: str = ""
    #: Folder for the embedded database, local photo storage and keys (git-ignored).
    var_dir: Path = _ROOT / "var"
    #: Blob store: empty for the local disk under var_dir/blobs, or s3://bucket/prefix?...
    blob_url: str = ""
    #: Largest accepted request body (uploads included), bytes.
    max_upload_bytes: int = 15 * 1024 * 1024
    #: Largest accepted image, pixels; larger uploads are refused before decoding.
    max_image_pixels: int = 50_000_000
    #: Lifetime of a sign-in token and of a device (enrollment) token, hours.
    token_hours: float = 12.0
    device_token_hours: float = 24.0 * 30
    #: Lifetime of an enrollment code, minutes.
    enrollment_minutes: float = 10.0
    #: Lifetime of an invitation code to join a production, hours.
    invitation_hours: float = 72.0
    #: Seconds an idle keep-alive connection is held open: above a load balancer's own
    #: idle timeout (often 60 s), or it reuses connections the server has just closed
    #: and a phone gets a failed request (a STOP for nothing).
    keep_alive_s: float = 75.0
    #: The login of the API's pool: a member of propcheck_app and nothing else (migration
    #: 0016), so no session of it can become the owner again. Empty: log in as
    #: DATABASE_URL's user and take the app role as a session setting (SET ROLE NONE undoes it).
    db_app_user: str = "propcheck_api"
    #: Its password, where the server asks for one (the embedded server does not).
    db_app_password: str = ""
    #: Database pool size per API process.
    pool_size: int = 20
    #: Seconds a query may take before the request fails (verify answers 503).
    db_timeout_s: float = 5.0
    #: Concurrent photo decodes per process; more wait up to decode_wait_s, then 503.
    decode_workers: int = max(1, (os.cpu_count() or 2) - 1)
    decode_wait_s: float = 2.0
    #: How long a resolved token is cached in-process, seconds (revocation delay
    #: across processes; within one process sign-out is immediate).
    auth_cache_s: float = 5.0
    #: How long a process reuses a scanned tag's verdict facts, seconds (0: off). Safe
    #: at any value: a verification is only recorded on facts still current then
    #: (api/facts_cache.py). An hour spans the takes of a set, where a prop is scanned
    #: again every 10-30 minutes; a minute kept almost none of those rescans.
    facts_cache_s: float = 3600.0
    #: Sign-in and enrollment requests per minute from one client address (0: off).
    rate_signin_per_min: int = 120
    #: Verifications per second from one bearer token, i.e. one phone (0: off).
    rate_verify_per_s: int = 200
    #: Failed sign-ins of one account within signin_failure_window_s before it backs
    #: off for signin_backoff_s, doubling with each further failure (0: off).
    signin_max_failures: int = 5
    signin_failure_window_s: float = 900.0
    signin_backoff_s: float = 30.0
    #: Unknown or mistyped tag codes from one token within probe_window_s before its
    #: scans are refused for the rest of the window and an incident is opened (0: off).
    probe_max_codes: int = 20
    probe_window_s: float = 300.0

    @property
    def blob_dir(self) -> Path:
        """Where the local-disk blob store keeps files."""
        return self.var_dir / "blobs"

    @property
    def key_dir(self) -> Path:
        """Where signing and URL keys live when not configured (outside the database)."""
        return self.var_dir / "keys"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once per process."""
    var = os.environ.get("PROPCHECK_VAR_DIR", "").strip()
    return Settings(
        database_url=os.environ.get("DATABASE_URL", "").strip(),
        var_dir=Path(var).resolve() if var else _ROOT / "var",
        blob_url=os.environ.get("PROPCHECK_BLOB_URL", "").strip(),
        max_upload_bytes=_env_int("PROPCHECK_MAX_UPLOAD_BYTES", 15 * 1024 * 1024),
        max_image_pixels=_env_int("PROPCHECK_MAX_IMAGE_PIXELS", 50_000_000),
        token_hours=_env_float("PROPCHECK_TOKEN_HOURS", 12.0),
        device_token_hours=_env_float("PROPCHECK_DEVICE_TOKEN_HOURS", 24.0 * 30),
        enrollment_minutes=_env_float("PROPCHECK_ENROLLMENT_MINUTES", 10.0),
        invitation_hours=_env_float("PROPCHECK_INVITATION_HOURS", 72.0),
        keep_alive_s=_env_float("PROPCHECK_KEEP_ALIVE_S", 75.0),
        db_app_user=os.environ.get("PROPCHECK_DB_APP_USER", "propcheck_api").strip(),
        db_app_password=os.environ.get("PROPCHECK_DB_APP_PASSWORD", ""),
        pool_size=_env_int("PROPCHECK_POOL_SIZE", 20),
        db_timeout_s=_env_float("PROPCHECK_DB_TIMEOUT_S", 5.0),
        decode_workers=_env_int("PROPCHECK_DECODE_WORKERS", max(1, (os.cpu_count() or 2) - 1)),
        decode_wait_s=_env_float("PROPCHECK_DECODE_WAIT_S", 2.0),
        auth_cache_s=_env_float("PROPCHECK_AUTH_CACHE_S", 5.0),
        facts_cache_s=_env_float("PROPCHECK_FACTS_CACHE_S", 3600.0),
        rate_signin_per_min=_env_int("PROPCHECK_RATE_SIGNIN_PER_MIN", 120),
        rate_verify_per_s=_env_int("PROPCHECK_RATE_VERIFY_PER_S", 200),
        signin_max_failures=_env_int("PROPCHECK_SIGNIN_MAX_FAILURES", 5),
        signin_failure_window_s=_env_float("PROPCHECK_SIGNIN_FAILURE_WINDOW_S", 900.0),
        signin_backoff_s=_env_float("PROPCHECK_SIGNIN_BACKOFF_S", 30.0),
        probe_max_codes=_env_int("PROPCHECK_PROBE_MAX_CODES", 20),
        probe_window_s=_env_float("PROPCHECK_PROBE_WINDOW_S", 300.0),
    )
