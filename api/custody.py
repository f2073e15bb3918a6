"""Custody: the prop master hands an item to a performer and takes it back.

Mirrors California Labor Code Part 13 practice: only the prop master (ACT permission)
hands out and collects; a check-out needs a confirmed CLEARED verification of the
item's current tag, for this performer, inside the validity window, and the facts are
evaluated again at the moment of hand-off. One item is out with at most one performer:
a partial unique index decides races between simultaneous requests.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException

from api.archive import refuse_if_archived
from api.auth import Perm, Principal
from api.errors import json_error
from api.events import append
from api.safety import open_incident, record_inspection
from api.schemas import Long, Name, Short
from api.sql import q
from api.state import AUTHED
from api.verification import evaluate, load_facts
from verifier import rules

__all__ = ["CustodyController", "last_wrap", "production_zone"]


class AfterUse(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The after-use inspection offered at check-in."""

    result: str
    notes: Long = ""


class CheckoutIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    verification_id: UUID
    performer: Name
    scene: Short = ""
    take: Short = ""
    client_id: UUID | None = None
    #: Replayed from a phone's offline outbox: the hand-off already happened on set, so
    #: it is recorded even when the server's checks fail, with an incident saying why.
    offline: bool = False
    #: When the phone recorded the hand-off (offline replays): with the scan's own
    #: client_time it measures the scan's age on set, not at replay.
    client_time: datetime | None = None


class CheckinIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    verification_id: UUID
    inspection: AfterUse | None = None
    client_id: UUID | None = None
    #: Replayed from a phone's outbox: when the check-in is refused (its scan too old
    #: by now, or the item no longer checked out), its after-use inspection is still
    #: recorded, once, so that a failed one quarantines the item; it used to be lost.
    offline: bool = False
    #: When the phone recorded the check-in (replays): kept in the event.
    client_time: datetime | None = None


class CustodyOut(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    item_id: UUID
    performer: str
    scene: str
    take: str
    out_at: datetime
    in_at: datetime | None = None
    item_name: str | None = None
    capability_class: str | None = None
    out_by: str | None = None
    overdue: bool = False


class Board(msgspec.Struct, kw_only=True, frozen=True):
    """Who has what, now."""

    production_id: UUID
    checked_out: list[CustodyOut]
    overdue: int
    last_wrap: datetime
    generated_at: datetime


def production_zone(tz_name: str) -> ZoneInfo:
    """A production's time zone; UTC for a name this machine's zone database lacks."""
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def last_wrap(now: datetime, wrap: time, tz_name: str) -> datetime:
    """The most recent wrap time at or before ``now`` in the production's time zone."""
    tz = production_zone(tz_name)
    local = now.astimezone(tz)
    today = datetime.combine(local.date(), wrap, tzinfo=tz)
    return today if today <= local else today - timedelta(days=1)


def _custody(row: asyncpg.Record, **extra: Any) -> CustodyOut:
    fields = {k: v for k, v in dict(row).items() if k in CustodyOut.__struct_fields__}
    return CustodyOut(**fields, **extra)


def _refused(detail: str, reasons: tuple[rules.Reason, ...] = ()) -> Response[dict[str, Any]]:
    return json_error(
        409, detail, error="handoff_refused", reasons=[msgspec.to_builtins(r) for r in reasons]
    )


#: Namespace of the incident ids made from an unrecordable offline hand-off's client_id
#: (a replay of the hand-off finds the incident already there).
_UNRECORDED_HANDOFF = uuid.UUID("6f1d9c2e-3f55-4a43-9b2c-7c4f1f0e8a11")
#: Namespace of the after-use inspection ids made from a check-in's client_id: the
#: inspection a refused replay kept is the one its resend brings when it succeeds.
_CHECKIN_INSPECTION = uuid.UUID("2b7e51c4-8d0a-4f3e-a6b9-5c1d2e3f4a70")


def _inspection_id(data: CheckinIn) -> UUID | None:
    return None if data.client_id is None else uuid.uuid5(_CHECKIN_INSPECTION, str(data.client_id))


class CustodyController(Controller):
    """Check-out, check-in and the who-has-what board."""

    path = "/api/v1/productions/{production_id:uuid}"
    tags = ["custody"]
    dependencies = AUTHED

    async def _verification(
        self, conn: asyncpg.Connection, production_id: UUID, verification_id: UUID
    ) -> asyncpg.Record:
        v = await conn.fetchrow(q("handoff_verification"), verification_id)
        if v is None or v["production_id"] != production_id:
            raise NotFoundException("No such verification in this production.")
        return v

    async def _handoff_problem(
        self,
        conn: asyncpg.Connection,
        production_id: UUID,
        v: asyncpg.Record,
        performer: str,
        handed_at: datetime | None = None,
    ) -> tuple[str, tuple[rules.Reason, ...]] | None:
        """Why this scan may not back a hand-off to ``performer`` now, or None.

        ``handed_at`` (an offline replay's client_time) measures the scan's age on the
        phone's own clock, when the scan carries one too.
        """
        if v["verdict"] != "CLEARED":
            return "That scan was STOP: the item cannot be handed over.", ()
        if v["purpose"] != "checkout" or v["handoff_to"] != performer:
            return f"Scan the item for a hand-off to {performer!r} first (purpose checkout).", ()
        facts_row = await load_facts(conn, v["tag_code"], production_id)
        facts = evaluate(
            facts_row,
            device=v["device"],
            purpose="checkout",
            handoff_to=performer,
            visual_match=v["confirmed_match"],
            exclude_verification=v["id"],
        )
        verdict = rules.decide(facts)
        age = facts.now - v["created_at"]  # as of the facts: after the locks' waits
        if handed_at is not None and v["client_time"] is not None:
            age = handed_at - v["client_time"]
        if not timedelta(0) <= age <= timedelta(minutes=facts.policy.verification_valid_minutes):
            return "That scan is too old for a hand-off: scan the item again.", ()
        if verdict.verdict != "CLEARED":
            return "The item is not cleared now.", verdict.reasons
        if verdict.needs_confirmation:
            return "The person who scanned must first confirm the item matches.", ()
        return None

    @post("/checkouts", operation_id="checkOut", status_code=201)
    async def check_out(
        self, production_id: UUID, data: CheckoutIn, principal: Principal, conn: asyncpg.Connection
    ) -> Response[Any]:
        """Hand an item to a performer: needs a confirmed CLEARED scan for this hand-off."""
        principal.require(production_id, Perm.ACT)
        if data.client_id is not None:
            done = await conn.fetchrow(q("checkout_by_client_id"), data.client_id, production_id)
            if done is not None:
                return Response(_custody(done), status_code=201)
        v = await self._verification(conn, production_id, data.verification_id)
        if v["item_id"] is None or v["tag_code"] is None:
            return _refused("That scan did not identify an item of this production.")
        handed_at = data.client_time if data.offline else None
        try:
            async with conn.transaction():
                if not data.offline:  # one made offline happened: it is recorded
                    await refuse_if_archived(conn, production_id)
                # The item's row first: every write its verdict reads (a quarantine, an
                # incident, a revoked tag, another hand-off) updates that row, so the
                # check below sees all of them that committed, and none can land
                # between the check and this hand-off.
                await conn.fetchrow(q("item_lock"), v["item_id"])
                # Then the chain head (the lock order of migration 0012), which the
                # hand-off's event needs: taken before the check, so that the item's
                # inspection is judged as of the hand-off's record, not seconds before
                # it while other writers of the production held the chain.
                await conn.execute(q("lock_chain"), production_id)
                problem = await self._handoff_problem(
                    conn, production_id, v, data.performer, handed_at
                )
                if problem is not None and not data.offline:
                    return _refused(*problem)
                row = await conn.fetchrow(
                    q("insert_checkout"),
                    data.client_id,
                    production_id,
                    v["item_id"],
                    data.performer,
                    data.scene,
                    data.take,
                    v["id"],
                    principal.actor,
                )
                await append(
                    conn,
                    production_id,
                    "custody.checked_out",
                    principal.actor,
                    v["item_id"],
                    {
                        "checkout_id": row["id"],
                        "performer": data.performer,
                        "scene": data.scene,
                        "take": data.take,
                        "verification_id": v["id"],
                        "client_id": data.client_id,
                        "offline": data.offline,
                    },
                )
                if problem is not None:
                    await open_incident(
                        conn,
                        production_id=production_id,
                        item_id=v["item_id"],
                        kind="other",
                        description=f"Offline hand-off the server would have refused: {problem[0]}",
                        actor="system",
                        verification_id=v["id"],
                    )
        except asyncpg.UniqueViolationError:
            if data.client_id is not None:
                # A concurrent replay of the same hand-off committed first: its answer.
                done = await conn.fetchrow(
                    q("checkout_by_client_id"), data.client_id, production_id
                )
                if done is not None:
                    return Response(_custody(done), status_code=201)
            if data.offline:
                # The hand-off happened on set all the same: the record says so, once
                # however often the phone replays it, and the item waits for a look.
                async with conn.transaction():
                    await open_incident(
                        conn,
                        production_id=production_id,
                        item_id=v["item_id"],
                        kind="other",
                        description=(
                            f"Offline hand-off to {data.performer!r} could not be recorded: "
                            "the item was already checked out, or that scan already used. "
                            "Find the item and who holds it."
                        ),
                        actor="system",
                        verification_id=v["id"],
                        client_id=(
                            uuid.uuid5(_UNRECORDED_HANDOFF, str(data.client_id))
                            if data.client_id is not None
                            else None
                        ),
                    )
            return _refused("This item is already checked out, or that scan was already used.")
        return Response(_custody(row), status_code=201)

    @staticmethod
    async def _after_use(
        conn: asyncpg.Connection,
        production_id: UUID,
        v: asyncpg.Record,
        data: CheckinIn,
        inspection: AfterUse,
        principal: Principal,
    ) -> None:
        """Record the check-in's after-use inspection under an id made from its
        client_id: stored once, whether a refused replay of it kept it first or not."""
        await record_inspection(
            conn,
            production_id=production_id,
            item_id=v["item_id"],
            kind="after_use",
            result=inspection.result,
            notes=inspection.notes,
            actor=principal.actor,
            client_id=_inspection_id(data),
        )

    async def _refuse_check_in(
        self,
        conn: asyncpg.Connection,
        production_id: UUID,
        v: asyncpg.Record,
        data: CheckinIn,
        principal: Principal,
        why: str,
    ) -> Response[Any]:
        """Refuse the check-in. A replay's failed after-use inspection was made on set all
        the same: it is recorded (once however often the phone replays it) and
        quarantines the item. A pass is not kept: it would put back in service an item
        quarantined meanwhile (review), and the check-in made again brings its own."""
        if data.offline and data.inspection is not None and data.inspection.result == "fail":
            await self._after_use(conn, production_id, v, data, data.inspection, principal)
            why += " Its failed after-use inspection was recorded (the item is quarantined)."
        return _refused(why)

    @post("/checkins", operation_id="checkIn", status_code=200)
    async def check_in(
        self, production_id: UUID, data: CheckinIn, principal: Principal, conn: asyncpg.Connection
    ) -> Response[Any]:
        """Take an item back: needs a scan of the returned item; offers the after-use
        inspection (a failed one quarantines the item)."""
        principal.require(production_id, Perm.ACT)
        if data.client_id is not None:
            # A replay already stored, answered without taking the chain head (which
            # holds up the production's verifies); asked again under the locks below.
            done = await conn.fetchrow(q("checkin_by_client_id"), data.client_id, production_id)
            if done is not None:
                return Response(_custody(done), status_code=200)
        if data.inspection is not None and data.inspection.result not in ("pass", "fail"):
            return json_error(400, "inspection.result is 'pass' or 'fail'.", error="bad_request")
        if data.offline and data.client_id is None:
            # A replay is stored once by its client_id; without one, each resend would be.
            return json_error(400, "An offline check-in needs its client_id.", error="bad_request")
        v = await self._verification(conn, production_id, data.verification_id)
        if v["item_id"] is None:
            return _refused("That scan did not identify an item of this production.")
        policy = await conn.fetchval(q("production_by_id_policy"), production_id)
        minutes = msgspec.json.decode(policy, type=rules.Policy).verification_valid_minutes
        async with conn.transaction():
            # The item's row, then the chain head (the lock order of migration 0012; the
            # check-in's update took the item through its facts-version trigger anyway),
            # so that the scan's age is measured after both waits: it was measured before
            # the transaction, and an item was taken back on a scan seconds too old.
            await conn.fetchrow(q("item_lock"), v["item_id"])
            await conn.execute(q("lock_chain"), production_id)
            if data.client_id is not None:
                # A resend of this very check-in that committed while this one waited.
                done = await conn.fetchrow(q("checkin_by_client_id"), data.client_id, production_id)
                if done is not None:
                    return Response(_custody(done), status_code=200)
            age = await conn.fetchval(q("clock_now")) - v["created_at"]
            # The server's clock, replays included: the check-in closes the check-out
            # open now, so only a scan stored within the window may stand for "the item
            # is back now". Timed on the phone's clock, a late replay closed a later
            # check-out of the item, to another performer, who still held it (review).
            # An offline scan is stored when replayed: the next check guards it.
            if age > timedelta(minutes=minutes):
                return await self._refuse_check_in(
                    conn,
                    production_id,
                    v,
                    data,
                    principal,
                    "That scan is too old: scan the returned item again.",
                )
            out = await conn.fetchrow(q("open_checkout_scan"), v["item_id"])
            if out is not None and v["scanned_at"] < out["scanned_at"]:
                # A scan from before this hand-off (a replay queued on one phone while
                # another took the item back and handed it out again) is not this
                # return. An offline scan is timed by its phone's clock, all there is.
                return await self._refuse_check_in(
                    conn,
                    production_id,
                    v,
                    data,
                    principal,
                    f"That scan was made before the item was handed to {out['performer']}: "
                    "scan the returned item again.",
                )
            row = await conn.fetchrow(
                q("close_checkout"), v["item_id"], principal.actor, v["id"], data.client_id
            )
            if row is None:
                # (A resend of this check-in that committed first was answered above:
                # it held the item's row, which this one waited for.)
                return await self._refuse_check_in(
                    conn, production_id, v, data, principal, "This item is not checked out."
                )
            body: dict[str, Any] = {
                "checkout_id": row["id"],
                "verification_id": v["id"],
                "client_id": data.client_id,
            }
            if data.offline:
                body |= {"offline": True, "client_time": data.client_time}
            await append(
                conn, production_id, "custody.checked_in", principal.actor, v["item_id"], body
            )
            if data.inspection is not None:
                await self._after_use(conn, production_id, v, data, data.inspection, principal)
        return Response(_custody(row), status_code=200)

    @get("/custody", operation_id="custodyBoard")
    async def board(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> Board:
        """Who has what now; items still out after the last wrap time are overdue."""
        principal.require(production_id, Perm.READ)
        prod = await conn.fetchrow(q("production_by_id"), production_id)
        now = datetime.now(UTC)
        wrap = last_wrap(now, prod["wrap_time"], prod["timezone"])
        out = [
            _custody(r, overdue=r["out_at"] < wrap)
            for r in await conn.fetch(q("custody_board"), production_id)
        ]
        return Board(
            production_id=production_id,
            checked_out=out,
            overdue=sum(c.overdue for c in out),
            last_wrap=wrap,
            generated_at=now,
        )
