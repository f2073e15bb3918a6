"""Members from outside the studio: invitations, not lookups by e-mail (migration 0018)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.auth import hash_secret
from tests.api.helpers import enroll_phone, new_production
from tests.conftest import World, make_world


@pytest.fixture(scope="module")
async def w(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> World:
    return await make_world(db, client)


async def _chain_length(db: asyncpg.Connection, chain: str) -> int:
    n: int = await db.fetchval("SELECT count(*) FROM events WHERE chain_id = $1::uuid", chain)
    return n


def _email(w: World, caller: str) -> str:
    """The e-mail of one of the world's other-studio accounts."""
    return f"{caller}-{w.tag}@x.test"


async def _invite(
    client: AsyncTestClient[Any], w: World, pid: str, role: str, caller: str
) -> dict[str, Any]:
    """An invitation to ``pid`` for ``caller``'s account."""
    r = await client.post(
        f"/api/v1/productions/{pid}/invitations",
        json={"role": role, "email": _email(w, caller)},
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _expire(db: asyncpg.Connection, invitation: dict[str, Any]) -> None:
    """Let ``invitation`` run out (a second ago)."""
    await db.execute(
        "UPDATE member_invitations SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(invitation["id"]),
    )


async def _accept(client: AsyncTestClient[Any], headers: dict[str, str], code: str) -> Any:
    return await client.post("/api/v1/invitations/accept", json={"code": code}, headers=headers)


async def test_another_studios_account_is_not_found_by_email(
    client: AsyncTestClient[Any], db: asyncpg.Connection, w: World
) -> None:
    """An admin of studio A cannot add studio B's prop master by e-mail, nor tell that
    e-mail from one nobody has: the same 404, nothing joined, nothing appended."""
    before = await _chain_length(db, w.production_id)
    answers = []
    for email in (f"q_prop_master-{w.tag}@x.test", f"nobody-{w.tag}@x.test"):
        r = await client.post(
            f"/api/v1/productions/{w.production_id}/members",
            json={"email": email, "role": "prop_master"},
            headers=w.h("studio_admin"),
        )
        answers.append((r.status_code, r.json()["detail"]))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404
    r = await client.get(f"/api/v1/productions/{w.production_id}", headers=w.h("q_prop_master"))
    assert r.status_code == 404
    assert await _chain_length(db, w.production_id) == before


async def test_an_invitation_joins_its_holder_once(
    client: AsyncTestClient[Any], db: asyncpg.Connection, w: World
) -> None:
    pid = await new_production(client, w, "Invited")
    inv = await _invite(client, w, pid, "scanner", "q_scanner")
    assert inv["code"].startswith("pci_") and inv["role"] == "scanner"
    assert inv["invite_url"].endswith(f"#invite={inv['code']}")
    # Stored as a hash only; the chain says an invitation was made, never its code.
    stored = await db.fetchrow(
        "SELECT role, used_at FROM member_invitations WHERE code_hash = $1",
        hash_secret(inv["code"]),
    )
    assert stored is not None and stored["role"] == "scanner" and stored["used_at"] is None
    invited = await db.fetchval(
        "SELECT body FROM events WHERE chain_id = $1::uuid AND kind = 'member.invited'", pid
    )
    assert inv["code"] not in invited

    # Only the account it names redeems it: another account (a forwarded link) gets the
    # answer of an unknown code, and the code stays unspent.
    r = await _accept(client, w.h("q_prop_master"), inv["code"])
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == "This invitation is unknown, used or expired."

    # Studio B's scanner redeems it, signed in to its own account.
    r = await _accept(client, w.h("q_scanner"), inv["code"])
    assert r.status_code == 200, r.text
    assert r.json() == {"production_id": pid, "role": "scanner", "previous_role": None}
    r = await client.get(f"/api/v1/productions/{pid}", headers=w.h("q_scanner"))
    assert r.status_code == 200
    # Its own production and the one it joined, and nothing else of studio A.
    r = await client.get(f"/api/v1/productions/{w.production_id}", headers=w.h("q_scanner"))
    assert r.status_code == 404
    added = await db.fetchrow(
        "SELECT actor, subject_id FROM events WHERE chain_id = $1::uuid AND kind = 'member.added'"
        " AND body LIKE '%\"invitation\":true%'",
        pid,
    )
    assert added is not None and added["actor"].startswith("user:")

    # Spent: nobody joins with it again, not even its first holder.
    for caller in ("q_prop_master", "q_scanner"):
        r = await _accept(client, w.h(caller), inv["code"])
        assert r.status_code == 404, r.text
    r = await client.get(f"/api/v1/productions/{pid}", headers=w.h("q_prop_master"))
    assert r.status_code == 404

    # Once a member, the studio counts the account as its own: it can be removed and
    # added again by e-mail.
    members = await client.get(f"/api/v1/productions/{pid}/members", headers=w.h("studio_admin"))
    joined = next(m for m in members.json() if m["email"] == f"q_scanner-{w.tag}@x.test")
    r = await client.delete(
        f"/api/v1/productions/{pid}/members/{joined['user_id']}", headers=w.h("studio_admin")
    )
    assert r.status_code == 204
    r = await client.post(
        f"/api/v1/productions/{pid}/members",
        json={"email": f"q_scanner-{w.tag}@x.test", "role": "auditor"},
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 200, r.text


async def test_expired_or_forged_codes_join_nobody(
    client: AsyncTestClient[Any], db: asyncpg.Connection, w: World
) -> None:
    pid = await new_production(client, w, "Expired")
    inv = await _invite(client, w, pid, "auditor", "q_prop_master")
    await _expire(db, inv)
    before = await _chain_length(db, pid)
    for code in (inv["code"], inv["code"][:-1] + "x", "pci_" + "A" * 43):
        r = await _accept(client, w.h("q_prop_master"), code)
        assert r.status_code == 404, r.text
        assert r.json()["detail"] == "This invitation is unknown, used or expired."
    assert await _chain_length(db, pid) == before
    r = await client.get(f"/api/v1/productions/{pid}", headers=w.h("q_prop_master"))
    assert r.status_code == 404


async def test_a_phone_cannot_join_and_does_not_spend_the_code(
    client: AsyncTestClient[Any], db: asyncpg.Connection, w: World
) -> None:
    pid = await new_production(client, w, "Phone")
    inv = await _invite(client, w, pid, "prop_master", "q_prop_master")
    phone = await enroll_phone(client, w.production_id, w.h("prop_master"))
    r = await _accept(client, phone, inv["code"])
    assert r.status_code == 403, r.text
    used = await db.fetchval(
        "SELECT used_at FROM member_invitations WHERE code_hash = $1", hash_secret(inv["code"])
    )
    assert used is None
    # The code still works for an account.
    r = await _accept(client, w.h("q_prop_master"), inv["code"])
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "prop_master"


async def test_an_archived_production_takes_no_one(
    client: AsyncTestClient[Any], db: asyncpg.Connection, w: World
) -> None:
    """A code minted before the archive joins nobody after it; none is minted after."""
    pid = await new_production(client, w, "Wrapped")
    inv = await _invite(client, w, pid, "scanner", "q_scanner")
    r = await client.post(f"/api/v1/productions/{pid}/archive", headers=w.h("studio_admin"))
    assert r.status_code == 200, r.text
    # None is listed as open any more: none can be redeemed.
    r = await client.get(f"/api/v1/productions/{pid}/invitations", headers=w.h("studio_admin"))
    assert r.status_code == 200 and r.json() == []
    r = await _accept(client, w.h("q_scanner"), inv["code"])
    assert r.status_code == 400, r.text
    r = await client.get(f"/api/v1/productions/{pid}", headers=w.h("q_scanner"))
    assert r.status_code == 404
    # The refusal rolled the claim back with everything else.
    used = await db.fetchval(
        "SELECT used_at FROM member_invitations WHERE code_hash = $1", hash_secret(inv["code"])
    )
    assert used is None
    r = await client.post(
        f"/api/v1/productions/{pid}/invitations",
        json={"role": "scanner", "email": _email(w, "q_scanner")},
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"role": "studio_admin", "email": "a@b.test"},
        {"role": "scanner", "email": "a@b.test", "extra": 1},
        {"role": "scanner"},
        {"role": "scanner", "email": "not an e-mail"},
        # Nothing after the end, nothing invisible, no look-alike @: no second "alice".
        {"role": "scanner", "email": "alice@x.test\n"},
        {"role": "scanner", "email": "ali\u200bce@x.test"},
        {"role": "scanner", "email": "alice\uff20x.test"},
        {"role": "scan\u0000ner", "email": "a@b.test"},
        {},
    ],
)
async def test_invitation_bodies_are_checked(
    client: AsyncTestClient[Any], w: World, body: dict[str, Any]
) -> None:
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/invitations", json=body, headers=w.h("studio_admin")
    )
    assert r.status_code == 400, r.text


async def test_an_open_invitation_is_listed_without_its_code_and_can_be_withdrawn(
    client: AsyncTestClient[Any], db: asyncpg.Connection, w: World
) -> None:
    """Sent to the wrong address, say: the admin sees it open and withdraws it, and its
    code then joins nobody, not even the account it names."""
    pid = await new_production(client, w, "Withdrawn")
    inv = await _invite(client, w, pid, "prop_master", "q_prop_master")
    r = await client.get(f"/api/v1/productions/{pid}/invitations", headers=w.h("studio_admin"))
    assert r.status_code == 200, r.text
    (listed,) = r.json()
    assert listed["id"] == inv["id"] and listed["email"] == _email(w, "q_prop_master")
    assert listed["role"] == "prop_master" and "code" not in listed
    assert inv["code"] not in r.text

    url = f"/api/v1/productions/{pid}/invitations/{inv['id']}/withdraw"
    r = await client.post(url, headers=w.h("studio_admin"))
    assert r.status_code == 204, r.text
    r = await client.get(f"/api/v1/productions/{pid}/invitations", headers=w.h("studio_admin"))
    assert r.json() == []
    r = await _accept(client, w.h("q_prop_master"), inv["code"])
    assert r.status_code == 404, r.text
    r = await client.get(f"/api/v1/productions/{pid}", headers=w.h("q_prop_master"))
    assert r.status_code == 404
    withdrawn = await db.fetchval(
        "SELECT body FROM events WHERE chain_id = $1::uuid"
        " AND kind = 'member.invitation_withdrawn'",
        pid,
    )
    assert inv["id"] in withdrawn and inv["code"] not in withdrawn
    # Once only; and a used invitation cannot be withdrawn (its member is removed instead).
    r = await client.post(url, headers=w.h("studio_admin"))
    assert r.status_code == 404, r.text
    used = await _invite(client, w, pid, "scanner", "q_scanner")
    assert (await _accept(client, w.h("q_scanner"), used["code"])).status_code == 200
    r = await client.post(
        f"/api/v1/productions/{pid}/invitations/{used['id']}/withdraw",
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 404, r.text
    # Another production's invitation id is not found through this one.
    other = await _invite(client, w, pid, "auditor", "q_prop_master")
    r = await client.post(
        f"/api/v1/productions/{w.production_id}/invitations/{other['id']}/withdraw",
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 404, r.text


async def test_an_invitation_is_redeemed_whatever_the_case_of_the_e_mail(
    client: AsyncTestClient[Any], w: World
) -> None:
    """E-mails name accounts without regard to case (the accounts' unique index)."""
    pid = await new_production(client, w, "Case")
    r = await client.post(
        f"/api/v1/productions/{pid}/invitations",
        json={"role": "auditor", "email": _email(w, "q_scanner").upper()},
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 201, r.text
    r = await _accept(client, w.h("q_scanner"), r.json()["code"])
    assert r.status_code == 200, r.text


async def test_an_expired_invitation_is_not_withdrawn(
    client: AsyncTestClient[Any], db: asyncpg.Connection, w: World
) -> None:
    pid = await new_production(client, w, "Lapsed")
    inv = await _invite(client, w, pid, "scanner", "q_scanner")
    await _expire(db, inv)
    r = await client.post(
        f"/api/v1/productions/{pid}/invitations/{inv['id']}/withdraw",
        headers=w.h("studio_admin"),
    )
    assert r.status_code == 404, r.text
