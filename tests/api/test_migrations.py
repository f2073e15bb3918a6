"""Migrations: applied once each, in order, under a lock; edited files are refused."""

from __future__ import annotations

import asyncio
import json
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


async def test_class_changes_made_before_0009_are_taken_from_the_record(
    empty_db: str, tmp_path: Path
) -> None:
    # An item reclassified before the verdict knew about class changes must still need a
    # new inspection: 0009 fills class_changed_at from the item.edited events.
    before = tmp_path / "before"
    before.mkdir()
    for m in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if m.name < "0009":
            shutil.copy(m, before / m.name)
    conn = await asyncpg.connect(empty_db)
    try:
        await apply_migrations(conn, before)
        studio = await conn.fetchval("INSERT INTO studios (name) VALUES ('S') RETURNING id")
        user = await conn.fetchval(
            "INSERT INTO users (email, password_hash) VALUES ('a@b.test', 'x') RETURNING id"
        )
        prod = await conn.fetchval(
            "INSERT INTO productions (studio_id, name) VALUES ($1, 'P') RETURNING id", studio
        )
        edited, untouched, renamed = [
            await conn.fetchval(
                "INSERT INTO items (production_id, name, capability_class, created_by)"
                " VALUES ($1, $2, 'non_firing_replica', $3) RETURNING id",
                prod,
                name,
                user,
            )
            for name in ("edited", "untouched", "renamed")
        ]
        for item, after in (
            (edited, {"capability_class": "blank_firing"}),
            (edited, {"capability_class": "non_firing_replica"}),
            (renamed, {"name": "renamed again"}),
        ):
            body = json.dumps({"before": {}, "after": after, "note": ""})
            await conn.fetchval(
                "SELECT propcheck_append_event($1, 'item.edited', 'user:x', $2, $3)",
                prod,
                item,
                body,
            )
        last = await conn.fetchval(
            "SELECT max(at) FROM events WHERE subject_id = $1 AND kind = 'item.edited'", edited
        )
        applied = await apply_migrations(conn)
        assert applied[0] == "0009_class_changed.sql"
        assert applied == [m.name for m in load_migrations() if m.name >= "0009"]
        rows = dict(await conn.fetch("SELECT id, class_changed_at FROM items"))
        assert rows == {edited: last, untouched: None, renamed: None}
        # From now on the database sets it on any change of class, and only then.
        await conn.execute("UPDATE items SET name = 'x' WHERE id = $1", untouched)
        assert (
            await conn.fetchval("SELECT class_changed_at FROM items WHERE id = $1", untouched)
            is None
        )
        await conn.execute(
            "UPDATE items SET capability_class = 'blank_firing' WHERE id = $1", untouched
        )
        assert (
            await conn.fetchval("SELECT class_changed_at FROM items WHERE id = $1", untouched)
            is not None
        )
    finally:
        await conn.close()
