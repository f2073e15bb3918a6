"""Creating accounts and demo data from the command line (and tests)."""

from __future__ import annotations

from datetime import time
from typing import Any
from uuid import UUID

import asyncpg

from api import auth
from api.events import append
from api.recorder import store_now
from api.sql import q
from verifier import codes

__all__ = ["app_connection", "create_admin", "create_demo"]


async def app_connection(dsn: str) -> asyncpg.Connection:
    """A connection with the application's restricted role, like the API's."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn, server_settings={"role": "propcheck_app"})
    return conn


async def create_admin(dsn: str, email: str, password: str, studio: str) -> dict[str, Any]:
    """Create (or reuse) a studio and make ``email`` its studio admin.

    An existing account keeps its password; a new one gets ``password``.
    """
    conn = await app_connection(dsn)
    try:
        async with conn.transaction():
            row = await conn.fetchrow(q("studio_by_name"), studio)
            if row is None:
                row = await conn.fetchrow(q("insert_studio"), studio)
                await append(conn, row["id"], "studio.created", "cli", row["id"], {"name": studio})
            studio_id: UUID = row["id"]
            user_id = await conn.fetchval(q("user_id_by_email"), email)
            if user_id is None:
                user = await conn.fetchrow(
                    q("insert_user"), email, "", auth.hash_password(password)
                )
                user_id = user["id"]
                await append(conn, studio_id, "account.created", "cli", user_id, {"email": email})
            await conn.execute(q("upsert_studio_member"), studio_id, user_id, "studio_admin")
            await append(
                conn,
                studio_id,
                "member.added",
                "cli",
                user_id,
                {"email": email, "role": "studio_admin"},
            )
    finally:
        await conn.close()
    return {"studio_id": str(studio_id), "user_id": str(user_id), "email": email}


# name, class, status, what happens to it in the demo
_DEMO_SPECS: list[tuple[str, str, str, str]] = [
    ("Rubber Colt Single Action Army", "non_firing_replica", "active", "inspected"),
    ("Resin Winchester 1873 rifle", "non_firing_replica", "active", "checked_out"),
    ("Non-firing Glock 17 (moving slide)", "non_firing_mechanical", "active", "inspected"),
    ("Deactivated Lee-Enfield No. 4", "deactivated", "active", "inspected"),
    ("Foam M4 carbine", "non_firing_replica", "active", "incident"),
    ("Rubber Beretta 92", "non_firing_replica", "missing", "inspected"),
    ("Cast Colt 1911 (moving slide)", "non_firing_mechanical", "retired", "inspected"),
    ("Airsoft M4 (gas blowback)", "airsoft_projectile", "active", "inspected"),
    ("Blank-firing Beretta 92 (8 mm PAK)", "blank_firing", "active", "inspected"),
    ("Pietta 1873 SAA reproduction (.45 Colt)", "functional_firearm", "active", "inspected"),
    ("Rubber Remington 870 shotgun", "non_firing_replica", "active", "overdue"),
    ("Resin Colt Navy 1851", "non_firing_replica", "active", "never_inspected"),
]
_FILLERS = [
    "Rubber Smith & Wesson Model 10",
    "Resin Thompson M1928",
    "Foam AK-47",
    "Rubber Walther PPK",
    "Cast Mauser C96",
    "Resin Henry 1860 rifle",
]
DEMO_PASSWORD_ENV = "PROPCHECK_DEMO_PASSWORD"


def _demo_photo(name: str, seed: int) -> bytes:
    """A simple picture standing in for a prop photo."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (960, 720), (200 - seed * 7 % 60, 190, 170 + seed * 13 % 60))
    draw = ImageDraw.Draw(img)
    draw.rectangle((180, 300, 780, 380), fill=(40, 40, 40))  # barrel and body
    draw.polygon([(620, 380), (700, 380), (740, 600), (640, 600)], fill=(90, 60, 30))  # grip
    draw.text((40, 40), name, fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


async def _demo_item(
    conn: asyncpg.Connection,
    store: Any,
    production_id: UUID,
    actor_id: UUID,
    index: int,
    spec: tuple[str, str, str, str],
) -> UUID:
    """Register one demo item with a photo and a tag, then give it its story."""
    from datetime import date

    from api.photos import process_photo
    from api.safety import open_incident, record_inspection
    from api.tags import issue_tag
    from api.uploads import save_photo

    name, cls, status, story = spec
    actor = f"user:{actor_id}"
    photo = process_photo(_demo_photo(name, index), max_pixels=50_000_000)
    for blob in (photo.original, photo.display, photo.thumb):
        await store.put(blob.sha256, blob.data, blob.content_type)
    evidence = cls == "deactivated"
    async with conn.transaction():
        item_id: UUID = await conn.fetchval(
            q("insert_item"),
            production_id,
            name,
            f"Demo item {index + 1}.",
            cls,
            "Demo Props Ltd",
            "",
            f"DEMO-{index + 1:04d}",
            ["demo mark on the left side"],
            ["demo"],
            status,
            "DEACT-2019-0042" if evidence else None,
            "Birmingham Proof House" if evidence else None,
            date(2019, 5, 14) if evidence else None,
            actor_id,
        )
        saved = await save_photo(
            conn, photo, production_id=production_id, item_id=item_id, purpose="item", actor=actor
        )
        await append(
            conn,
            production_id,
            "item.registered",
            actor,
            item_id,
            {"name": name, "capability_class": cls, "status": status, "photos": [saved["id"]]},
        )
        await issue_tag(conn, production_id, item_id, actor)
        if story != "never_inspected":
            await record_inspection(
                conn,
                production_id=production_id,
                item_id=item_id,
                kind="before_use",
                result="pass",
                notes="demo inspection",
                actor=actor,
            )
        if story == "incident":
            await open_incident(
                conn,
                production_id=production_id,
                item_id=item_id,
                kind="damaged",
                description="Stock cracked during rehearsal (demo).",
                actor=actor,
            )
    if story in ("checked_out", "overdue"):
        await _demo_checkout(conn, production_id, item_id, actor, overdue=story == "overdue")
    return item_id


async def _demo_checkout(
    conn: asyncpg.Connection, production_id: UUID, item_id: UUID, actor: str, *, overdue: bool
) -> None:
    """A real verification, confirmation and hand-off through the verdict rules."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from api.events import canonical
    from api.verification import evaluate, load_facts
    from verifier import rules

    performer = "Performer B" if overdue else "Performer A"
    code = await conn.fetchval(q("active_tag_code"), item_id)
    facts = evaluate(
        await load_facts(conn, code, production_id),
        device="demo",
        purpose="checkout",
        handoff_to=performer,
        visual_match=True,
    )
    verdict = rules.decide(facts)
    if verdict.verdict != "CLEARED":
        return
    vid = uuid.uuid4()
    async with conn.transaction():
        body = {
            "verification_id": vid,
            "verdict": "CLEARED",
            "purpose": "checkout",
            "handoff_to": performer,
            "method": "code",
            "reasons": [],
        }
        # Demo data: decided above on facts read in this transaction, so not checked.
        args = [vid, None, production_id, code, None, item_id, "CLEARED", [], False]
        args += ["checkout", performer, "code", None, actor, "demo", False, None]
        await store_now(conn, args, canonical(body))
        await conn.fetchval(q("insert_confirmation"), vid, None, True, actor)
        await append(
            conn,
            production_id,
            "verification.confirmed",
            actor,
            item_id,
            {"verification_id": vid, "match": True},
        )
        out_at = datetime.now(UTC) - (timedelta(days=1) if overdue else timedelta(0))
        checkout_id = await conn.fetchval(
            q("insert_checkout_at"),
            production_id,
            item_id,
            performer,
            "12",
            "3",
            vid,
            actor,
            out_at,
        )
        await append(
            conn,
            production_id,
            "custody.checked_out",
            actor,
            item_id,
            {
                "checkout_id": checkout_id,
                "performer": performer,
                "verification_id": vid,
                "out_at": out_at,
            },
        )


async def create_demo(dsn: str, *, items: int = 24) -> dict[str, Any]:
    """A demo studio and production; reuses them when run again."""
    import os
    import secrets

    from api.settings import get_settings
    from api.storage import store_from_settings

    if items < len(_DEMO_SPECS):
        raise ValueError(f"the demo needs at least {len(_DEMO_SPECS)} items")
    settings = get_settings()
    store = store_from_settings(settings.blob_url, settings.blob_dir)
    password = os.environ.get(DEMO_PASSWORD_ENV) or secrets.token_urlsafe(12)
    admin = await create_admin(dsn, "admin@demo.propcheck.test", password, "Demo Studio")
    studio_id = UUID(admin["studio_id"])
    conn = await app_connection(dsn)
    try:
        production_id = await conn.fetchval(q("production_by_name"), studio_id, "Demo Production")
        if production_id is None:
            async with conn.transaction():
                row = await conn.fetchrow(
                    q("insert_production"), studio_id, "Demo Production", time(23, 0), "UTC", "{}"
                )
                production_id = row["id"]
                await append(
                    conn,
                    production_id,
                    "production.created",
                    "cli",
                    production_id,
                    {"name": "Demo Production"},
                )
        users: dict[str, UUID] = {"studio_admin": UUID(admin["user_id"])}
        for role in ("prop_master", "scanner", "auditor"):
            email = f"{role.replace('_', '')}@demo.propcheck.test"
            async with conn.transaction():
                user_id = await conn.fetchval(q("user_id_by_email"), email)
                if user_id is None:
                    user = await conn.fetchrow(
                        q("insert_user"), email, role, auth.hash_password(password)
                    )
                    user_id = user["id"]
                    await append(
                        conn, studio_id, "account.created", "cli", user_id, {"email": email}
                    )
                prev = await conn.fetchval(
                    q("upsert_production_member"), production_id, user_id, role
                )
                if prev != role:
                    await append(
                        conn,
                        production_id,
                        "member.added",
                        "cli",
                        user_id,
                        {"email": email, "role": role},
                    )
            users[role] = user_id
        existing = [r["id"] for r in await conn.fetch(q("production_item_ids"), production_id)]
        specs = _DEMO_SPECS + [
            (f"{_FILLERS[i % len(_FILLERS)]} #{i + 1}", "non_firing_replica", "active", "inspected")
            for i in range(items - len(_DEMO_SPECS))
        ]
        for index in range(len(existing), items):
            existing.append(
                await _demo_item(
                    conn, store, production_id, users["prop_master"], index, specs[index]
                )
            )
        tokens: dict[str, str] = {}
        for role, user_id in users.items():
            token = auth.new_secret("pct")
            await conn.fetchrow(
                q("insert_token"),
                auth.hash_secret(token),
                user_id,
                None,
                None,
                settings.token_hours * 3600,
            )
            tokens[role] = token
        tags = await conn.fetch(q("active_tags_of_items"), existing[:items])
    finally:
        await conn.close()
    return {
        "production_id": str(production_id),
        "studio_id": str(studio_id),
        "tokens": tokens,
        "password_hint": f"accounts *@demo.propcheck.test; password from ${DEMO_PASSWORD_ENV}"
        if os.environ.get(DEMO_PASSWORD_ENV)
        else "accounts *@demo.propcheck.test have a random password; set "
        f"${DEMO_PASSWORD_ENV} to choose one",
        "tags": [
            {
                "code": t["code"],
                "display": codes.format_code(t["code"]),
                "item_id": str(t["item_id"]),
                "capability_class": t["capability_class"],
                "status": t["status"],
            }
            for t in tags
        ],
    }
