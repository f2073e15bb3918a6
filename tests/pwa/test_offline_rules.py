"""The phone's offline rule set and code checker, run in Chromium, must answer exactly
as verifier/rules.py and verifier/codes.py do (issue 7, item 10f)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from verifier import codes, rules

pytestmark = pytest.mark.browser

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "verdicts.json").read_text(encoding="utf-8")
)
_RNG = random.Random(7)


async def _open(page: Any, base_url: str) -> Any:
    """Run the vectors page; any page on the server's origin can import the modules."""
    await page.goto(f"{base_url}/_test/pwa/vectors.html")
    await page.wait_for_function("() => window.vectorResult !== undefined", timeout=20_000)
    return await page.evaluate("() => window.vectorResult")


async def test_offline_rules_pass_every_shared_vector(
    phone_page: Any, static_base_url: str, page_errors: list[str], artifacts_dir: Path
) -> None:
    result = await _open(phone_page, static_base_url)
    await phone_page.screenshot(path=str(artifacts_dir / "offline-rules-vectors.png"))
    assert result.get("error") is None, result
    assert result["count"] == len(VECTORS)
    assert result["mismatches"] == []
    assert page_errors == []


async def test_offline_rules_show_the_same_sentences(phone_page: Any, static_base_url: str) -> None:
    await _open(phone_page, static_base_url)
    entries = await phone_page.evaluate(
        "async () => Object.entries((await import('/js/rules.js')).MESSAGES)"
    )
    # Same codes, same words, same display order.
    assert entries == [list(pair) for pair in rules.MESSAGES.items()]


_GOOD_ITEM = {"status": "active", "capability_class": "non_firing_replica"}
_TAG = {"status": "active", "same_production": True}

# Facts as a phone might hold them: fields left out, zones other than Z, fractions.
SPARSE_FACTS: list[dict[str, Any]] = [
    {"now": "2025-06-01T12:00:00Z"},
    {"now": "2025-06-01T12:00:00Z", "tag": _TAG},
    {"now": "2025-06-01T12:00:00Z", "tag": _TAG, "item": _GOOD_ITEM},
    {
        "now": "2025-06-01T14:00:00+02:00",
        "tag": _TAG,
        "item": {**_GOOD_ITEM, "last_passed_inspection_at": "2025-06-01T00:00:00.000000Z"},
    },
    {
        "now": "2025-06-01T14:00:00.000001+02:00",
        "tag": _TAG,
        "item": {**_GOOD_ITEM, "last_passed_inspection_at": "2025-06-01T00:00:00Z"},
    },
    {
        "now": "2025-06-01T07:00:00-05:00",
        "tag": _TAG,
        "item": {**_GOOD_ITEM, "last_passed_inspection_at": "2025-06-01T11:59:59.5Z"},
        "policy": {"visual_confirmation_required": False},
    },
    {
        "now": "2025-06-01T12:00:00Z",
        "tag": _TAG,
        "item": {**_GOOD_ITEM, "last_passed_inspection_at": "2025-06-01T11:00:00Z"},
        "offline": True,
        "snapshot_at": "2025-06-01T04:00:00Z",
        "policy": {"offline_snapshot_max_age_hours": 8},
    },
    {
        "now": "2025-06-01T12:00:00Z",
        "tag": _TAG,
        "item": {
            **_GOOD_ITEM,
            "last_passed_inspection_at": "2025-06-01T11:00:00Z",
            "checked_out_to": "perf-A",
        },
        "handoff_to": "perf-B",
    },
    {
        "now": "2025-06-01T12:00:00Z",
        "tag": _TAG,
        "item": {**_GOOD_ITEM, "last_passed_inspection_at": "2025-06-01T11:00:00Z"},
        "handoff_to": "perf-B",
        "recent_handoffs": [{"device": "phone-9", "to": "perf-C", "at": "2025-06-01T11:55:00Z"}],
    },
]


def _python_verdict(facts: dict[str, Any]) -> dict[str, Any]:
    decoded = msgspec.json.decode(json.dumps(facts).encode(), type=rules.Facts)
    verdict = rules.decide(decoded)
    return {
        "verdict": verdict.verdict,
        "reasons": [r.code for r in verdict.reasons],
        "needs_confirmation": verdict.needs_confirmation,
    }


_JS_DECIDE_ALL = """async (all) => {
  const { decide } = await import('/js/rules.js');
  return all.map((facts) => {
    const v = decide(facts);
    return {
      verdict: v.verdict,
      reasons: v.reasons.map((r) => r.code),
      needs_confirmation: v.needs_confirmation,
    };
  });
}"""


async def test_omitted_facts_take_the_same_defaults(phone_page: Any, static_base_url: str) -> None:
    await _open(phone_page, static_base_url)
    got = await phone_page.evaluate(_JS_DECIDE_ALL, SPARSE_FACTS)
    assert got == [_python_verdict(f) for f in SPARSE_FACTS]


_NOW = "2025-06-01T12:00:00Z"
_GOOD: dict[str, Any] = {
    "now": _NOW,
    "tag": _TAG,
    "item": {**_GOOD_ITEM, "last_passed_inspection_at": "2025-06-01T11:00:00Z"},
}
# Facts msgspec refuses to decode into rules.Facts; the phone must STOP on them.
MALFORMED: list[dict[str, Any]] = [
    {},
    {**_GOOD, "now": "yesterday"},
    {**_GOOD, "now": "2025-02-30T12:00:00Z"},
    {**_GOOD, "now": None},
    {**_GOOD, "tag": {"status": "active"}},
    {**_GOOD, "tag": {"status": "lost", "same_production": True}},
    {**_GOOD, "item": {**_GOOD["item"], "status": "borrowed"}},
    {**_GOOD, "item": {**_GOOD["item"], "capability_class": "toy"}},
    {**_GOOD, "item": {**_GOOD["item"], "open_incidents": 1.5}},
    {**_GOOD, "item": {**_GOOD["item"], "open_incidents": "0"}},
    {**_GOOD, "item": {**_GOOD["item"], "has_evidence": "yes"}},
    {**_GOOD, "policy": {"clearable_clases": ["functional_firearm"]}},
    {**_GOOD, "policy": {"clearable_classes": ["toy"]}},
    {**_GOOD, "policy": {"inspection_max_age_hours": "12"}},
    {**_GOOD, "visual_match": "yes"},
    {**_GOOD, "scan_problem": "blurry"},
    {**_GOOD, "offline": 1},
    {**_GOOD, "recent_handoffs": [{"device": "phone-2", "to": "perf-C"}]},
]


async def test_malformed_facts_are_stop_on_the_phone(phone_page: Any, static_base_url: str) -> None:
    for facts in MALFORMED:
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(json.dumps(facts).encode(), type=rules.Facts)
    await _open(phone_page, static_base_url)
    got = await phone_page.evaluate(
        """async (all) => {
          const { decide, decideOrStop } = await import('/js/rules.js');
          return all.map((facts) => {
            let threw = false;
            try { decide(facts); } catch (error) { threw = error instanceof TypeError; }
            const safe = decideOrStop(facts);
            return [threw, safe.verdict, safe.reasons.map((r) => r.code)];
          });
        }""",
        MALFORMED,
    )
    assert got == [[True, "STOP", ["internal_error"]]] * len(MALFORMED)


async def test_times_without_a_zone_are_refused_on_the_phone(
    phone_page: Any, static_base_url: str
) -> None:
    # Stricter than Python (which compares naive times among themselves): on a phone a
    # zone-less time would be read in local time and move every limit by hours.
    await _open(phone_page, static_base_url)
    naive = {**_GOOD, "now": "2025-06-01T12:00:00"}
    got = await phone_page.evaluate(
        "async (f) => (await import('/js/rules.js')).decideOrStop(f).reasons[0].code", naive
    )
    assert got == "internal_error"


# Limits out of rules.Policy's bounds: msgspec refuses them, and so must the phone. A
# negative limit would switch a rule off; a huge one would let a year-old inspection or
# snapshot pass (1e300 hours CLEARED on the phone until the bounds were ported).
_YEAR_OLD = "2024-06-01T11:00:00Z"
OUT_OF_RANGE: list[dict[str, Any]] = [
    {**_GOOD, "policy": {"inspection_max_age_hours": -1}},
    {**_GOOD, "policy": {"verification_valid_minutes": -1}},
    {**_GOOD, "policy": {"verification_valid_minutes": 0}},
    {**_GOOD, "policy": {"offline_snapshot_max_age_hours": -0.5}},
    {**_GOOD, "item": {**_GOOD["item"], "open_incidents": -1}},
    {
        **_GOOD,
        "item": {**_GOOD["item"], "last_passed_inspection_at": _YEAR_OLD},
        "policy": {"inspection_max_age_hours": 1e300},
    },
    {**_GOOD, "policy": {"inspection_max_age_hours": 24 * 365 + 0.001}},
    {
        **_GOOD,
        "offline": True,
        "snapshot_at": _YEAR_OLD,
        "policy": {"offline_snapshot_max_age_hours": 1e9},
    },
    {**_GOOD, "policy": {"offline_snapshot_max_age_hours": 24 * 7 + 1}},
    {**_GOOD, "policy": {"verification_valid_minutes": 24 * 60 + 1}},
]


async def test_limits_out_of_range_are_stop_on_the_phone(
    phone_page: Any, static_base_url: str
) -> None:
    for facts in OUT_OF_RANGE:
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(json.dumps(facts).encode(), type=rules.Facts)
    await _open(phone_page, static_base_url)
    got = await phone_page.evaluate(
        "async (all) => { const { decideOrStop } = await import('/js/rules.js');"
        " return all.map((f) => decideOrStop(f).reasons.map((r) => r.code)); }",
        OUT_OF_RANGE,
    )
    assert got == [["internal_error"]] * len(OUT_OF_RANGE)


async def test_limits_at_their_bounds_decide_as_on_the_server(
    phone_page: Any, static_base_url: str
) -> None:
    at_bounds = [
        {**_GOOD, "policy": {"inspection_max_age_hours": 24 * 365}},
        {**_GOOD, "policy": {"offline_snapshot_max_age_hours": 24 * 7}},
        {**_GOOD, "policy": {"verification_valid_minutes": 1}},
        {**_GOOD, "policy": {"verification_valid_minutes": 24 * 60}},
    ]
    await _open(phone_page, static_base_url)
    got = await phone_page.evaluate(_JS_DECIDE_ALL, at_bounds)
    assert got == [_python_verdict(f) for f in at_bounds]


# ----------------------------------------------------------------------------- codes
def _corruptions(code: str) -> list[str]:
    i = _RNG.randrange(18)
    symbol = _RNG.choice([s for s in codes.ALPHABET if s != code[i]])
    j = _RNG.randrange(17)
    shown = codes.format_code(code)
    return [
        code,
        shown,
        shown.lower(),
        shown.replace("-", " "),
        "pc" + code,
        code.replace("0", "O").replace("1", "l"),
        code[:i] + symbol + code[i + 1 :],
        code[:j] + code[j + 1] + code[j] + code[j + 2 :],
        code[:-1],
        code + _RNG.choice(codes.ALPHABET),
        code[:5] + "\x00" + code[5:],
        code + " " * (64 - 18),
        code + " " * (65 - 18),
    ]


def _odd_inputs(code: str) -> list[str]:
    ss = code.replace("S", "ß", 1) if "SS" in code else "ß" + code[2:]
    return [
        "",
        "PC-",
        "-" * 70,
        "x" * 1000,
        ss,
        code.replace("1", "\u0131"),  # dotless i upper-cases to I, folded to 1
        code.replace("1", "\uff11"),  # fullwidth digit one
        code + " " * 45 + "\U0001f600",  # 64 code points, 65 UTF-16 units
        code + " " * 46 + "\U0001f600",
        "\U0001f600" * 40,
        "\u00a0" + code,
        code[:9] + "\u200b" + code[9:],
        "PC" + code[:16],
    ]


def _python_code_result(text: str) -> list[Any]:
    try:
        parsed: list[Any] = ["ok", codes.parse(text)]
    except codes.CodeError as error:
        parsed = ["error", error.problem.value, str(error)]
    return [parsed, codes.normalize(text), codes.format_code(text), codes.is_valid(text)]


_JS_CODES = """async (inputs) => {
  const m = await import('/js/codes.js');
  return inputs.map((text) => {
    let parsed;
    try { parsed = ['ok', m.parse(text)]; }
    catch (error) { parsed = ['error', error.problem, error.message]; }
    return [parsed, m.normalize(text), m.formatCode(text), m.isValid(text)];
  });
}"""


async def test_codes_js_agrees_with_python(phone_page: Any, static_base_url: str) -> None:
    sample = [codes.new_code() for _ in range(300)]
    inputs = [t for code in sample for t in _corruptions(code)]
    inputs += [t for code in sample[:10] for t in _odd_inputs(code)]
    await _open(phone_page, static_base_url)
    got = await phone_page.evaluate(_JS_CODES, inputs)
    expected = [_python_code_result(t) for t in inputs]
    mismatches = [(t, g, e) for t, g, e in zip(inputs, got, expected, strict=True) if g != e]
    assert mismatches == []
    # Sanity: the sample really exercised both outcomes.
    assert sum(e[3] for e in expected) >= 300 * 6
    assert sum(not e[3] for e in expected) >= 300 * 5


async def test_check_symbol_matches_python(phone_page: Any, static_base_url: str) -> None:
    sample = [codes.new_code() for _ in range(300)]
    await _open(phone_page, static_base_url)
    got = await phone_page.evaluate(
        "async (bodies) => { const m = await import('/js/codes.js');"
        " return bodies.map((b) => m.checkSymbol(b)); }",
        [c[:17] for c in sample],
    )
    assert got == [c[17] for c in sample]


async def test_typing_feedback_while_entering_a_code(phone_page: Any, static_base_url: str) -> None:
    code = next(c for c in iter(codes.new_code, None) if not c.startswith("PC"))
    shown = codes.format_code(code)
    wrong = code[:-1] + next(s for s in codes.ALPHABET if s != code[-1])
    cases = {
        "": {"state": "empty", "remaining": 18},
        "PC-": {"state": "empty", "remaining": 18},
        shown[:9]: {"state": "typing", "remaining": 13},
        code[:10].lower(): {"state": "typing", "remaining": 8},
        code[:4] + "U": {"state": "bad_format"},
        code + "0": {"state": "bad_format"},
        wrong: {"state": "bad_check_character"},
        shown.lower(): {"state": "valid", "code": code},
        code: {"state": "valid", "code": code},
    }
    await _open(phone_page, static_base_url)
    got = await phone_page.evaluate(
        "async (texts) => { const m = await import('/js/codes.js');"
        " return texts.map((t) => m.checkTyping(t)); }",
        list(cases),
    )
    assert got == list(cases.values())


async def test_offline_time_corrects_a_slow_clock_and_distrusts_one_set_back(
    phone_page: Any, static_base_url: str
) -> None:
    # A phone 4 h slow must not let a 12 h inspection limit run to 16 h, nor an 8 h
    # snapshot limit to 12 h; a clock set back after the sync cannot be trusted at all.
    await _open(phone_page, static_base_url)
    seen = await phone_page.evaluate(
        """async () => {
          const { trustedNow } = await import('/js/snapshot.js');
          const { kv } = await import('/js/db.js');
          await kv.set('clock:latest', 0);
          const at = (iso) => Date.parse(iso);
          const iso = (d) => (d === null ? null : d.toISOString());
          const taken = '2026-06-01T12:00:00Z';
          const slow = { taken_at: taken, received_at: '2026-06-01T08:00:00Z' };
          const fast = { taken_at: taken, received_at: '2026-06-01T13:00:00Z' };
          return [
            iso(await trustedNow(slow, at('2026-06-01T08:01:00Z'))),
            iso(await trustedNow(fast, at('2026-06-01T13:01:00Z'))),
            iso(await trustedNow(fast, at('2026-06-01T12:58:00Z'))),
            iso(await trustedNow(fast, at('2026-06-01T12:30:00Z'))),
          ];
        }"""
    )
    assert seen == [
        "2026-06-01T12:01:00.000Z",  # 4 h slow at the sync: corrected
        "2026-06-01T13:01:00.000Z",  # fast: never corrected back (only stricter)
        "2026-06-01T12:58:00.000Z",  # set back 3 min (a network time fix): tolerated
        None,  # set back 31 min after the latest time shown: not trusted
    ]
