"""Test fixtures: a real PostgreSQL (embedded, or DATABASE_URL's server) and the app.

Each test session creates a fresh database on the server, applies every migration to
it and drops it afterwards. Tests talk to the app in-process through Litestar's test
client; browser tests start a real server (tests/pwa/).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.database import admin_dsn
from api.migrate import apply_migrations
from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _server_dsn() -> str:
    var = Path(os.environ.get("PROPCHECK_TEST_VAR", ROOT / "var" / "test"))
    var.mkdir(parents=True, exist_ok=True)
    return admin_dsn(os.environ.get("DATABASE_URL", ""), var)


def _with_database(dsn: str, name: str) -> str:
    # Both URL shapes we produce: postgresql://u@/db?host=... and postgresql://u@h:p/db
    head, sep, query = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}{sep}{query}"


@pytest.fixture(scope="session")
def server_dsn() -> str:
    """The PostgreSQL server the tests run against."""
    return _server_dsn()


@pytest.fixture(scope="session")
async def database(server_dsn: str) -> AsyncIterator[str]:
    """A fresh database with every migration applied; its URL."""
    name = f"propcheck_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_database(server_dsn, name)
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    try:
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
def settings(database: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the app under test."""
    return Settings(
        database_url=database,
        var_dir=tmp_path_factory.mktemp("var"),
        auth_cache_s=0.0,
        decode_workers=2,
        # Every test signs in from one address; the limit tests build apps with limits.
        rate_signin_per_min=0,
    )


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app, in-process, with its lifespan running."""
    app = create_app(settings)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
async def db(database: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test database (for set-up and inspection)."""
    conn = await asyncpg.connect(database)
    yield conn
    await conn.close()


@pytest.fixture
async def app_pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of ten connections as the API's role, as the API's own."""
    pool = await asyncpg.create_pool(
        database, min_size=1, max_size=10, server_settings={"role": "propcheck_app"}
    )
    assert pool is not None
    yield pool
    await pool.close()


async def record_as_request(
    pool: asyncpg.Pool, args: Any, body: str, versions: Any = (None, None), lapses: Any = None
) -> Any:
    """api.recorder.record_verification as one verify request calls it: with a
    connection of the pool taken only if needed, given back at the end."""
    from api.connections import lazily
    from api.recorder import record_verification

    async with lazily(pool, 5.0) as lazy:
        return await record_verification(lazy, args, body, versions, lapses)


Statement = tuple[str, Sequence[Any]]


@contextmanager
def another_process(
    database: str, holding: Sequence[Statement], then: Sequence[Statement] = (), hold_s: float = 1.0
) -> Iterator[list[str]]:
    """A transaction of another API process, as it were, racing the block's request.

    On its own connection and event loop (the test client blocks the test's loop while a
    request runs): runs ``holding``, keeps its locks for ``hold_s`` while the block sends
    its request, then runs ``then`` and commits. The block starts once ``holding`` is
    done; the yielded list holds, after the block, "committed" or the error's class name.
    """
    held = threading.Event()
    outcome: list[str] = []

    async def run() -> None:
        conn = await asyncpg.connect(database)
        try:
            async with conn.transaction():
                for sql, args in holding:
                    await conn.execute(sql, *args)
                held.set()
                await asyncio.sleep(hold_s)
                for sql, args in then:
                    await conn.execute(sql, *args)
            outcome.append("committed")
        except asyncpg.PostgresError as exc:
            outcome.append(type(exc).__name__)
        finally:
            held.set()
            await conn.close()

    thread = threading.Thread(target=lambda: asyncio.run(run()))
    thread.start()
    try:
        assert held.wait(10)
        yield outcome
    finally:
        thread.join()


class World:
    """A studio with a production and one account per role, and a second of each."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)

    def h(self, role: str) -> dict[str, str]:
        """Authorization headers for a role."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def make_world(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> World:
    """Create studio A (production P, P2) and studio B (production Q), with members."""
    from api.seed import create_admin

    tag = uuid.uuid4().hex[:8]
    password = "correct horse battery"
    tokens: dict[str, str] = {}

    async def sign_in(email: str) -> str:
        r = await client.post("/api/v1/auth/sign-in", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token

    dsn = client.app.state.services.settings.database_url
    a = await create_admin(dsn, f"admin-{tag}@a.test", password, f"Studio A {tag}")
    b = await create_admin(dsn, f"admin-{tag}@b.test", password, f"Studio B {tag}")
    tokens["studio_admin"] = await sign_in(f"admin-{tag}@a.test")
    tokens["other_studio_admin"] = await sign_in(f"admin-{tag}@b.test")

    async def production(token: str, studio: str, name: str) -> str:
        r = await client.post(
            "/api/v1/productions",
            json={"studio_id": studio, "name": name},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
        pid: str = r.json()["id"]
        return pid

    p = await production(tokens["studio_admin"], a["studio_id"], "Production P")
    p2 = await production(tokens["studio_admin"], a["studio_id"], "Production P2")
    qp = await production(tokens["other_studio_admin"], b["studio_id"], "Production Q")

    async def account(token: str, studio: str, email: str, studio_role: str | None = None) -> None:
        r = await client.post(
            f"/api/v1/studios/{studio}/accounts",
            json={"email": email, "password": password, "studio_role": studio_role},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text

    async def member(token: str, pid: str, email: str, role: str) -> None:
        r = await client.post(
            f"/api/v1/productions/{pid}/members",
            json={"email": email, "role": role},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text

    for role in ("prop_master", "scanner", "auditor"):
        email = f"{role}-{tag}@a.test"
        await account(tokens["studio_admin"], a["studio_id"], email)
        await member(tokens["studio_admin"], p, email, role)
        tokens[role] = await sign_in(email)
    email = f"studio-auditor-{tag}@a.test"
    await account(tokens["studio_admin"], a["studio_id"], email, "studio_auditor")
    tokens["studio_auditor"] = await sign_in(email)
    # Members of the sibling production P2 (same studio) and of Q (other studio).
    for role, pid, studio, admin in (
        ("p2_prop_master", p2, a["studio_id"], "studio_admin"),
        ("q_prop_master", qp, b["studio_id"], "other_studio_admin"),
        ("q_scanner", qp, b["studio_id"], "other_studio_admin"),
    ):
        email = f"{role}-{tag}@x.test"
        await account(tokens[admin], studio, email)
        await member(tokens[admin], pid, email, role.split("_", 1)[1])
        tokens[role] = await sign_in(email)
    return World(
        {
            "studio_id": a["studio_id"],
            "other_studio_id": b["studio_id"],
            "production_id": p,
            "sibling_production_id": p2,
            "other_production_id": qp,
            "tokens": tokens,
            "password": password,
            "tag": tag,
        }
    )


@pytest.fixture(scope="session")
async def world(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> World:
    """One shared world for tests that only read or add their own items."""
    return await make_world(db, client)


@pytest.fixture
def tmp_images(tmp_path: Path) -> Iterator[Path]:
    """A folder for images a test makes."""
    yield tmp_path
