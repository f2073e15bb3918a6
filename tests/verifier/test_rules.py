"""The verdict rules against the shared JSON vectors and against the spec's invariants.

The vectors (tests/vectors/verdicts.json) are the contract the PWA's offline port is
held to as well. The property tests state the fail-closed promise directly: a STOP fact
never yields CLEARED, and CLEARED means every required fact was known and good.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier import rules

VECTORS_PATH = Path(__file__).parents[1] / "vectors" / "verdicts.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
# Codes that only stop() produces (errors and outages), never decide().
# Decided outside the facts: by the server's failures, or by the phone's app before it
# reads any (offline_app_outdated: a snapshot with fields the app does not know).
OUTSIDE_FACTS = {"internal_error", "service_unavailable", "rate_limited", "offline_app_outdated"}
RESTRICTED = [c for c in rules.CLASSES if c not in rules.CLEARABLE_CLASSES]


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
_H = 3600


def _good_facts() -> rules.Facts:
    return rules.Facts(
        now=NOW,
        tag=rules.TagFacts(status="active", same_production=True),
        item=rules.ItemFacts(
            status="active",
            capability_class="non_firing_replica",
            last_passed_inspection_at=NOW - timedelta(hours=1),
        ),
        device="phone-1",
    )


def _facts(vector: dict[str, Any]) -> rules.Facts:
    return msgspec.json.decode(json.dumps(vector["facts"]).encode(), type=rules.Facts)


# ------------------------------------------------------------------------ the vectors
@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    verdict = rules.decide(_facts(vector))
    assert verdict.verdict == vector["verdict"]
    assert [r.code for r in verdict.reasons] == vector["reasons"]
    assert verdict.needs_confirmation == vector["needs_confirmation"]
    assert [r.message for r in verdict.reasons] == [rules.MESSAGES[c] for c in vector["reasons"]]


def test_vector_facts_are_exactly_what_msgspec_encodes() -> None:
    # A misspelt key would be ignored on decode and silently test the default instead.
    for vector in VECTORS:
        again = msgspec.json.decode(msgspec.json.encode(_facts(vector)))
        assert again == vector["facts"], vector["name"]


def test_vector_names_are_unique() -> None:
    names = [v["name"] for v in VECTORS]
    assert len(names) == len(set(names))


def test_vectors_cover_every_reason_alone_and_in_combination() -> None:
    alone = {v["reasons"][0] for v in VECTORS if len(v["reasons"]) == 1}
    combined = {c for v in VECTORS if len(v["reasons"]) > 1 for c in v["reasons"]}
    codes = set(rules.MESSAGES) - OUTSIDE_FACTS
    assert codes <= alone
    # Scan problems never combine with tag or item reasons; everything else does.
    assert codes - {"no_code_found", "bad_format", "ambiguous_photo"} <= combined
    assert any(v["verdict"] == "CLEARED" and v["needs_confirmation"] for v in VECTORS)
    assert any(v["verdict"] == "CLEARED" and not v["needs_confirmation"] for v in VECTORS)


def test_stop_without_codes_is_an_internal_error() -> None:
    assert [r.code for r in rules.stop().reasons] == ["internal_error"]
    outage = rules.stop("service_unavailable")
    assert outage.verdict == "STOP"
    assert outage.reasons[0].message == rules.MESSAGES["service_unavailable"]


@pytest.mark.parametrize("capability", RESTRICTED)
def test_no_policy_can_clear_a_restricted_class(capability: str) -> None:
    # Exhaustive over every subset of classes a production could list as clearable.
    good = _good_facts()
    assert good.item is not None
    item = msgspec.structs.replace(good.item, capability_class=capability)
    for size in range(len(rules.CLASSES) + 1):
        for subset in itertools.combinations(rules.CLASSES, size):
            policy = rules.Policy(clearable_classes=subset)  # type: ignore[arg-type]
            facts = msgspec.structs.replace(good, item=item, policy=policy, visual_match=True)
            verdict = rules.decide(facts)
            assert verdict.verdict == "STOP"
            assert "restricted_class" in [r.code for r in verdict.reasons]


def _good_json(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = msgspec.to_builtins(_good_facts())
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = raw
        for parent in parents:
            target = target[parent]
        target[key] = value
    return raw


NEGATIVE_LIMITS = {
    "inspection max age -1 h, inspected 300 days ago": _good_json(
        policy__inspection_max_age_hours=-1.0,
        item__last_passed_inspection_at="2024-08-05T12:00:00Z",
    ),
    "open incidents -1": _good_json(item__open_incidents=-1),
    "validity window -1 min, other device's hand-off 1 min ago": _good_json(
        policy__verification_valid_minutes=-1.0,
        handoff_to="perf-B",
        recent_handoffs=[{"device": "phone-2", "to": "perf-C", "at": "2025-06-01T11:59:00Z"}],
    ),
}


@pytest.mark.parametrize("raw", NEGATIVE_LIMITS.values(), ids=NEGATIVE_LIMITS.keys())
def test_negative_limits_never_clear(raw: dict[str, Any]) -> None:
    try:
        facts = msgspec.convert(raw, rules.Facts)
    except msgspec.ValidationError:
        return  # refused outright: the caller shows STOP
    assert rules.decide(facts).verdict == "STOP"


def test_reason_codes_are_stable_and_have_sentences() -> None:
    # The PWA and stored verifications refer to these codes; renaming one is a break.
    assert list(rules.MESSAGES) == [
        "internal_error",
        "service_unavailable",
        "rate_limited",
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
    ]
    assert all(m.strip().endswith(".") for m in rules.MESSAGES.values())


# ------------------------------------------------------------------ property tests
def _mostly(good: Any, other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The good value six times in seven, so that CLEARED is reached often enough to
    test it even though a dozen independent facts must all be good at once."""
    return st.integers(min_value=0, max_value=6).flatmap(
        lambda n: other if n == 0 else st.just(good)
    )


# Offsets from now in seconds, clustered on every limit the default policies use.
_LIMITS = [0, 60, 5 * 60, 10 * 60, 30 * 60, _H, 8 * _H, 12 * _H, 24 * _H]
_offsets = st.one_of(
    st.sampled_from(_LIMITS).flatmap(
        lambda s: st.sampled_from([s - 1, s, s + 1, -s, -s - 1]).map(float)
    ),
    st.floats(min_value=-_H, max_value=3 * 24 * _H),
)


def _before_now(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


_times = _offsets.map(_before_now)

_policies = st.builds(
    rules.Policy,
    clearable_classes=_mostly(
        rules.Policy().clearable_classes,
        st.lists(st.sampled_from(rules.CLASSES), unique=True).map(tuple),
    ),
    inspection_max_age_hours=st.sampled_from([0.0, 0.5, 8.0, 12.0, 24.0]),
    require_inspection_since_incident=_mostly(True, st.booleans()),
    require_inspection_after_use=_mostly(True, st.booleans()),
    visual_confirmation_required=st.booleans(),
    offline_snapshot_max_age_hours=st.sampled_from([0.0, 1.0, 8.0, 12.0]),
    verification_valid_minutes=st.sampled_from([0.0, 1.0, 10.0, 30.0]),
)
_people = st.sampled_from(["perf-A", "perf-B", "perf-C"])
_devices = st.sampled_from(["phone-1", "phone-2"])
_items = st.builds(
    rules.ItemFacts,
    status=_mostly("active", st.sampled_from(["active", "quarantined", "missing", "retired"])),
    capability_class=_mostly("non_firing_replica", st.sampled_from(rules.CLASSES)),
    has_evidence=_mostly(True, st.booleans()),
    last_passed_inspection_at=_mostly(NOW - timedelta(hours=1), st.none() | _times),
    last_incident_at=_mostly(None, _times),
    class_changed_at=_mostly(None, _times),
    open_incidents=_mostly(0, st.integers(min_value=0, max_value=3)),
    checked_out_to=_mostly(None, _people),
    last_returned_at=_mostly(None, _times),
)
_handoffs = st.builds(rules.RecentHandoff, device=_devices, to=_people, at=_times)
_facts_strategy = st.builds(
    rules.Facts,
    now=st.just(NOW),
    policy=_policies,
    scan_problem=_mostly(
        None,
        st.sampled_from(["bad_format", "bad_check_character", "no_code_found", "ambiguous_photo"]),
    ),
    tag=_mostly(
        rules.TagFacts(status="active", same_production=True),
        st.none()
        | st.builds(
            rules.TagFacts,
            status=st.sampled_from(["active", "revoked", "superseded"]),
            same_production=st.booleans(),
        ),
    ),
    item=st.integers(min_value=0, max_value=9).flatmap(lambda n: st.none() if n == 0 else _items),
    production_archived=_mostly(False, st.booleans()),
    snapshot_at=_mostly(NOW - timedelta(hours=1), st.none() | _times),
    offline=st.booleans(),
    device=_mostly("phone-1", st.none() | _devices),
    handoff_to=st.none() | _people,
    recent_handoffs=st.lists(_handoffs, max_size=3).map(tuple),
    visual_match=_mostly(None, st.booleans()),
)

_PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _stop_facts(f: rules.Facts) -> set[str]:
    """Every fact the spec says forbids CLEARED, named by its reason code.

    Written from DOMAIN.md and issue 4, independently of rules.py. Reasons the
    verdict shows only when the facts behind them can be judged (an undecoded code has
    no tag; another production's item is not ours) are left out when masked.
    """
    p = f.policy
    found: set[str] = set()
    if f.offline:
        if f.snapshot_at is None:
            found.add("offline_no_snapshot")
        else:
            age = f.now - f.snapshot_at
            too_old = age > timedelta(hours=p.offline_snapshot_max_age_hours)
            if too_old or age < -timedelta(minutes=5):
                found.add("offline_snapshot_stale")
    if f.production_archived:
        found.add("production_archived")
    if f.visual_match is False:
        found.add("visual_mismatch")
    if f.scan_problem is not None:
        return found | {f.scan_problem}
    if f.tag is None:
        return found | {"unknown_code"}
    if f.tag.status == "revoked":
        found.add("revoked_tag")
    if f.tag.status == "superseded":
        found.add("superseded_tag")
    if not f.tag.same_production:
        found.add("other_production")
    if f.item is None:
        return found | {"unknown_code"}
    if not f.tag.same_production:
        return found
    i = f.item
    cls = i.capability_class
    if cls not in {"non_firing_replica", "non_firing_mechanical", "deactivated"}:
        found.add("restricted_class")
    if cls not in p.clearable_classes:
        found.add("restricted_class")
    if cls == "deactivated" and not i.has_evidence:
        found.add("missing_evidence")
    if i.status in {"quarantined", "missing", "retired"}:
        found.add(i.status)
    if i.open_incidents:
        found.add("open_incident")
    passed = i.last_passed_inspection_at
    if passed is None:
        found.add("never_inspected")
    else:
        fresh = f.now - timedelta(hours=p.inspection_max_age_hours) <= passed <= f.now
        if p.inspection_max_age_hours and not fresh:
            found.add("inspection_stale")
        incident = i.last_incident_at if p.require_inspection_since_incident else None
        if incident is not None and not passed > incident:
            found.add("not_inspected_since_incident")
        if i.class_changed_at is not None and not passed > i.class_changed_at:
            found.add("not_inspected_since_class_change")
        returned = i.last_returned_at if p.require_inspection_after_use else None
        if returned is not None and not passed >= returned:
            found.add("not_inspected_since_use")
    if f.handoff_to is not None:
        held_by_other = i.checked_out_to is not None and i.checked_out_to != f.handoff_to
        window = timedelta(minutes=p.verification_valid_minutes)
        seen_elsewhere = any(
            h.device != f.device and h.to != f.handoff_to and f.now - h.at <= window
            for h in f.recent_handoffs
        )
        if held_by_other or seen_elsewhere:
            found.add("possible_duplicate_tag")
    return found


@_PROPERTY
@given(_facts_strategy)
def test_a_stop_fact_never_yields_cleared(facts: rules.Facts) -> None:
    verdict = rules.decide(facts)
    expected = _stop_facts(facts)
    codes = [r.code for r in verdict.reasons]
    if expected:
        assert verdict.verdict == "STOP"
    # Every reason that applies is shown, and nothing else.
    assert set(codes) == expected


@_PROPERTY
@given(_facts_strategy)
def test_cleared_means_every_required_fact_is_good(facts: rules.Facts) -> None:
    verdict = rules.decide(facts)
    if verdict.verdict != "CLEARED":
        return
    p, tag, item = facts.policy, facts.tag, facts.item
    assert verdict.reasons == ()
    assert facts.scan_problem is None
    assert tag is not None and tag.status == "active" and tag.same_production
    assert item is not None and item.status == "active"
    assert item.capability_class in rules.CLEARABLE_CLASSES
    assert item.capability_class in p.clearable_classes
    assert item.capability_class != "deactivated" or item.has_evidence
    assert item.open_incidents == 0
    passed = item.last_passed_inspection_at
    assert passed is not None
    if p.inspection_max_age_hours > 0:
        assert timedelta(0) <= facts.now - passed <= timedelta(hours=p.inspection_max_age_hours)
    if p.require_inspection_since_incident and item.last_incident_at is not None:
        assert passed > item.last_incident_at
    if item.class_changed_at is not None:
        assert passed > item.class_changed_at
    if p.require_inspection_after_use and item.last_returned_at is not None:
        assert passed >= item.last_returned_at
    if facts.offline:
        assert facts.snapshot_at is not None
        age = facts.now - facts.snapshot_at
        assert age <= timedelta(hours=p.offline_snapshot_max_age_hours)
    assert not facts.production_archived
    assert facts.visual_match is not False
    if facts.handoff_to is not None:
        assert item.checked_out_to in (None, facts.handoff_to)
    # Provisional exactly when the policy wants a visual check and none was given.
    wanted = p.visual_confirmation_required and facts.visual_match is not True
    assert verdict.needs_confirmation == wanted


@_PROPERTY
@given(_facts_strategy)
def test_stop_always_says_why_in_display_order(facts: rules.Facts) -> None:
    verdict = rules.decide(facts)
    if verdict.verdict == "CLEARED":
        return
    codes = [r.code for r in verdict.reasons]
    assert codes
    order = list(rules.MESSAGES)
    assert codes == sorted(set(codes), key=order.index)
    assert all(r.message == rules.MESSAGES[r.code] for r in verdict.reasons)
    assert not verdict.needs_confirmation


@_PROPERTY
@given(_facts_strategy, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)))
def test_a_cleared_lasts_until_it_lapses_and_no_longer(facts: rules.Facts, wait: timedelta) -> None:
    # The record refuses a CLEARED stored after lapses_at (migration 0017); the same
    # facts decided at any later moment up to it must still clear, and just after it
    # must not: else the record would refuse good verdicts or keep lapsed ones.
    if rules.decide(facts).verdict != "CLEARED" or facts.offline:
        return
    lapses = rules.lapses_at(facts)
    later = facts.now + wait
    if lapses is None:
        assert rules.decide(msgspec.structs.replace(facts, now=later)).verdict == "CLEARED"
        return
    assert lapses >= facts.now
    assert rules.decide(msgspec.structs.replace(facts, now=lapses)).verdict == "CLEARED"
    after = rules.decide(msgspec.structs.replace(facts, now=lapses + timedelta(microseconds=1)))
    assert [r.code for r in after.reasons] == ["inspection_stale"]
    if later <= lapses:
        assert rules.decide(msgspec.structs.replace(facts, now=later)).verdict == "CLEARED"
