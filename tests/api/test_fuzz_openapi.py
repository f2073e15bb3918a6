"""Schemathesis over the live OpenAPI document, authenticated as each role.

Every operation of /schema/openapi.json, for prop_master, scanner, auditor and
studio_admin, with schema-valid and schema-breaking inputs: no answer may be a 5xx, and
every answer must be documented (status code, content type, body schema, headers).
Half of the cases keep the generated path ids (mostly unknown: 404 paths); the other
half use ids of real objects of the role's production, so that bodies and queries reach
the handlers' own checks.

The cases run in a worker thread (Hypothesis is synchronous) and are sent through an
in-process client of an app of their own (same database), whose lifespan runs on the
test's event loop; its rate-limit counters start at zero and do not touch the shared
client's. Derandomized, so a run is reproducible; bounded by PER_OPERATION.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import hypothesis
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from litestar.testing import AsyncTestClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.settings import Settings
from tests.api.helpers import ready_item
from tests.conftest import World, make_world

ROLES = ("prop_master", "scanner", "auditor", "studio_admin")
#: Examples per operation, role and pass (schema-valid with generated ids, schema-breaking,
#: schema-valid with real ids): about 44 x 4 x 3 x 4 = 2,000 cases.
PER_OPERATION = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
async def fuzz_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """An app of its own on the test database (its own rate-limit counters)."""
    app = create_app(msgspec.structs.replace(settings, pool_size=4), migrate=False)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
async def fuzz_world(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> World:
    """Its own world: fuzzing archives, revokes and quarantines at random."""
    return await make_world(db, client)


async def _real_ids(
    client: AsyncTestClient[Any], w: World, db: asyncpg.Connection
) -> dict[str, str]:
    item = await ready_item(client, w)
    r = await client.post(
        "/api/v1/verify", json={"code": item["tag"]["code"]}, headers=w.h("scanner")
    )
    r2 = await client.post(
        f"/api/v1/productions/{w.production_id}/incidents",
        json={"kind": "other", "description": "fuzz"},
        headers=w.h("scanner"),
    )
    user_id = await db.fetchval("SELECT id FROM users WHERE email = $1", f"auditor-{w.tag}@a.test")
    return {
        "production_id": w.production_id,
        "studio_id": w.studio_id,
        "item_id": item["id"],
        "tag_id": item["tag"]["id"],
        "verification_id": r.json()["verification_id"],
        "incident_id": r2.json()["id"],
        "user_id": str(user_id),
    }


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """requests-style transport arguments -> httpx.AsyncClient.request arguments."""
    out = {
        k: v
        for k, v in kwargs.items()
        if k in ("method", "url", "params", "headers", "json", "files")
    }
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    return out


async def _fresh_token(db: asyncpg.Connection, w: World) -> str:
    token = f"pct_{secrets.token_urlsafe(32)}"
    await db.execute(
        "INSERT INTO tokens (token_hash, user_id, expires_at)"
        " SELECT $1, id, now() + interval '1 hour' FROM users WHERE email = $2",
        hashlib.sha256(token.encode()).digest(),
        f"auditor-{w.tag}@a.test",
    )
    return token


async def test_openapi_fuzz(
    fuzz_client: AsyncTestClient[Any],
    client: AsyncTestClient[Any],
    fuzz_world: World,
    db: asyncpg.Connection,
) -> None:
    w = fuzz_world
    doc = (await fuzz_client.get("/schema/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(doc)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    ids = await _real_ids(client, w, db)
    loop = asyncio.get_running_loop()
    sent: list[int] = []
    problems: list[str] = []
    spare_tokens = [await _fresh_token(db, w) for _ in range(len(ROLES) * PER_OPERATION * 3)]

    def send(case: Any, headers: dict[str, str]) -> Any:
        kwargs = _httpx_kwargs(case.as_transport_kwargs(base_url="http://testserver.local"))
        kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
        future = asyncio.run_coroutine_threadsafe(fuzz_client.request(**kwargs), loop)
        response = future.result(timeout=60)
        response.request.read()  # a multipart body is a stream; the checks read it back
        return response

    def run(operation: Any, role: str, real: bool, mode: GenerationMode) -> None:
        token = w.tokens[role]
        overrides = {k: v for k, v in ids.items() if "{" + k + "}" in operation.path}
        overrides = overrides if real else {}

        @hypothesis.settings(
            max_examples=PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(mode, path_parameters=overrides or None))
        def fuzz(case: Any) -> None:
            # Signing out would end the role's token for the rest of the run.
            bearer = spare_tokens.pop() if operation.path.endswith("/sign-out") else token
            headers = {"Authorization": f"Bearer {bearer}"}
            response = send(case, headers)
            sent.append(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except Exception as exc:  # collect every failure, not only the first
                where = "real" if real else "generated"
                problems.append(f"{role} {operation.label} {mode.value}, {where} ids: {exc}")
                raise

        # Recorded in problems (schemathesis raises a BaseExceptionGroup).
        with contextlib.suppress(Exception, BaseExceptionGroup):
            fuzz()

    started = time.monotonic()
    for operation in operations:
        has_ids = "{" in operation.path
        for role in ROLES:
            await asyncio.to_thread(run, operation, role, False, GenerationMode.POSITIVE)
            await asyncio.to_thread(run, operation, role, has_ids, GenerationMode.NEGATIVE)
            if has_ids:
                await asyncio.to_thread(run, operation, role, True, GenerationMode.POSITIVE)
    elapsed = time.monotonic() - started
    print(f"schemathesis: {len(sent)} cases over {len(operations)} operations in {elapsed:.0f} s")
    assert not problems, f"{len(problems)} failing runs:\n\n" + "\n\n".join(problems[:8])
    assert len(sent) >= 1000
    assert not [s for s in sent if s >= 500]
