"""Facts for the verdict, gathered from the database in one query.

Kept apart from the HTTP controller because check-out, check-in and confirmation
re-evaluate the same facts at their own moment: a verification that was CLEARED ten
minutes ago does not make an item that was quarantined since safe to hand over.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.connections import ConnectionSource, Held
from api.sql import q
from verifier import rules

__all__ = ["FactsRow", "evaluate", "facts_in", "load_facts"]

#: Decoded policies by their stored JSON: a production's policy is the same text on
#: every scan, and decoding it into its Struct was a tenth of the rules' part of a
#: verify. Policies are frozen, so one decoded value is safely shared.
_policies: dict[str, rules.Policy] = {}
_POLICIES_MAX = 1_000


def _policy(raw: str) -> rules.Policy:
    policy = _policies.get(raw)
    if policy is None:
        policy = msgspec.json.decode(raw, type=rules.Policy)
        if len(_policies) >= _POLICIES_MAX:
            _policies.clear()
        _policies[raw] = policy
    return policy


class FactsRow(msgspec.Struct, kw_only=True):
    """The facts query's row for a code, or None fields when the code is unknown."""

    row: asyncpg.Record | None
    context: asyncpg.Record | None
    production_id: UUID
    #: The database's time now, when ``row`` was read earlier (api/facts_cache.py);
    #: None: the row's own db_now.
    now: datetime | None = None
    #: The item as the verify answer shows it, kept with ``row`` (None: build it).
    view: Any = None

    @property
    def same_production(self) -> bool:
        """The tag belongs to the production the scan is made in."""
        return self.row is not None and self.row["tag_production"] == self.production_id


async def load_facts(conn: asyncpg.Connection, code: str | None, production_id: UUID) -> FactsRow:
    """One round trip for a known code of this production; two for anything else."""
    row = await conn.fetchrow(q("verify_facts"), code) if code else None
    return await facts_in(Held(conn), row, production_id)


async def facts_in(
    db: ConnectionSource,
    row: asyncpg.Record | None,
    production_id: UUID,
    *,
    now: datetime | None = None,
    view: Any = None,
) -> FactsRow:
    """The facts of a scan in ``production_id`` from the tag's verify_facts ``row``
    (read now, or kept with its ``now`` and ``view``): the row itself when the tag
    belongs there, else also the production's own status and policy (one more round
    trip, never kept)."""
    if row is not None and row["tag_production"] == production_id:
        return FactsRow(row=row, context=None, production_id=production_id, now=now, view=view)
    ctx = await (await db.get()).fetchrow(q("production_context"), production_id)
    return FactsRow(row=row, context=ctx, production_id=production_id)


def evaluate(
    facts_row: FactsRow,
    *,
    device: str,
    purpose: str = "check",
    handoff_to: str | None = None,
    scan_problem: str | None = None,
    visual_match: bool | None = None,
    exclude_verification: Any = None,
) -> rules.Facts:
    """Turn the query's row into verifier facts."""
    row = facts_row.row
    source = row if facts_row.same_production else facts_row.context
    policy = rules.Policy()
    archived = False
    now = datetime.now(UTC)
    if source is not None:
        policy = _policy(source["policy"])
        archived = source["production_status"] != "active"
        now = source["db_now"]
        if facts_row.now is not None and source is row:
            now = facts_row.now
    tag = item = None
    recent: tuple[rules.RecentHandoff, ...] = ()
    if row is not None:
        tag = rules.TagFacts(status=row["tag_status"], same_production=facts_row.same_production)
        item = rules.ItemFacts(
            status=row["item_status"],
            capability_class=row["capability_class"],
            has_evidence=row["has_evidence"],
            last_passed_inspection_at=row["last_passed_inspection_at"],
            last_incident_at=row["last_incident_at"],
            class_changed_at=row["class_changed_at"],
            open_incidents=row["open_incidents"],
            checked_out_to=row["checked_out_to"],
            last_returned_at=row["last_returned_at"],
        )
        raw = row["recent_handoffs"]
        handoffs = [] if raw == "[]" else msgspec.json.decode(raw, type=list[dict[str, Any]])
        recent = tuple(
            rules.RecentHandoff(device=h["device"], to=h["to"], at=datetime.fromisoformat(h["at"]))
            for h in handoffs
            if str(h.get("id")) != str(exclude_verification)
        )
    return rules.Facts(
        now=now,
        policy=policy,
        scan_problem=scan_problem,  # type: ignore[arg-type]
        tag=tag,
        item=item,
        production_archived=archived,
        device=device,
        handoff_to=handoff_to if purpose == "checkout" else None,
        recent_handoffs=recent,
        visual_match=visual_match,
    )
