"""Is a production firearm-free? One production's status, and a studio overview.

A production is FIREARM-FREE only when no reason below applies. The reasons, and what
they mean (docs/RECORD.md has the same table for studio staff):

NOT FIREARM-FREE
  restricted_items         an item of a restricted class (airsoft, blank-firing,
                           functional firearm) that is not retired: active, quarantined
                           and missing ones all count, since all may still be on set
  serious_incidents        an unresolved incident of kind suspected_functional,
                           unregistered_weapon_found, possible_duplicate_tag or
                           offline_clearance_disputed
AT RISK
  open_incidents           any other unresolved incident
  missing_items            an item reported missing
  inspection_overdue       an active item of a clearable class that never passed an
                           inspection, or whose last pass is older than the policy allows
                           or not newer than its last incident (when the policy says so)
                           or than the last change of its class, or older than its last
                           return from a performer (when the policy says so)
  not_checked_in           an item still out with a performer since before the last wrap
  handoff_stop_unresolved  a STOP at a hand-off scan not settled since: by a later CLEARED
                           hand-off scan of the same item, or by resolving an incident
                           about the item or that scan (for a scan that identified no
                           item: an incident reported after it, resolved)
  unknown_code_scans       scans of unregistered codes in the last UNKNOWN_CODE_DAYS days

The whole status is one set-based query over indexed slices (migrations/0003), so it
costs the same with a million events as with a hundred.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, get
from litestar.exceptions import NotFoundException

from api.audit import ChainHead
from api.auth import Perm, Principal
from api.custody import last_wrap
from api.sql import q
from api.state import AUTHED
from verifier.rules import Policy

__all__ = [
    "ITEM_ID_CAP",
    "REASONS",
    "UNKNOWN_CODE_DAYS",
    "ProductionStatus",
    "StatusController",
    "StatusReason",
    "StudioStatus",
    "production_status",
]

#: How many item ids a reason lists (its count is always exact).
ITEM_ID_CAP = 50
#: How far back unknown-code scans make a production AT RISK.
UNKNOWN_CODE_DAYS = 7

Severity = Literal["not_firearm_free", "at_risk"]
StatusValue = Literal["FIREARM-FREE", "AT RISK", "NOT FIREARM-FREE"]

#: Every reason code: its severity and the sentence shown for it, in display order.
REASONS: dict[str, tuple[Severity, str]] = {
    "restricted_items": (
        "not_firearm_free",
        "Items of a restricted class (airsoft, blank-firing or functional firearm) are "
        "registered and not retired.",
    ),
    "serious_incidents": (
        "not_firearm_free",
        "Unresolved incidents report a suspected functional weapon, an unregistered weapon "
        "or a possibly copied tag.",
    ),
    "open_incidents": ("at_risk", "Incidents are not resolved."),
    "missing_items": ("at_risk", "Items are reported missing."),
    "inspection_overdue": (
        "at_risk",
        "Items are overdue for inspection (never passed, too long ago, or not since their "
        "last incident, the last change of their class or their return from use).",
    ),
    "not_checked_in": ("at_risk", "Items handed out before the last wrap are not checked in."),
    "handoff_stop_unresolved": (
        "at_risk",
        "A hand-off scan answered STOP and nothing has settled it since.",
    ),
    "unknown_code_scans": (
        "at_risk",
        f"Unregistered codes were scanned in the last {UNKNOWN_CODE_DAYS} days.",
    ),
}


class StatusReason(msgspec.Struct, frozen=True, kw_only=True):
    """One reason a production is not firearm-free."""

    code: str
    severity: Severity
    message: str
    count: int
    #: The items concerned, at most ITEM_ID_CAP of them (count is exact).
    item_ids: list[UUID]


class ProductionStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A production's firearm-free status with every reason, as of ``checked_at``."""

    production_id: UUID
    studio_id: UUID
    name: str
    archived: bool
    status: StatusValue
    firearm_free: bool
    reasons: list[StatusReason]
    #: The last event of the production's chain when the status was computed.
    chain_head: ChainHead | None
    last_wrap: datetime
    checked_at: datetime


class StudioStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Every production of a studio, worst first."""

    studio_id: UUID
    counts: dict[str, int]
    productions: list[ProductionStatus]
    checked_at: datetime


def _overall(reasons: list[StatusReason]) -> StatusValue:
    if any(r.severity == "not_firearm_free" for r in reasons):
        return "NOT FIREARM-FREE"
    return "AT RISK" if reasons else "FIREARM-FREE"


async def production_status(conn: asyncpg.Connection, production_id: UUID) -> ProductionStatus:
    """Compute one production's status (404 when it does not exist).

    Run it inside a REPEATABLE READ transaction when the chain head must match the
    reasons exactly (attestations do).
    """
    p = await conn.fetchrow(q("status_production"), production_id)
    if p is None:
        raise NotFoundException("Not found.")
    policy = msgspec.json.decode(p["policy"], type=Policy)
    now: datetime = p["db_now"]
    wrap = last_wrap(now, p["wrap_time"], p["timezone"])
    rows = await conn.fetch(
        q("status_reasons"),
        production_id,
        ITEM_ID_CAP,
        float(policy.inspection_max_age_hours),
        policy.require_inspection_since_incident,
        wrap,
        now - timedelta(days=UNKNOWN_CODE_DAYS),
        policy.require_inspection_after_use,
    )
    found = {r["code"]: r for r in rows if r["n"]}
    reasons = []
    for code, (severity, message) in REASONS.items():
        r = found.get(code)
        if r is None:
            continue
        ids = list(dict.fromkeys(r["item_ids"] or []))  # an item may have several incidents
        reasons.append(
            StatusReason(code=code, severity=severity, message=message, count=r["n"], item_ids=ids)
        )
    status = _overall(reasons)
    head = None
    if p["head_seq"] is not None:
        head = ChainHead(seq=p["head_seq"], hash=p["head_hash"])
    return ProductionStatus(
        production_id=p["id"],
        studio_id=p["studio_id"],
        name=p["name"],
        archived=p["status"] != "active",
        status=status,
        firearm_free=status == "FIREARM-FREE",
        reasons=reasons,
        chain_head=head,
        last_wrap=wrap,
        checked_at=now,
    )


_ORDER = {"NOT FIREARM-FREE": 0, "AT RISK": 1, "FIREARM-FREE": 2}


class StatusController(Controller):
    """Firearm-free status: one production, or every production of a studio."""

    path = "/api/v1"
    tags = ["status"]
    dependencies = AUTHED

    @get("/productions/{production_id:uuid}/status", operation_id="productionStatus")
    async def production(
        self, production_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> ProductionStatus:
        """FIREARM-FREE, AT RISK or NOT FIREARM-FREE, with every reason and the items
        concerned; anyone who can see the production may ask."""
        principal.require(production_id, Perm.READ)
        return await production_status(conn, production_id)

    @get("/studios/{studio_id:uuid}/status", operation_id="studioStatus")
    async def studio(
        self, studio_id: UUID, principal: Principal, conn: asyncpg.Connection
    ) -> StudioStatus:
        """The status of every production of a studio, worst first (studio admins and
        studio auditors)."""
        if principal.studio_role(studio_id) not in ("studio_admin", "studio_auditor"):
            raise NotFoundException("Not found.")
        ids = [r["id"] for r in await conn.fetch(q("studio_production_ids"), studio_id)]
        statuses = [await production_status(conn, pid) for pid in ids]
        statuses.sort(key=lambda s: (s.archived, _ORDER[s.status]))
        counts = {k: sum(s.status == k for s in statuses) for k in _ORDER}
        checked = max((s.checked_at for s in statuses), default=None)
        if checked is None:
            checked = await conn.fetchval(q("db_now"))
        return StudioStatus(
            studio_id=studio_id, counts=counts, productions=statuses, checked_at=checked
        )
