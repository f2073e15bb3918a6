"""Abuse limits: request rates, sign-in backoff, code probing, enrollment codes.

Each test runs its own app instance (same database) with low limits, so the counts
start at zero and the shared test client is never throttled.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.abuse import email_key
from api.app import create_app
from api.settings import Settings
from tests.api.helpers import ready_item, reason_codes
from tests.conftest import World, make_world
from verifier import codes

AppFactory = Callable[..., Awaitable[AsyncTestClient[Any]]]


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[AppFactory]:
    """Start an app with the given limits (everything else as the shared app)."""
    opened: list[AsyncTestClient[Any]] = []

    async def start(**limits: Any) -> AsyncTestClient[Any]:
        base = {
            "rate_signin_per_min": 0,
            "rate_verify_per_s": 0,
            "signin_max_failures": 0,
            "probe_max_codes": 0,
            "pool_size": 3,
        }
        app = create_app(msgspec.structs.replace(settings, **{**base, **limits}), migrate=False)
        c: AsyncTestClient[Any] = AsyncTestClient(app=app, raise_server_exceptions=False)
        await c.__aenter__()
        opened.append(c)
        return c

    yield start
    for c in opened:
        await c.__aexit__(None, None, None)


@pytest.fixture(scope="module")
async def own(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> World:
    """A world of its own: probing opens incidents in its production."""
    return await make_world(db, client)


async def _account(client: AsyncTestClient[Any], w: World) -> str:
    email = f"backoff-{uuid.uuid4().hex[:8]}@a.test"
    r = await client.post(
        f"/api/v1/studios/{w.studio_id}/accounts",
        json={"email": email, "password": w.password},
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 201, r.text
    return email


def _sign_in(c: AsyncTestClient[Any], email: str, password: str) -> Awaitable[Any]:
    return c.post("/api/v1/auth/sign-in", json={"email": email, "password": password})


async def test_sign_in_and_enrollment_are_rate_limited_per_address(limited: AppFactory) -> None:
    c = await limited(rate_signin_per_min=5)
    answers = []
    for i in range(4):
        answers.append((await _sign_in(c, f"nobody-{i}@x.test", "wrong")).status_code)
    answers.append((await c.post("/api/v1/auth/enroll", json={"code": "pce_nope"})).status_code)
    assert answers == [401, 401, 401, 401, 401]
    r = await _sign_in(c, "nobody@x.test", "wrong")
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "too_many_requests"
    assert int(r.headers["retry-after"]) >= 1
    # The other endpoints are not counted.
    assert (await c.get("/health")).status_code == 200


async def test_failed_sign_ins_back_off_for_growing_times_across_processes(
    limited: AppFactory, client: AsyncTestClient[Any], world: World, db: asyncpg.Connection
) -> None:
    email = await _account(client, world)
    limits = {"signin_max_failures": 3, "signin_backoff_s": 1.0, "signin_failure_window_s": 60.0}
    a, b = await limited(**limits), await limited(**limits)
    for _ in range(3):
        assert (await _sign_in(a, email, "wrong password")).status_code == 401
    stored = await db.fetchval(
        "SELECT count(*) FROM signin_failures WHERE email_hash = $1", email_key(email)
    )
    assert stored == 3
    # Another API process on the same database refuses too, even the right password.
    r = await _sign_in(b, email.upper(), world.password)
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == "1"
    await asyncio.sleep(1.1)
    # One more failure after the pause: the next pause is twice as long.
    assert (await _sign_in(b, email, "wrong again")).status_code == 401
    r = await _sign_in(a, email, world.password)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"
    await asyncio.sleep(2.1)
    assert (await _sign_in(a, email, world.password)).status_code == 200
    # Success starts the count again.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM signin_failures WHERE email_hash = $1", email_key(email)
        )
        == 0
    )
    assert (await _sign_in(a, email, "wrong")).status_code == 401


async def test_unknown_accounts_back_off_like_real_ones(limited: AppFactory) -> None:
    """A lockout must not tell which e-mails have accounts."""
    c = await limited(signin_max_failures=2, signin_backoff_s=30.0)
    email = f"ghost-{uuid.uuid4().hex[:8]}@x.test"
    assert [(await _sign_in(c, email, "x")).status_code for _ in range(3)] == [401, 401, 429]


async def test_verify_is_rate_limited_per_token_with_a_stop_body(
    limited: AppFactory, client: AsyncTestClient[Any], own: World, db: asyncpg.Connection
) -> None:
    c = await limited(rate_verify_per_s=4)
    item = await ready_item(client, own)
    code = item["tag"]["code"]
    before = await db.fetchval(
        "SELECT count(*) FROM verifications WHERE production_id = $1",
        uuid.UUID(own.production_id),
    )
    # 16 requests well inside two one-second windows: at most 8 can pass.
    answers = [
        await c.post("/api/v1/verify", json={"code": code}, headers=own.h("scanner"))
        for _ in range(16)
    ]
    ok = [r for r in answers if r.status_code == 200]
    limited_ = [r for r in answers if r.status_code == 429]
    assert len(ok) + len(limited_) == 16
    assert 4 <= len(ok) <= 8, [r.status_code for r in answers]
    body = limited_[0].json()
    assert body["verdict"] == "STOP"
    assert [r["code"] for r in body["reasons"]] == ["rate_limited"]
    assert int(limited_[0].headers["retry-after"]) >= 1
    # Refused scans are not recorded; the counted ones are.
    after = await db.fetchval(
        "SELECT count(*) FROM verifications WHERE production_id = $1",
        uuid.UUID(own.production_id),
    )
    assert after - before == len(ok)
    # Another phone is not slowed down by this one.
    r = await c.post("/api/v1/verify", json={"code": code}, headers=own.h("prop_master"))
    assert r.status_code == 200, r.text


async def _device(client: AsyncTestClient[Any], w: World) -> dict[str, str]:
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/enrollment-codes", headers=w.h("prop_master")
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/enroll", json={"code": r.json()["code"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def _probing_incidents(db: asyncpg.Connection, w: World) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT item_id, description FROM incidents"
        " WHERE production_id = $1 AND kind = 'code_probing'",
        uuid.UUID(w.production_id),
    )


async def test_code_probing_is_throttled_and_recorded_once(
    limited: AppFactory, client: AsyncTestClient[Any], own: World, db: asyncpg.Connection
) -> None:
    c = await limited(probe_max_codes=5, probe_window_s=60.0)
    item = await ready_item(client, own)
    good = item["tag"]["code"]
    phone = await _device(client, own)
    # Valid codes never count.
    for _ in range(8):
        r = await c.post("/api/v1/verify", json={"code": good}, headers=phone)
        assert r.status_code == 200, r.text
    assert await _probing_incidents(db, own) == []
    # Unregistered codes, a typo and junk: five are answered, then the phone is paused.
    probes = [codes.new_code() for _ in range(3)] + [good[:-1] + ("1" if good[-1] == "0" else "0")]
    probes.append("NOT-A-CODE")
    for probe in probes:
        r = await c.post("/api/v1/verify", json={"code": probe}, headers=phone)
        assert r.status_code == 200, r.text
        assert r.json()["verdict"] == "STOP"
    incidents = await _probing_incidents(db, own)
    assert len(incidents) == 1
    assert incidents[0]["item_id"] is None
    assert "device:" in incidents[0]["description"]
    recorded = await db.fetchval("SELECT count(*) FROM verifications")
    # From now on every scan from that phone is STOP 429, a registered code included,
    # so an unknown code cannot be told from a known one.
    for probe in (good, codes.new_code(), good):
        r = await c.post("/api/v1/verify", json={"code": probe}, headers=phone)
        assert r.status_code == 429, r.text
        body = r.json()
        assert body["verdict"] == "STOP"
        assert "item" not in body or body["item"] is None
        assert int(r.headers["retry-after"]) >= 1
    assert await db.fetchval("SELECT count(*) FROM verifications") == recorded
    assert len(await _probing_incidents(db, own)) == 1
    # Other phones of the production carry on.
    r = await c.post("/api/v1/verify", json={"code": good}, headers=own.h("scanner"))
    assert r.status_code == 200 and reason_codes(r.json()) == []


async def test_a_resent_unknown_code_counts_once(
    limited: AppFactory, client: AsyncTestClient[Any], own: World, db: asyncpg.Connection
) -> None:
    """A phone resending one scan (its answer lost) under its client_id is one scan: an
    online scan by code is decided again before its record finds the stored one, and
    must not be counted again on the way."""
    c = await limited(probe_max_codes=2, probe_window_s=60.0)
    phone = await _device(client, own)
    before = len(await _probing_incidents(db, own))
    body = {"code": codes.new_code(), "client_id": str(uuid.uuid4())}
    answers = []
    for _ in range(4):
        r = await c.post("/api/v1/verify", json=body, headers=phone)
        assert r.status_code == 200, r.text
        answers.append(r.json()["verification_id"])
    assert len(set(answers)) == 1
    assert len(await _probing_incidents(db, own)) == before
    # The second unknown code is the phone's second: the limit, one incident.
    r = await c.post("/api/v1/verify", json={"code": codes.new_code()}, headers=phone)
    assert r.status_code == 200, r.text
    assert len(await _probing_incidents(db, own)) == before + 1


async def test_another_code_under_a_used_client_id_still_counts(
    limited: AppFactory, client: AsyncTestClient[Any], own: World, db: asyncpg.Connection
) -> None:
    """Reusing one client_id for new unknown codes gets 409s, but each code was looked
    up: each counts as a probe, so the reuse is no way round the limit."""
    c = await limited(probe_max_codes=3, probe_window_s=60.0)
    phone = await _device(client, own)
    before = len(await _probing_incidents(db, own))
    cid = str(uuid.uuid4())
    statuses = []
    for _ in range(3):
        r = await c.post(
            "/api/v1/verify", json={"code": codes.new_code(), "client_id": cid}, headers=phone
        )
        statuses.append(r.status_code)
    assert statuses == [200, 409, 409]
    assert len(await _probing_incidents(db, own)) == before + 1


async def test_code_probing_is_counted_once_across_api_processes(
    limited: AppFactory, client: AsyncTestClient[Any], own: World, db: asyncpg.Connection
) -> None:
    """A load balancer spreads one prober's scans over two API processes (two apps, each
    with its own memory): the count is shared, so the fourth code reaches the limit, not
    the eighth."""
    one = await limited(probe_max_codes=4, probe_window_s=60.0)
    two = await limited(probe_max_codes=4, probe_window_s=60.0)
    item = await ready_item(client, own)
    good = item["tag"]["code"]
    phone = await _device(client, own)
    before = len(await _probing_incidents(db, own))
    answers = []
    for i in range(4):  # alternately to each process: two codes each
        r = await (one, two)[i % 2].post(
            "/api/v1/verify", json={"code": codes.new_code()}, headers=phone
        )
        answers.append(r.status_code)
    assert answers == [200, 200, 200, 200]
    assert len(await _probing_incidents(db, own)) == before + 1  # one, not one per process
    # The process that counted the fourth pauses the phone at once; the other learns it
    # from the shared count at the phone's next unknown code (answered, STOP, recorded).
    assert (await two.post("/api/v1/verify", json={"code": good}, headers=phone)).status_code == 429
    r = await one.post("/api/v1/verify", json={"code": codes.new_code()}, headers=phone)
    assert r.status_code == 200 and r.json()["verdict"] == "STOP"
    for c in (one, two):
        r = await c.post("/api/v1/verify", json={"code": good}, headers=phone)
        assert r.status_code == 429, r.text
        assert r.json()["verdict"] == "STOP"
    assert len(await _probing_incidents(db, own)) == before + 1


async def test_other_production_codes_are_not_probing(
    limited: AppFactory, client: AsyncTestClient[Any], own: World
) -> None:
    """Scanning a neighbouring production's real tags is a mistake, not a guess."""
    c = await limited(probe_max_codes=2, probe_window_s=60.0)
    r = await client.post(
        f"/api/v1/productions/{own.other_production_id}/items",
        json={"name": "Q prop", "capability_class": "non_firing_replica"},
        headers=own.h("q_prop_master"),
    )
    foreign = r.json()["tag"]["code"]
    for _ in range(4):
        r = await c.post("/api/v1/verify", json={"code": foreign}, headers=own.h("prop_master"))
        assert r.status_code == 200, r.text
        assert reason_codes(r.json()) == ["other_production"]


async def test_enrollment_codes_are_single_use_and_expire(
    client: AsyncTestClient[Any], own: World, db: asyncpg.Connection
) -> None:
    async def mint() -> str:
        r = await client.post(
            f"/api/v1/productions/{own.production_id}/enrollment-codes",
            headers=own.h("prop_master"),
        )
        assert r.status_code == 201, r.text
        code: str = r.json()["code"]
        return code

    code = await mint()
    assert (await client.post("/api/v1/auth/enroll", json={"code": code})).status_code == 200
    again = await client.post("/api/v1/auth/enroll", json={"code": code})
    assert again.status_code == 401, again.text

    stale = await mint()
    await db.execute(
        "UPDATE enrollment_codes SET expires_at = now() - interval '1 second'"
        " WHERE code_hash = sha256($1::text::bytea)",
        stale,
    )
    before = await db.fetchval("SELECT count(*) FROM tokens")
    r = await client.post("/api/v1/auth/enroll", json={"code": stale})
    assert r.status_code == 401, r.text
    assert await db.fetchval("SELECT count(*) FROM tokens") == before
