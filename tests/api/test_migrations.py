"""Migrations: applied once each, in order, under a lock; edited files are refused."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from api.migrate import MIGRATIONS_DIR, MigrationError, apply_migrations, load_migrations
from tests.conftest import _with_database

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def empty_db(server_dsn: str) -> AsyncIterator[str]:
    name = f"propcheck_mig_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_all_migrations_apply_to_an_empty_database_once(empty_db: str) -> None:
    conn = await asyncpg.connect(empty_db)
    try:
        applied = await apply_migrations(conn)
        assert applied == [m.name for m in load_migrations()]
        assert await apply_migrations(conn) == []
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"items", "tags", "verifications", "events", "checkouts", "incidents"} <= tables
    finally:
        await conn.close()


async def test_two_servers_starting_at_once_apply_each_migration_once(empty_db: str) -> None:
    a, b = await asyncpg.connect(empty_db), await asyncpg.connect(empty_db)
    try:
        first, second = await asyncio.gather(apply_migrations(a), apply_migrations(b))
        names = [m.name for m in load_migrations()]
        assert sorted([first, second], key=len) == [[], names]
        count = await a.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(names)
    finally:
        await a.close()
        await b.close()


async def test_an_edited_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = await asyncpg.connect(empty_db)
    try:
        await apply_migrations(conn, folder)
        first = sorted(folder.glob("0001_*.sql"))[0]
        first.write_text(first.read_text() + "\n-- a quiet edit\n")
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await apply_migrations(conn, folder)
    finally:
        await conn.close()


async def test_a_gap_in_numbers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="without gaps"):
        load_migrations(tmp_path)


async def test_a_failing_migration_leaves_nothing_behind(empty_db: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE t1 (x int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE t2 (x int); SELECT no_such_function();")
    conn = await asyncpg.connect(empty_db)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await apply_migrations(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('t1') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('t2') IS NULL")
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
    finally:
        await conn.close()
