"""The verdict: every rule that decides CLEARED or STOP, in one pure function.

CLEARED is the one answer that lets a person hand a prop to another person and point
it at them, so it needs every fact to be known and good. Anything missing, unknown or
doubtful yields STOP with every reason that applies, each a stable code plus a sentence
a person can read on set. The PWA's offline rule set (pwa/js/rules.js) is a port of
this module and is held to the same JSON test vectors (tests/vectors/verdicts.json).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec

__all__ = [
    "CLASSES",
    "CLEARABLE_CLASSES",
    "MESSAGES",
    "Facts",
    "ItemFacts",
    "Policy",
    "Reason",
    "RecentHandoff",
    "TagFacts",
    "Verdict",
    "decide",
    "lapses_at",
    "stop",
]

Capability = Literal[
    "non_firing_replica",
    "non_firing_mechanical",
    "deactivated",
    "airsoft_projectile",
    "blank_firing",
    "functional_firearm",
]
CLASSES: tuple[str, ...] = Capability.__args__  # type: ignore[attr-defined]
# The only classes that can ever be cleared, whatever a production's policy says.
CLEARABLE_CLASSES: frozenset[str] = frozenset(
    {"non_firing_replica", "non_firing_mechanical", "deactivated"}
)

ItemStatus = Literal["active", "quarantined", "missing", "retired"]
TagStatus = Literal["active", "revoked", "superseded"]
# Limits and counts are never negative, and every time carries its zone: a negative
# limit would switch a rule off, and a zone-less time cannot be compared safely.
# Policy limits. Bounded above too: a policy of 1e300 hours overflowed the server's
# date arithmetic (every verify a 500) while phones, computing in plain numbers,
# answered CLEARED on a year-old inspection (found by review).
_Hours = Annotated[float, msgspec.Meta(ge=0, le=24 * 365)]
_SnapshotHours = Annotated[float, msgspec.Meta(ge=0, le=24 * 7)]
_Minutes = Annotated[float, msgspec.Meta(ge=1, le=24 * 60)]
Count = Annotated[int, msgspec.Meta(ge=0)]
When = Annotated[datetime, msgspec.Meta(tz=True)]

ScanProblem = Literal["bad_format", "bad_check_character", "no_code_found", "ambiguous_photo"]

# Stable reason codes and the sentence shown for each. Order here is display order.
MESSAGES: dict[str, str] = {
    "internal_error": "Something went wrong while checking. Treat this item as unsafe.",
    "service_unavailable": "The registry could not be reached. Treat this item as unsafe.",
    "rate_limited": "Too many scans from this phone. Wait a moment. Treat this item as unsafe.",
    "no_code_found": (
        "No tag code was found in the photo. Move closer, add light, or type the code."
    ),
    "ambiguous_photo": "The photo shows more than one tag. Photograph one tag at a time.",
    "bad_format": "This is not a propcheck tag code.",
    "bad_check_character": "The code does not check out: it was mistyped or misread.",
    "unknown_code": "This tag is not registered. Treat the item as a real firearm.",
    "offline_no_snapshot": "Offline and no production data on this phone.",
    "offline_snapshot_stale": "Offline data on this phone is too old to trust.",
    # The phone's app, not the server: its snapshot has facts the app cannot read.
    "offline_app_outdated": "This app is older than its offline data. Update it to check offline.",
    "revoked_tag": "This tag was revoked. Its item must carry a new tag.",
    "superseded_tag": "This tag was replaced by a newer one. Its item must carry the new tag.",
    "other_production": "This tag belongs to another production.",
    "production_archived": "This production is archived.",
    "restricted_class": "This item can fire or is restricted. Only the armorer may handle it.",
    "missing_evidence": "Deactivated item without deactivation evidence on record.",
    "quarantined": "This item is quarantined.",
    "missing": "This item is reported missing.",
    "retired": "This item is retired from use.",
    "open_incident": "An incident about this item is not resolved.",
    "never_inspected": "This item has never passed an inspection.",
    "inspection_stale": "The last passing inspection is too old.",
    "not_inspected_since_incident": "Not inspected since its last incident.",
    "not_inspected_since_class_change": (
        "Its class was changed since its last passing inspection. Inspect it again."
    ),
    "not_inspected_since_use": (
        "It came back from a performer and was not inspected since. Inspect it first."
    ),
    "possible_duplicate_tag": ("This tag was seen in two places at once. It may be a copied tag."),
    "visual_mismatch": "The item in hand does not match the registered photos and marks.",
}


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """One reason for a verdict: a stable code and a sentence for the screen."""

    code: str
    message: str


class Policy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A production's safety policy; the defaults are the safe ones."""

    clearable_classes: tuple[Capability, ...] = (
        "non_firing_replica",
        "non_firing_mechanical",
        "deactivated",
    )
    #: A passing inspection must be at most this old (hours); 0 turns the rule off.
    inspection_max_age_hours: _Hours = 12.0
    #: A passing inspection must be newer than the item's last incident.
    require_inspection_since_incident: bool = True
    #: A passing inspection must be newer than the item's last return from a performer
    #: (Industry Safety Bulletin #1: inspected after every use; the check-in offers it).
    require_inspection_after_use: bool = True
    #: CLEARED stays provisional until the scanning person confirms a visual match.
    visual_confirmation_required: bool = True
    #: An offline verdict may use a snapshot at most this old (hours).
    offline_snapshot_max_age_hours: _SnapshotHours = 8.0
    #: A verification is good for a hand-off for this many minutes.
    verification_valid_minutes: _Minutes = 10.0


class TagFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The tag the code belongs to."""

    status: TagStatus
    same_production: bool


class ItemFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The item the tag is bound to."""

    status: ItemStatus
    capability_class: Capability
    has_evidence: bool = False
    last_passed_inspection_at: When | None = None
    last_incident_at: When | None = None
    #: When its capability class last changed (None: never since registration).
    class_changed_at: When | None = None
    open_incidents: Count = 0
    #: When it was last checked in from a performer (None: never handed out).
    last_returned_at: When | None = None
    #: Performer holding the item now (checked out), or None when it is with props.
    checked_out_to: str | None = None


class RecentHandoff(msgspec.Struct, frozen=True, kw_only=True):
    """Another verification of the same tag for a hand-off, inside the validity window."""

    device: str
    to: str
    at: When


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the verdict depends on. Missing facts are STOP, never assumed fine."""

    now: When
    policy: Policy = msgspec.field(default_factory=Policy)
    scan_problem: ScanProblem | None = None
    tag: TagFacts | None = None
    item: ItemFacts | None = None
    production_archived: bool = False
    #: None when the verdict is computed online; else the offline snapshot's time.
    snapshot_at: When | None = None
    offline: bool = False
    #: The device scanning now, and the performer this scan is a hand-off to, if any.
    device: str | None = None
    handoff_to: str | None = None
    recent_handoffs: tuple[RecentHandoff, ...] = ()
    #: The scanning person's visual check: None not yet answered.
    visual_match: bool | None = None


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The answer: CLEARED only with no reasons at all."""

    verdict: Literal["CLEARED", "STOP"]
    reasons: tuple[Reason, ...]
    #: CLEARED but provisional until the person confirms the item matches.
    needs_confirmation: bool = False


def _reason(code: str) -> Reason:
    return Reason(code=code, message=MESSAGES[code])


def stop(*codes: str) -> Verdict:
    """A STOP verdict for failures outside the facts (errors, outages, bad photos)."""
    return Verdict(verdict="STOP", reasons=tuple(_reason(c) for c in codes or ("internal_error",)))


def _item_reasons(facts: Facts, item: ItemFacts) -> list[str]:
    policy = facts.policy
    found: list[str] = []
    clearable = item.capability_class in CLEARABLE_CLASSES
    if not clearable or item.capability_class not in policy.clearable_classes:
        found.append("restricted_class")
    if item.capability_class == "deactivated" and not item.has_evidence:
        found.append("missing_evidence")
    if item.status != "active":
        found.append(item.status)
    if item.open_incidents > 0:
        found.append("open_incident")

    passed = item.last_passed_inspection_at
    if passed is None:
        found.append("never_inspected")
    else:
        max_age = policy.inspection_max_age_hours
        if max_age > 0 and (facts.now - passed > timedelta(hours=max_age) or passed > facts.now):
            found.append("inspection_stale")
        if (
            policy.require_inspection_since_incident
            and item.last_incident_at is not None
            and passed <= item.last_incident_at
        ):
            found.append("not_inspected_since_incident")
        # Not a policy setting: an edit saying a firing item cannot fire is not a look
        # at the item. Only a passing inspection after the change may clear it.
        if item.class_changed_at is not None and passed <= item.class_changed_at:
            found.append("not_inspected_since_class_change")
        # Strictly before: the after-use inspection taken with the check-in is written
        # in the same transaction, after it (both clock_timestamp(); equal only within
        # one microsecond of the same check-in).
        if (
            policy.require_inspection_after_use
            and item.last_returned_at is not None
            and passed < item.last_returned_at
        ):
            found.append("not_inspected_since_use")

    if facts.handoff_to is not None and _custody_conflict(facts, item, facts.handoff_to):
        found.append("possible_duplicate_tag")
    return found


def _custody_conflict(facts: Facts, item: ItemFacts, to: str) -> bool:
    # Custody says the item is with one performer; a hand-off to someone else would
    # need it checked in first. Or another device is handing the same tag to someone
    # else within the validity window: one of the two tags must be a copy.
    if item.checked_out_to is not None and item.checked_out_to != to:
        return True
    window = timedelta(minutes=facts.policy.verification_valid_minutes)
    return any(
        h.device != facts.device and h.to != to and facts.now - h.at <= window
        for h in facts.recent_handoffs
    )


def decide(facts: Facts) -> Verdict:
    """Return CLEARED or STOP with every applicable reason, in display order."""
    codes: list[str] = []
    if facts.offline:
        age = None if facts.snapshot_at is None else facts.now - facts.snapshot_at
        if age is None:
            codes.append("offline_no_snapshot")
        elif age > timedelta(hours=facts.policy.offline_snapshot_max_age_hours) or age < -timedelta(
            minutes=5
        ):
            # A snapshot "from the future" means the phone clock is wrong: not trusted.
            codes.append("offline_snapshot_stale")

    if facts.scan_problem is not None:
        codes.append(facts.scan_problem)
    elif facts.tag is None:
        codes.append("unknown_code")
    else:
        if facts.tag.status != "active":
            codes.append("revoked_tag" if facts.tag.status == "revoked" else "superseded_tag")
        if not facts.tag.same_production:
            codes.append("other_production")
        if facts.item is None:
            codes.append("unknown_code")
        elif facts.tag.same_production:
            # Details of another production's item are not ours to reason about.
            codes.extend(_item_reasons(facts, facts.item))

    if facts.production_archived:
        codes.append("production_archived")
    if facts.visual_match is False:
        codes.append("visual_mismatch")

    if codes:
        order = list(MESSAGES)
        unique = sorted(set(codes), key=order.index)
        return Verdict(verdict="STOP", reasons=tuple(_reason(c) for c in unique))
    needs = facts.policy.visual_confirmation_required and facts.visual_match is not True
    return Verdict(verdict="CLEARED", reasons=(), needs_confirmation=needs)


def lapses_at(facts: Facts) -> When | None:
    """The instant a CLEARED decided on ``facts`` turns STOP by time alone: when the
    passing inspection outgrows the policy's age limit. None when no rule of time ends
    it (no age limit, or no passing inspection, which is STOP already).

    The only rule of time that can turn a CLEARED into a STOP here: the duplicate-tag
    window only ever ends a STOP, and an offline snapshot's age is judged on the phone.
    A CLEARED recorded after this instant would be a CLEARED of an item past its
    inspection, so the record refuses it and the verify decides again (api/recorder.py,
    migration 0017).
    """
    item = facts.item
    max_age = facts.policy.inspection_max_age_hours
    if item is None or item.last_passed_inspection_at is None or max_age <= 0:
        return None
    return item.last_passed_inspection_at + timedelta(hours=max_age)
