"""Write tests/vectors/verdicts.json: facts in, the verdict the rules require out.

Run ``.venv/bin/python -m tests.vectors.make_verdicts`` after changing a case.

The expected verdicts here are written from the rules as specified (DOMAIN.md "The
verdict fails closed", issue 4), never by calling ``rules.decide``: the point of the
file is to catch the code and its JavaScript port disagreeing with the specification.
Facts are validated against ``rules.Facts`` and stored exactly as msgspec encodes
them, so the Python and the JavaScript sides read the same bytes.

Three groups of cases:

* hand-written single facts, boundaries (exactly at a limit, one microsecond past) and
  policy variations;
* every pair of independent faults from :data:`FAULTS`, whose expected reasons are the
  union of the two, minus what the spec says a fault hides (a code that did not decode
  has no tag to judge; another production's item is not ours to judge);
* a few cases with everything wrong at once.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from verifier import rules

__all__ = ["DISPLAY_ORDER", "FAULTS", "build_cases", "main"]

OUT = Path(__file__).with_name("verdicts.json")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

# Display order of reason codes, written out here (not read from rules.MESSAGES) so
# that a reordering in the code shows up as failing vectors.
DISPLAY_ORDER = (
    "internal_error",
    "service_unavailable",
    "no_code_found",
    "ambiguous_photo",
    "bad_format",
    "bad_check_character",
    "unknown_code",
    "offline_no_snapshot",
    "offline_snapshot_stale",
    "offline_app_outdated",
    "revoked_tag",
    "superseded_tag",
    "other_production",
    "production_archived",
    "restricted_class",
    "missing_evidence",
    "quarantined",
    "missing",
    "retired",
    "open_incident",
    "never_inspected",
    "inspection_stale",
    "not_inspected_since_incident",
    "not_inspected_since_class_change",
    "not_inspected_since_use",
    "possible_duplicate_tag",
    "visual_mismatch",
)

_NON_FIRING = ["non_firing_replica", "non_firing_mechanical", "deactivated"]

Facts = dict[str, Any]
Patch = Callable[[Facts], None]


def ago(**delta: float) -> datetime:
    """A time before NOW."""
    return NOW - timedelta(**delta)


def later(**delta: float) -> datetime:
    """A time after NOW."""
    return NOW + timedelta(**delta)


def base() -> Facts:
    """Every fact known and good: an online scan that the rules must CLEAR."""
    return {
        "now": NOW,
        "policy": {},
        "tag": {"status": "active", "same_production": True},
        "item": {
            "status": "active",
            "capability_class": "non_firing_replica",
            "has_evidence": False,
            "last_passed_inspection_at": ago(hours=1),
            "last_incident_at": None,
            "class_changed_at": None,
            "open_incidents": 0,
            "checked_out_to": None,
            "last_returned_at": None,
        },
        "device": "phone-1",
    }


def sets(path: str, value: Any) -> Patch:
    """A patch setting ``a.b.c`` to value."""
    keys = path.split(".")

    def apply(facts: Facts) -> None:
        target = facts
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return apply


def both(*patches: Patch) -> Patch:
    def apply(facts: Facts) -> None:
        for patch in patches:
            patch(facts)

    return apply


@dataclass(frozen=True)
class Case:
    name: str
    patch: Patch
    reasons: tuple[str, ...]
    needs_confirmation: bool = False


# ---------------------------------------------------------------------------- faults
@dataclass(frozen=True)
class Fault:
    """One bad fact, what it touches (two faults touching one slot never pair) and
    the reasons the spec demands for it alone."""

    name: str
    slots: frozenset[str]
    kind: str  # global | scan | no_tag | tag | other_production | no_item | item
    patch: Patch
    reasons: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)


def _fault(name: str, slots: str, kind: str, patch: Patch, *reasons: str) -> Fault:
    return Fault(name, frozenset(slots.split()), kind, patch, reasons)


_ITEM_SLOTS = "class status incidents inspection reclass custody return"
_HANDOFF_A_TO_B = both(sets("handoff_to", "perf-B"), sets("item.checked_out_to", "perf-A"))
_OTHER_DEVICE_HANDOFF = both(
    sets("handoff_to", "perf-B"),
    sets("recent_handoffs", [{"device": "phone-2", "to": "perf-C", "at": ago(minutes=3)}]),
)

FAULTS: tuple[Fault, ...] = (
    # Whole-scan facts: each adds its reason whatever else is true.
    _fault(
        "offline_no_snapshot", "offline", "global", sets("offline", True), "offline_no_snapshot"
    ),
    _fault(
        "offline_stale",
        "offline",
        "global",
        both(sets("offline", True), sets("snapshot_at", ago(hours=9))),
        "offline_snapshot_stale",
    ),
    _fault(
        "offline_future",
        "offline",
        "global",
        both(sets("offline", True), sets("snapshot_at", later(hours=2))),
        "offline_snapshot_stale",
    ),
    _fault(
        "archived", "archived", "global", sets("production_archived", True), "production_archived"
    ),
    _fault("visual_mismatch", "visual", "global", sets("visual_match", False), "visual_mismatch"),
    # The code itself: a code that did not decode has no tag or item to judge.
    _fault("no_code_found", "scan", "scan", sets("scan_problem", "no_code_found"), "no_code_found"),
    _fault(
        "bad_check",
        "scan",
        "scan",
        sets("scan_problem", "bad_check_character"),
        "bad_check_character",
    ),
    _fault("unknown_code", "tag_status tag_prod", "no_tag", sets("tag", None), "unknown_code"),
    # The tag.
    _fault("revoked", "tag_status", "tag", sets("tag.status", "revoked"), "revoked_tag"),
    _fault("superseded", "tag_status", "tag", sets("tag.status", "superseded"), "superseded_tag"),
    _fault(
        "other_production",
        "tag_prod",
        "other_production",
        sets("tag.same_production", False),
        "other_production",
    ),
    _fault("tag_without_item", _ITEM_SLOTS, "no_item", sets("item", None), "unknown_code"),
    # The item.
    _fault(
        "functional_firearm",
        "class",
        "item",
        sets("item.capability_class", "functional_firearm"),
        "restricted_class",
    ),
    _fault(
        "deactivated_no_evidence",
        "class",
        "item",
        sets("item.capability_class", "deactivated"),
        "missing_evidence",
    ),
    _fault("quarantined", "status", "item", sets("item.status", "quarantined"), "quarantined"),
    _fault("retired", "status", "item", sets("item.status", "retired"), "retired"),
    _fault(
        "open_incident",
        "incidents",
        "item",
        # The incident predates the inspection, so only the open count is wrong.
        both(sets("item.open_incidents", 1), sets("item.last_incident_at", ago(hours=30))),
        "open_incident",
    ),
    _fault(
        "incident_after_inspection",
        "incidents",
        "item",
        sets("item.last_incident_at", ago(minutes=30)),
        "not_inspected_since_incident",
    ),
    _fault(
        "class_changed_after_inspection",
        "reclass",
        "item",
        sets("item.class_changed_at", ago(minutes=20)),
        "not_inspected_since_class_change",
    ),
    _fault(
        "returned_after_inspection",
        "return",
        "item",
        sets("item.last_returned_at", ago(minutes=20)),
        "not_inspected_since_use",
    ),
    _fault(
        "never_inspected",
        "inspection",
        "item",
        sets("item.last_passed_inspection_at", None),
        "never_inspected",
    ),
    _fault(
        "inspection_stale",
        "inspection",
        "item",
        sets("item.last_passed_inspection_at", ago(hours=13)),
        "inspection_stale",
    ),
    _fault("checked_out_to_other", "custody", "item", _HANDOFF_A_TO_B, "possible_duplicate_tag"),
    _fault(
        "other_device_handoff", "custody", "item", _OTHER_DEVICE_HANDOFF, "possible_duplicate_tag"
    ),
)


def expected_reasons(faults: Iterable[Fault]) -> tuple[str, ...]:
    """The reasons the spec demands for a set of faults applied together."""
    faults = list(faults)
    kinds = {f.kind for f in faults}
    found: set[str] = set()
    for f in faults:
        if f.kind == "global":
            found.update(f.reasons)
    if "scan" in kinds:
        # Nothing decoded: no tag, no item to speak of.
        found.update(r for f in faults if f.kind == "scan" for r in f.reasons)
    elif "no_tag" in kinds:
        found.add("unknown_code")
    else:
        found.update(r for f in faults if f.kind in {"tag", "other_production"} for r in f.reasons)
        if "no_item" in kinds:
            found.add("unknown_code")
        elif "other_production" not in kinds:
            found.update(r for f in faults if f.kind == "item" for r in f.reasons)
    # "Never passed an inspection" already says it was not inspected since anything.
    if "never_inspected" in found:
        found.discard("not_inspected_since_incident")
        found.discard("not_inspected_since_class_change")
        found.discard("not_inspected_since_use")
    return ordered(found)


def ordered(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(codes), key=DISPLAY_ORDER.index))


def _pair_cases() -> list[Case]:
    cases = []
    for a, b in itertools.combinations(FAULTS, 2):
        if a.slots & b.slots:
            continue
        reasons = expected_reasons([a, b])
        cases.append(Case(f"pair: {a.name} + {b.name}", both(a.patch, b.patch), reasons))
    return cases


# ------------------------------------------------------------------ hand-written cases
def _policy(**values: Any) -> Patch:
    def apply(facts: Facts) -> None:
        facts["policy"].update(values)

    return apply


def _single_cases() -> list[Case]:
    s = sets
    c = Case
    restricted = ("airsoft_projectile", "blank_firing", "functional_firearm")
    return [
        # The good path and the visual confirmation.
        c("all good, not yet confirmed: provisional CLEARED", s("device", "phone-1"), (), True),
        c("all good, visual match confirmed", s("visual_match", True), (), False),
        c("visual mismatch", s("visual_match", False), ("visual_mismatch",)),
        c(
            "visual confirmation not required: CLEARED outright",
            _policy(visual_confirmation_required=False),
            (),
            False,
        ),
        c(
            "visual confirmation not required, confirmed anyway",
            both(_policy(visual_confirmation_required=False), s("visual_match", True)),
            (),
            False,
        ),
        c(
            "visual confirmation not required, but the person says it does not match",
            both(_policy(visual_confirmation_required=False), s("visual_match", False)),
            ("visual_mismatch",),
        ),
        c(
            "non_firing_mechanical clears",
            s("item.capability_class", "non_firing_mechanical"),
            (),
            True,
        ),
        c(
            "deactivated with evidence clears",
            both(s("item.capability_class", "deactivated"), s("item.has_evidence", True)),
            (),
            True,
        ),
        # The code.
        *(
            c(
                f"scan problem {p} (nothing decoded)",
                both(s("scan_problem", p), s("tag", None), s("item", None)),
                (p,),
            )
            for p in ("no_code_found", "ambiguous_photo", "bad_format", "bad_check_character")
        ),
        c(
            "scan problem hides whatever tag facts came along",
            both(s("scan_problem", "bad_format"), s("tag.status", "revoked")),
            ("bad_format",),
        ),
        c(
            "unknown code: no tag, no item",
            both(s("tag", None), s("item", None)),
            ("unknown_code",),
        ),
        c("unknown code: tag bound to no item", s("item", None), ("unknown_code",)),
        # The tag.
        c("revoked tag", s("tag.status", "revoked"), ("revoked_tag",)),
        c("superseded tag", s("tag.status", "superseded"), ("superseded_tag",)),
        c("tag of another production", s("tag.same_production", False), ("other_production",)),
        c(
            "another production's restricted, quarantined item: only other_production",
            both(
                s("tag.same_production", False),
                s("item.capability_class", "functional_firearm"),
                s("item.status", "quarantined"),
            ),
            ("other_production",),
        ),
        c(
            "revoked tag of another production",
            both(s("tag.status", "revoked"), s("tag.same_production", False)),
            ("revoked_tag", "other_production"),
        ),
        c(
            "another production's tag with no item",
            both(s("tag.same_production", False), s("item", None)),
            ("unknown_code", "other_production"),
        ),
        c("production archived", s("production_archived", True), ("production_archived",)),
        # Capability class and policy.
        *(
            c(f"restricted class {k}", s("item.capability_class", k), ("restricted_class",))
            for k in restricted
        ),
        *(
            c(
                f"policy lists {k} as clearable: still restricted",
                both(
                    s("item.capability_class", k),
                    _policy(clearable_classes=[*_NON_FIRING, k]),
                ),
                ("restricted_class",),
            )
            for k in restricted
        ),
        c(
            "policy lists every class as clearable: a functional firearm stays restricted",
            both(
                s("item.capability_class", "functional_firearm"),
                _policy(clearable_classes=list(rules.CLASSES)),
            ),
            ("restricted_class",),
        ),
        c(
            "policy excludes non_firing_mechanical",
            both(
                s("item.capability_class", "non_firing_mechanical"),
                _policy(clearable_classes=["non_firing_replica", "deactivated"]),
            ),
            ("restricted_class",),
        ),
        c(
            "policy with only non_firing_replica still clears a replica",
            _policy(clearable_classes=["non_firing_replica"]),
            (),
            True,
        ),
        c(
            "policy with no clearable class",
            _policy(clearable_classes=[]),
            ("restricted_class",),
        ),
        c(
            "deactivated without evidence",
            s("item.capability_class", "deactivated"),
            ("missing_evidence",),
        ),
        c(
            "deactivated with evidence but excluded by policy",
            both(
                s("item.capability_class", "deactivated"),
                s("item.has_evidence", True),
                _policy(clearable_classes=["non_firing_replica", "non_firing_mechanical"]),
            ),
            ("restricted_class",),
        ),
        c(
            "deactivated without evidence and excluded by policy",
            both(
                s("item.capability_class", "deactivated"),
                _policy(clearable_classes=["non_firing_replica"]),
            ),
            ("restricted_class", "missing_evidence"),
        ),
        c(
            "evidence on a non-deactivated restricted item does not help",
            both(s("item.capability_class", "blank_firing"), s("item.has_evidence", True)),
            ("restricted_class",),
        ),
        # Item status and incidents.
        *(
            c(f"item {st}", s("item.status", st), (st,))
            for st in ("quarantined", "missing", "retired")
        ),
        c(
            "one open incident (older than the inspection)",
            both(s("item.open_incidents", 1), s("item.last_incident_at", ago(hours=2))),
            ("open_incident",),
        ),
        c(
            "three open incidents",
            both(s("item.open_incidents", 3), s("item.last_incident_at", ago(hours=2))),
            ("open_incident",),
        ),
        c(
            "open incident reported after the last inspection, item quarantined",
            both(
                s("item.open_incidents", 1),
                s("item.last_incident_at", ago(minutes=10)),
                s("item.status", "quarantined"),
            ),
            ("quarantined", "open_incident", "not_inspected_since_incident"),
        ),
        # Inspection freshness (default 12 h) and "since the last incident".
        c("never inspected", s("item.last_passed_inspection_at", None), ("never_inspected",)),
        c(
            "never inspected, with a resolved incident: never_inspected says it all",
            both(
                s("item.last_passed_inspection_at", None), s("item.last_incident_at", ago(hours=1))
            ),
            ("never_inspected",),
        ),
        c(
            "inspected 13 h ago",
            s("item.last_passed_inspection_at", ago(hours=13)),
            ("inspection_stale",),
        ),
        c(
            "inspected exactly 12 h ago: still fresh",
            s("item.last_passed_inspection_at", ago(hours=12)),
            (),
            True,
        ),
        c(
            "inspected 12 h and 1 microsecond ago",
            s("item.last_passed_inspection_at", ago(hours=12, microseconds=1)),
            ("inspection_stale",),
        ),
        c(
            "inspected 12 h and 1 s ago",
            s("item.last_passed_inspection_at", ago(hours=12, seconds=1)),
            ("inspection_stale",),
        ),
        c("inspected just now", s("item.last_passed_inspection_at", NOW), (), True),
        c(
            "inspection time in the future (wrong clock): not within the last 12 h",
            s("item.last_passed_inspection_at", later(seconds=1)),
            ("inspection_stale",),
        ),
        c(
            "inspection max age 0 disables freshness: a year-old inspection clears",
            both(
                _policy(inspection_max_age_hours=0.0),
                s("item.last_passed_inspection_at", ago(days=365)),
            ),
            (),
            True,
        ),
        c(
            "inspection max age 0 still needs some passing inspection",
            both(_policy(inspection_max_age_hours=0.0), s("item.last_passed_inspection_at", None)),
            ("never_inspected",),
        ),
        c(
            "inspection max age 0 still needs an inspection since the last incident",
            both(
                _policy(inspection_max_age_hours=0.0),
                s("item.last_passed_inspection_at", ago(days=30)),
                s("item.last_incident_at", ago(days=2)),
            ),
            ("not_inspected_since_incident",),
        ),
        c(
            "custom max age 24 h, inspected 20 h ago",
            both(
                _policy(inspection_max_age_hours=24.0),
                s("item.last_passed_inspection_at", ago(hours=20)),
            ),
            (),
            True,
        ),
        c(
            "custom max age 0.5 h, inspected 31 min ago",
            both(
                _policy(inspection_max_age_hours=0.5),
                s("item.last_passed_inspection_at", ago(minutes=31)),
            ),
            ("inspection_stale",),
        ),
        c(
            "custom max age 0.5 h, inspected exactly 30 min ago",
            both(
                _policy(inspection_max_age_hours=0.5),
                s("item.last_passed_inspection_at", ago(minutes=30)),
            ),
            (),
            True,
        ),
        c(
            "resolved incident after the last inspection",
            s("item.last_incident_at", ago(minutes=30)),
            ("not_inspected_since_incident",),
        ),
        c(
            "inspection at the same instant as the incident: not after it",
            s("item.last_incident_at", ago(hours=1)),
            ("not_inspected_since_incident",),
        ),
        c(
            "inspection 1 microsecond after the incident",
            s("item.last_incident_at", ago(hours=1, microseconds=1)),
            (),
            True,
        ),
        c(
            "policy does not require inspection since incident",
            both(
                _policy(require_inspection_since_incident=False),
                s("item.last_incident_at", ago(minutes=30)),
            ),
            (),
            True,
        ),
        # A change of capability class (an edit) needs a passing inspection after it,
        # whatever the policy says.
        c(
            "class changed after the last passing inspection",
            s("item.class_changed_at", ago(minutes=20)),
            ("not_inspected_since_class_change",),
        ),
        c(
            "class changed at the same instant as the inspection: not after it",
            s("item.class_changed_at", ago(hours=1)),
            ("not_inspected_since_class_change",),
        ),
        c(
            "inspection 1 microsecond after the class change",
            s("item.class_changed_at", ago(hours=1, microseconds=1)),
            (),
            True,
        ),
        c(
            "class changed, policy needs no inspection since incidents: still not cleared",
            both(
                _policy(require_inspection_since_incident=False, inspection_max_age_hours=0.0),
                s("item.class_changed_at", ago(minutes=5)),
            ),
            ("not_inspected_since_class_change",),
        ),
        c(
            "class changed, never inspected: never_inspected says it all",
            both(
                s("item.last_passed_inspection_at", None),
                s("item.class_changed_at", ago(minutes=5)),
            ),
            ("never_inspected",),
        ),
        c(
            "class changed, then an incident, both after the inspection",
            both(
                s("item.class_changed_at", ago(minutes=40)),
                s("item.last_incident_at", ago(minutes=30)),
            ),
            ("not_inspected_since_incident", "not_inspected_since_class_change"),
        ),
        # Back from a performer: a passing inspection after the return (the check-in's
        # own after-use inspection is written after the check-in).
        c(
            "returned from use after the last passing inspection",
            s("item.last_returned_at", ago(minutes=20)),
            ("not_inspected_since_use",),
        ),
        c(
            "inspection 1 microsecond before the return",
            s("item.last_returned_at", ago(minutes=59, seconds=59, microseconds=999999)),
            ("not_inspected_since_use",),
        ),
        c(
            "inspection at the same instant as the return: the check-in's own",
            s("item.last_returned_at", ago(hours=1)),
            (),
            True,
        ),
        c(
            "returned, then inspected",
            s("item.last_returned_at", ago(hours=2)),
            (),
            True,
        ),
        c(
            "returned after the inspection, policy needs no after-use inspection",
            both(
                _policy(require_inspection_after_use=False),
                s("item.last_returned_at", ago(minutes=20)),
            ),
            (),
            True,
        ),
        c(
            "returned, never inspected: never_inspected says it all",
            both(
                s("item.last_passed_inspection_at", None),
                s("item.last_returned_at", ago(minutes=5)),
            ),
            ("never_inspected",),
        ),
        c(
            "returned and an incident, both after the inspection",
            both(
                s("item.last_returned_at", ago(minutes=40)),
                s("item.last_incident_at", ago(minutes=30)),
            ),
            ("not_inspected_since_incident", "not_inspected_since_use"),
        ),
        c(
            "returned with a stale inspection",
            both(
                s("item.last_passed_inspection_at", ago(hours=20)),
                s("item.last_returned_at", ago(hours=15)),
            ),
            ("inspection_stale", "not_inspected_since_use"),
        ),
        c(
            "stale and not since the incident",
            both(
                s("item.last_passed_inspection_at", ago(hours=20)),
                s("item.last_incident_at", ago(hours=15)),
            ),
            ("inspection_stale", "not_inspected_since_incident"),
        ),
        # Offline snapshot (default 8 h).
        c("offline, no snapshot", s("offline", True), ("offline_no_snapshot",)),
        c(
            "offline, snapshot 1 h old: CLEARED from the snapshot",
            both(s("offline", True), s("snapshot_at", ago(hours=1))),
            (),
            True,
        ),
        c(
            "offline, snapshot exactly 8 h old: still trusted",
            both(s("offline", True), s("snapshot_at", ago(hours=8))),
            (),
            True,
        ),
        c(
            "offline, snapshot 8 h and 1 microsecond old",
            both(s("offline", True), s("snapshot_at", ago(hours=8, microseconds=1))),
            ("offline_snapshot_stale",),
        ),
        c(
            "offline, snapshot 9 h old",
            both(s("offline", True), s("snapshot_at", ago(hours=9))),
            ("offline_snapshot_stale",),
        ),
        c(
            "offline, snapshot from 2 h in the future (wrong phone clock)",
            both(s("offline", True), s("snapshot_at", later(hours=2))),
            ("offline_snapshot_stale",),
        ),
        # rules.py allows 5 minutes of clock skew for the snapshot; beyond it, STOP.
        c(
            "offline, snapshot 4 min in the future: within the clock-skew allowance",
            both(s("offline", True), s("snapshot_at", later(minutes=4))),
            (),
            True,
        ),
        c(
            "offline, snapshot exactly 5 min in the future",
            both(s("offline", True), s("snapshot_at", later(minutes=5))),
            (),
            True,
        ),
        c(
            "offline, snapshot 5 min and 1 s in the future",
            both(s("offline", True), s("snapshot_at", later(minutes=5, seconds=1))),
            ("offline_snapshot_stale",),
        ),
        c(
            "offline with a custom limit of 1 h, snapshot 2 h old",
            both(
                s("offline", True),
                s("snapshot_at", ago(hours=2)),
                _policy(offline_snapshot_max_age_hours=1.0),
            ),
            ("offline_snapshot_stale",),
        ),
        c(
            "offline with a custom limit of 24 h, snapshot 20 h old",
            both(
                s("offline", True),
                s("snapshot_at", ago(hours=20)),
                _policy(offline_snapshot_max_age_hours=24.0),
            ),
            (),
            True,
        ),
        c(
            "online: an old snapshot time is ignored",
            s("snapshot_at", ago(days=3)),
            (),
            True,
        ),
        c(
            "offline, stale snapshot, unknown code",
            both(
                s("offline", True), s("snapshot_at", ago(hours=10)), s("tag", None), s("item", None)
            ),
            ("unknown_code", "offline_snapshot_stale"),
        ),
        c(
            "offline, fresh snapshot, visual match confirmed",
            both(s("offline", True), s("snapshot_at", ago(hours=2)), s("visual_match", True)),
            (),
            False,
        ),
        # Hand-offs and duplicate tags (validity window default 10 min).
        c("hand-off to a performer, item with props", s("handoff_to", "perf-A"), (), True),
        c(
            "hand-off to the performer already holding it",
            both(s("handoff_to", "perf-A"), s("item.checked_out_to", "perf-A")),
            (),
            True,
        ),
        c(
            "hand-off while checked out to someone else",
            both(s("handoff_to", "perf-B"), s("item.checked_out_to", "perf-A")),
            ("possible_duplicate_tag",),
        ),
        c(
            "plain check (no hand-off) while checked out: not a conflict",
            s("item.checked_out_to", "perf-A"),
            (),
            True,
        ),
        c(
            "other device handed it to someone else 3 min ago",
            _OTHER_DEVICE_HANDOFF,
            ("possible_duplicate_tag",),
        ),
        c(
            "other device handed it to someone else exactly 10 min ago (window edge)",
            both(
                s("handoff_to", "perf-B"),
                s(
                    "recent_handoffs",
                    [{"device": "phone-2", "to": "perf-C", "at": ago(minutes=10)}],
                ),
            ),
            ("possible_duplicate_tag",),
        ),
        c(
            "other device handed it to someone else 10 min 1 s ago: outside the window",
            both(
                s("handoff_to", "perf-B"),
                s(
                    "recent_handoffs",
                    [{"device": "phone-2", "to": "perf-C", "at": ago(minutes=10, seconds=1)}],
                ),
            ),
            (),
            True,
        ),
        c(
            "custom 30 min window, other device's hand-off 20 min ago",
            both(
                _policy(verification_valid_minutes=30.0),
                s("handoff_to", "perf-B"),
                s(
                    "recent_handoffs",
                    [{"device": "phone-2", "to": "perf-C", "at": ago(minutes=20)}],
                ),
            ),
            ("possible_duplicate_tag",),
        ),
        c(
            "custom 2 min window, other device's hand-off 3 min ago",
            both(
                _policy(verification_valid_minutes=2.0),
                s("handoff_to", "perf-B"),
                s("recent_handoffs", [{"device": "phone-2", "to": "perf-C", "at": ago(minutes=3)}]),
            ),
            (),
            True,
        ),
        c(
            "same device re-verifying for someone else: not a duplicate",
            both(
                s("handoff_to", "perf-B"),
                s("recent_handoffs", [{"device": "phone-1", "to": "perf-C", "at": ago(minutes=3)}]),
            ),
            (),
            True,
        ),
        c(
            "other device handing to the same performer: not a duplicate",
            both(
                s("handoff_to", "perf-B"),
                s("recent_handoffs", [{"device": "phone-2", "to": "perf-B", "at": ago(minutes=3)}]),
            ),
            (),
            True,
        ),
        c(
            "other device's recent hand-off but this scan is no hand-off",
            s("recent_handoffs", [{"device": "phone-2", "to": "perf-C", "at": ago(minutes=3)}]),
            (),
            True,
        ),
        c(
            "scanning device unknown: another device's hand-off counts",
            both(
                s("device", None),
                s("handoff_to", "perf-B"),
                s("recent_handoffs", [{"device": "phone-2", "to": "perf-C", "at": ago(minutes=3)}]),
            ),
            ("possible_duplicate_tag",),
        ),
        c(
            "one of several recent hand-offs conflicts",
            both(
                s("handoff_to", "perf-B"),
                s(
                    "recent_handoffs",
                    [
                        {"device": "phone-1", "to": "perf-C", "at": ago(minutes=1)},
                        {"device": "phone-2", "to": "perf-B", "at": ago(minutes=2)},
                        {"device": "phone-3", "to": "perf-D", "at": ago(minutes=20)},
                        {"device": "phone-4", "to": "perf-E", "at": ago(minutes=9)},
                    ],
                ),
            ),
            ("possible_duplicate_tag",),
        ),
        c(
            "several recent hand-offs, none conflicting",
            both(
                s("handoff_to", "perf-B"),
                s(
                    "recent_handoffs",
                    [
                        {"device": "phone-1", "to": "perf-C", "at": ago(minutes=1)},
                        {"device": "phone-2", "to": "perf-B", "at": ago(minutes=2)},
                        {"device": "phone-3", "to": "perf-D", "at": ago(minutes=20)},
                    ],
                ),
            ),
            (),
            True,
        ),
        c(
            "checked out to someone else and another device's hand-off: one reason",
            both(
                _HANDOFF_A_TO_B,
                s("recent_handoffs", [{"device": "phone-2", "to": "perf-C", "at": ago(minutes=3)}]),
            ),
            ("possible_duplicate_tag",),
        ),
        c(
            "hand-off conflict on a revoked tag",
            both(_HANDOFF_A_TO_B, s("tag.status", "revoked")),
            ("revoked_tag", "possible_duplicate_tag"),
        ),
        c(
            "hand-off conflict confirmed visually: still STOP",
            both(_HANDOFF_A_TO_B, s("visual_match", True)),
            ("possible_duplicate_tag",),
        ),
    ]


def _everything_cases() -> list[Case]:
    worst = both(
        sets("offline", True),
        sets("snapshot_at", ago(hours=30)),
        sets("tag.status", "superseded"),
        sets("production_archived", True),
        sets("item.capability_class", "functional_firearm"),
        sets("item.status", "missing"),
        sets("item.open_incidents", 2),
        sets("item.last_incident_at", ago(hours=1)),
        sets("item.last_passed_inspection_at", ago(hours=40)),
        _HANDOFF_A_TO_B,
        sets("visual_match", False),
    )
    return [
        Case(
            "everything wrong with a functional firearm",
            worst,
            (
                "offline_snapshot_stale",
                "superseded_tag",
                "production_archived",
                "restricted_class",
                "missing",
                "open_incident",
                "inspection_stale",
                "not_inspected_since_incident",
                "possible_duplicate_tag",
                "visual_mismatch",
            ),
        ),
        Case(
            "everything wrong with a deactivated item without evidence, excluded by policy",
            both(
                worst,
                sets("item.capability_class", "deactivated"),
                _policy(clearable_classes=["non_firing_replica"]),
                sets("item.status", "retired"),
                sets("tag.status", "revoked"),
            ),
            (
                "offline_snapshot_stale",
                "revoked_tag",
                "production_archived",
                "restricted_class",
                "missing_evidence",
                "retired",
                "open_incident",
                "inspection_stale",
                "not_inspected_since_incident",
                "possible_duplicate_tag",
                "visual_mismatch",
            ),
        ),
        Case(
            "everything wrong, but the code did not decode",
            both(worst, sets("scan_problem", "ambiguous_photo")),
            (
                "ambiguous_photo",
                "offline_snapshot_stale",
                "production_archived",
                "visual_mismatch",
            ),
        ),
        Case(
            "everything wrong on another production's tag",
            both(worst, sets("tag.same_production", False)),
            (
                "offline_snapshot_stale",
                "superseded_tag",
                "other_production",
                "production_archived",
                "visual_mismatch",
            ),
        ),
    ]


def build_cases() -> list[Case]:
    """All cases, hand-written first."""
    cases = [*_single_cases(), *_everything_cases(), *_pair_cases()]
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SystemExit(f"duplicate case names: {sorted(dupes)}")
    return cases


def _encode(case: Case) -> dict[str, Any]:
    facts = base()
    case.patch(facts)
    # Validate, then store exactly what msgspec writes for rules.Facts.
    typed = msgspec.convert(facts, rules.Facts, from_attributes=False, strict=False)
    if case.reasons:
        assert not case.needs_confirmation, case.name
    return {
        "name": case.name,
        "facts": msgspec.json.decode(msgspec.json.encode(typed)),
        "verdict": "STOP" if case.reasons else "CLEARED",
        "reasons": list(ordered(case.reasons)),
        "needs_confirmation": case.needs_confirmation,
    }


def main() -> None:
    """Write the vectors file, one case per line for readable diffs."""
    encoded = [_encode(c) for c in build_cases()]
    lines = [json.dumps(v, separators=(",", ":"), ensure_ascii=False) for v in encoded]
    OUT.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    print(f"wrote {len(encoded)} cases to {OUT}")


if __name__ == "__main__":
    main()
