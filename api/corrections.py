"""Corrections and the raw record: a correction is a new event, never an edit.

As in electronic bound books (ATF Ruling 2016-1), the original entry stays as it was;
the correction refers to it by sequence number and hash, and the two can be listed
separately.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, get, post
from litestar.exceptions import ClientException
from litestar.params import Parameter
from msgspec import Meta

from api.auth import Perm, Principal
from api.events import append
from api.sql import q
from api.state import AUTHED

__all__ = ["RecordController"]


class CorrectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    #: The sequence number of the event being corrected.
    corrects_seq: Annotated[int, Meta(ge=1, le=2**62)]
    #: What was wrong and what is right, in words.
    note: Annotated[str, Meta(min_length=1, max_length=5000, pattern=r"^[^\x00]*$")]
    #: Corrected values, for the record (not applied to current state).
    values: dict[
        Annotated[str, Meta(max_length=100, pattern=r"^[^\x00]*$")],
        Annotated[str, Meta(max_length=1000, pattern=r"^[^\x00]*$")],
    ] = {}


class EventOut(msgspec.Struct, kw_only=True, frozen=True):
    seq: int
    kind: str
    actor: str
    subject_id: UUID | None
    at: datetime
    body: dict[str, object]
    prev_hash: str
    hash: str


class RecordController(Controller):
    """A production's record: read its events, append corrections."""

    path = "/api/v1/productions/{production_id:uuid}"
    tags = ["record"]
    dependencies = AUTHED

    @post("/corrections", operation_id="appendCorrection", status_code=201)
    async def correct(
        self,
        production_id: UUID,
        data: CorrectionIn,
        principal: Principal,
        conn: asyncpg.Connection,
    ) -> EventOut:
        """Append a correction of an earlier event (prop master); the original stays."""
        principal.require(production_id, Perm.ACT)
        if len(data.values) > 50:
            raise ClientException("At most 50 corrected values.")
        async with conn.transaction():
            original = await conn.fetchrow(q("event_in_chain"), production_id, data.corrects_seq)
            if original is None:
                raise ClientException(f"This production has no event {data.corrects_seq}.")
            seq = await append(
                conn,
                production_id,
                "correction",
                principal.actor,
                None,
                {
                    "corrects_seq": data.corrects_seq,
                    "corrects_hash": original["hash"],
                    "corrects_kind": original["kind"],
                    "note": data.note,
                    "values": data.values,
                },
            )
            rows = await conn.fetch(q("chain_events_page"), production_id, seq - 1, None, 1)
        return _event(rows[0])

    @get("/events", operation_id="listEvents")
    async def events(
        self,
        production_id: UUID,
        principal: Principal,
        conn: asyncpg.Connection,
        after_seq: Annotated[int, Parameter(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 200,
        corrections: Literal["only", "exclude"] | None = None,
    ) -> list[EventOut]:
        """The production's events in order; ``corrections=only`` or ``exclude`` to
        show originals and corrections separately."""
        principal.require(production_id, Perm.READ)
        rows = await conn.fetch(
            q("chain_events_page"), production_id, after_seq, corrections, limit
        )
        return [_event(r) for r in rows]


def _event(r: asyncpg.Record) -> EventOut:
    return EventOut(
        seq=r["seq"],
        kind=r["kind"],
        actor=r["actor"],
        subject_id=r["subject_id"],
        at=r["at"],
        body=msgspec.json.decode(r["body"]),
        prev_hash=r["prev_hash"],
        hash=r["hash"],
    )
