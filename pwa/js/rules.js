// The verdict, offline: a port of verifier/rules.py for the phone.
//
// CLEARED is the one answer that lets a person hand a prop to another person and point
// it at them, so it needs every fact to be known and good; anything missing, unknown
// or doubtful is STOP with every reason that applies. This file must give exactly the
// answers verifier/rules.py gives: both are run against tests/vectors/verdicts.json
// (tests/verifier/test_rules.py in Python, tests/pwa/test_offline_rules.py in Chromium).
//
// Facts arrive as msgspec encodes rules.Facts (JSON: snake_case keys, datetimes as
// ISO-8601 strings with a zone). Times are compared in whole microseconds, as Python
// does, so a limit is met or missed at exactly the same instant on both sides.

export const CLASSES = Object.freeze([
  "non_firing_replica",
  "non_firing_mechanical",
  "deactivated",
  "airsoft_projectile",
  "blank_firing",
  "functional_firearm",
]);
// The only classes that can ever be cleared, whatever a production's policy says.
export const CLEARABLE_CLASSES = Object.freeze(
  new Set(["non_firing_replica", "non_firing_mechanical", "deactivated"]),
);

const ITEM_STATUSES = new Set(["active", "quarantined", "missing", "retired"]);
const TAG_STATUSES = new Set(["active", "revoked", "superseded"]);
const SCAN_PROBLEMS = new Set(["bad_format", "bad_check_character", "no_code_found", "ambiguous_photo"]);

// Stable reason codes and the sentence shown for each. Order here is display order.
// Word for word the same as MESSAGES in verifier/rules.py.
export const MESSAGES = Object.freeze({
  internal_error: "Something went wrong while checking. Treat this item as unsafe.",
  service_unavailable: "The registry could not be reached. Treat this item as unsafe.",
  rate_limited: "Too many scans from this phone. Wait a moment. Treat this item as unsafe.",
  no_code_found: "No tag code was found in the photo. Move closer, add light, or type the code.",
  ambiguous_photo: "The photo shows more than one tag. Photograph one tag at a time.",
  bad_format: "This is not a propcheck tag code.",
  bad_check_character: "The code does not check out: it was mistyped or misread.",
  unknown_code: "This tag is not registered. Treat the item as a real firearm.",
  offline_no_snapshot: "Offline and no production data on this phone.",
  offline_snapshot_stale: "Offline data on this phone is too old to trust.",
  offline_app_outdated: "This app is older than its offline data. Update it to check offline.",
  revoked_tag: "This tag was revoked. Its item must carry a new tag.",
  superseded_tag: "This tag was replaced by a newer one. Its item must carry the new tag.",
  other_production: "This tag belongs to another production.",
  production_archived: "This production is archived.",
  restricted_class: "This item can fire or is restricted. Only the armorer may handle it.",
  missing_evidence: "Deactivated item without deactivation evidence on record.",
  quarantined: "This item is quarantined.",
  missing: "This item is reported missing.",
  retired: "This item is retired from use.",
  open_incident: "An incident about this item is not resolved.",
  never_inspected: "This item has never passed an inspection.",
  inspection_stale: "The last passing inspection is too old.",
  not_inspected_since_incident: "Not inspected since its last incident.",
  not_inspected_since_class_change: "Its class was changed since its last passing inspection. Inspect it again.",
  not_inspected_since_use: "It came back from a performer and was not inspected since. Inspect it first.",
  possible_duplicate_tag: "This tag was seen in two places at once. It may be a copied tag.",
  visual_mismatch: "The item in hand does not match the registered photos and marks.",
});
const ORDER = Object.keys(MESSAGES);

export const DEFAULT_POLICY = Object.freeze({
  clearable_classes: Object.freeze(["non_firing_replica", "non_firing_mechanical", "deactivated"]),
  inspection_max_age_hours: 12.0,
  require_inspection_since_incident: true,
  require_inspection_after_use: true,
  visual_confirmation_required: true,
  offline_snapshot_max_age_hours: 8.0,
  verification_valid_minutes: 10.0,
});

const US_PER_MINUTE = 60_000_000;
const US_PER_HOUR = 3_600_000_000;
// A snapshot "from the future" beyond this means the phone clock is wrong.
const SNAPSHOT_CLOCK_SKEW_US = 5 * US_PER_MINUTE;

// ------------------------------------------------------------------ reading the facts
// Malformed facts throw a TypeError, as msgspec refuses them in Python; callers turn
// that into STOP (see decideOrStop). Nothing malformed is ever read as "fine".

function fail(path, expected) {
  throw new TypeError(`Facts: ${path} must be ${expected}`);
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|z|[+-]\d{2}:\d{2})$/;

/**
 * Microseconds since the epoch for an ISO-8601 time with a zone, as msgspec writes
 * it ("2025-06-01T11:00:00.000001Z"). A time without a zone is refused: the phone's
 * local time would silently shift every limit.
 */
export function parseTime(text, path = "time") {
  const m = typeof text === "string" ? ISO.exec(text) : null;
  if (!m) fail(path, "an ISO-8601 time with a zone");
  const [, y, mo, d, h, mi, s, frac = "", zone] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== +y ||
    check.getUTCMonth() !== +mo - 1 ||
    check.getUTCDate() !== +d ||
    check.getUTCHours() !== +h ||
    check.getUTCMinutes() !== +mi
  ) {
    fail(path, "a real calendar time");
  }
  let offsetMinutes = 0;
  if (zone !== "Z" && zone !== "z") {
    const sign = zone[0] === "-" ? -1 : 1;
    offsetMinutes = sign * (+zone.slice(1, 3) * 60 + +zone.slice(4, 6));
  }
  return (ms - offsetMinutes * 60_000) * 1000 + +frac.padEnd(6, "0");
}

function optional(value) {
  return value === undefined ? null : value;
}

function readBool(obj, key, path, fallback) {
  const value = obj[key];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== "boolean") fail(`${path}.${key}`, "true or false");
  return value;
}

// A policy limit's bounds, as rules.Policy has them: a negative limit would switch a
// rule off, and a huge one (1e300 hours) would let a year-old inspection or snapshot
// pass. The server refuses such policies; the phone does not take its word for it.
const LIMITS = Object.freeze({
  inspection_max_age_hours: [0, 24 * 365],
  offline_snapshot_max_age_hours: [0, 24 * 7],
  verification_valid_minutes: [1, 24 * 60],
});

function readLimit(obj, key, path, fallback) {
  const value = obj[key] === undefined ? fallback : obj[key];
  const [low, high] = LIMITS[key];
  if (typeof value !== "number" || !Number.isFinite(value) || value < low || value > high) {
    fail(`${path}.${key}`, `a number from ${low} to ${high}`);
  }
  return value;
}

function readChoice(value, choices, path) {
  if (!choices.has(value)) fail(path, `one of ${[...choices].join(", ")}`);
  return value;
}

function readText(value, path) {
  value = optional(value);
  if (value !== null && typeof value !== "string") fail(path, "text or null");
  return value;
}

function readTime(value, path) {
  value = optional(value);
  return value === null ? null : parseTime(value, path);
}

function readObject(value, path) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "an object");
  return value;
}

function readPolicy(raw) {
  if (raw === undefined) raw = {};
  readObject(raw, "policy");
  for (const key of Object.keys(raw)) {
    // Like rules.Policy (forbid_unknown_fields): a misspelt safety setting is an error.
    if (!(key in DEFAULT_POLICY)) fail(`policy.${key}`, "a known policy setting");
  }
  const classes = raw.clearable_classes ?? DEFAULT_POLICY.clearable_classes;
  if (!Array.isArray(classes)) fail("policy.clearable_classes", "a list");
  const known = new Set(CLASSES);
  classes.forEach((c, i) => readChoice(c, known, `policy.clearable_classes[${i}]`));
  const d = DEFAULT_POLICY;
  return {
    clearable_classes: new Set(classes),
    inspection_max_age_hours: readLimit(raw, "inspection_max_age_hours", "policy", d.inspection_max_age_hours),
    require_inspection_since_incident: readBool(
      raw,
      "require_inspection_since_incident",
      "policy",
      d.require_inspection_since_incident,
    ),
    require_inspection_after_use: readBool(
      raw,
      "require_inspection_after_use",
      "policy",
      d.require_inspection_after_use,
    ),
    visual_confirmation_required: readBool(
      raw,
      "visual_confirmation_required",
      "policy",
      d.visual_confirmation_required,
    ),
    offline_snapshot_max_age_hours: readLimit(
      raw,
      "offline_snapshot_max_age_hours",
      "policy",
      d.offline_snapshot_max_age_hours,
    ),
    verification_valid_minutes: readLimit(raw, "verification_valid_minutes", "policy", d.verification_valid_minutes),
  };
}

function readTag(raw) {
  if (optional(raw) === null) return null;
  readObject(raw, "tag");
  return {
    status: readChoice(raw.status, TAG_STATUSES, "tag.status"),
    same_production: readBool(raw, "same_production", "tag"),
  };
}

function readItem(raw) {
  if (optional(raw) === null) return null;
  readObject(raw, "item");
  const incidents = raw.open_incidents ?? 0;
  if (!Number.isInteger(incidents) || incidents < 0) fail("item.open_incidents", "a whole number, 0 or more");
  return {
    status: readChoice(raw.status, ITEM_STATUSES, "item.status"),
    capability_class: readChoice(raw.capability_class, new Set(CLASSES), "item.capability_class"),
    has_evidence: readBool(raw, "has_evidence", "item", false),
    last_passed_inspection_at: readTime(raw.last_passed_inspection_at, "item.last_passed_inspection_at"),
    last_incident_at: readTime(raw.last_incident_at, "item.last_incident_at"),
    class_changed_at: readTime(raw.class_changed_at, "item.class_changed_at"),
    open_incidents: incidents,
    checked_out_to: readText(raw.checked_out_to, "item.checked_out_to"),
    last_returned_at: readTime(raw.last_returned_at, "item.last_returned_at"),
  };
}

function readHandoffs(raw) {
  raw = raw ?? [];
  if (!Array.isArray(raw)) fail("recent_handoffs", "a list");
  return raw.map((h, i) => {
    const path = `recent_handoffs[${i}]`;
    readObject(h, path);
    if (typeof h.device !== "string") fail(`${path}.device`, "text");
    if (typeof h.to !== "string") fail(`${path}.to`, "text");
    return { device: h.device, to: h.to, at: parseTime(h.at, `${path}.at`) };
  });
}

/** Check and normalise facts as msgspec encodes rules.Facts; throws TypeError. */
export function readFacts(raw) {
  readObject(raw, "facts");
  const scanProblem = optional(raw.scan_problem);
  const visual = optional(raw.visual_match);
  if (visual !== null && typeof visual !== "boolean") fail("visual_match", "true, false or null");
  return {
    now: parseTime(raw.now, "now"),
    policy: readPolicy(raw.policy),
    scan_problem: scanProblem === null ? null : readChoice(scanProblem, SCAN_PROBLEMS, "scan_problem"),
    tag: readTag(raw.tag),
    item: readItem(raw.item),
    production_archived: readBool(raw, "production_archived", "facts", false),
    snapshot_at: readTime(raw.snapshot_at, "snapshot_at"),
    offline: readBool(raw, "offline", "facts", false),
    device: readText(raw.device, "device"),
    handoff_to: readText(raw.handoff_to, "handoff_to"),
    recent_handoffs: readHandoffs(raw.recent_handoffs),
    visual_match: visual,
  };
}

// ------------------------------------------------------------------------ the rules
function reason(code) {
  return { code, message: MESSAGES[code] };
}

/** A STOP verdict for failures outside the facts (errors, outages, bad photos). */
export function stop(...codes) {
  const list = codes.length ? codes : ["internal_error"];
  return { verdict: "STOP", reasons: list.map(reason), needs_confirmation: false };
}

function custodyConflict(facts, item, to) {
  // Custody says the item is with one performer; a hand-off to someone else would
  // need it checked in first. Or another device is handing the same tag to someone
  // else within the validity window: one of the two tags must be a copy.
  if (item.checked_out_to !== null && item.checked_out_to !== to) return true;
  const window = facts.policy.verification_valid_minutes * US_PER_MINUTE;
  return facts.recent_handoffs.some(
    (h) => h.device !== facts.device && h.to !== to && facts.now - h.at <= window,
  );
}

function itemReasons(facts, item) {
  const policy = facts.policy;
  const found = [];
  const cls = item.capability_class;
  if (!CLEARABLE_CLASSES.has(cls) || !policy.clearable_classes.has(cls)) found.push("restricted_class");
  if (cls === "deactivated" && !item.has_evidence) found.push("missing_evidence");
  if (item.status !== "active") found.push(item.status);
  if (item.open_incidents > 0) found.push("open_incident");

  const passed = item.last_passed_inspection_at;
  if (passed === null) {
    found.push("never_inspected");
  } else {
    const maxAge = policy.inspection_max_age_hours;
    if (maxAge > 0 && (facts.now - passed > maxAge * US_PER_HOUR || passed > facts.now)) {
      found.push("inspection_stale");
    }
    if (
      policy.require_inspection_since_incident &&
      item.last_incident_at !== null &&
      passed <= item.last_incident_at
    ) {
      found.push("not_inspected_since_incident");
    }
    // Not a policy setting: an edit is not a look at the item (verifier/rules.py).
    if (item.class_changed_at !== null && passed <= item.class_changed_at) {
      found.push("not_inspected_since_class_change");
    }
    // Strictly before: the check-in's own after-use inspection is written after it.
    if (
      policy.require_inspection_after_use &&
      item.last_returned_at !== null &&
      passed < item.last_returned_at
    ) {
      found.push("not_inspected_since_use");
    }
  }

  if (facts.handoff_to !== null && custodyConflict(facts, item, facts.handoff_to)) {
    found.push("possible_duplicate_tag");
  }
  return found;
}

/**
 * Return CLEARED or STOP with every applicable reason, in display order:
 * { verdict: "CLEARED"|"STOP", reasons: [{code, message}], needs_confirmation }.
 * Throws TypeError for malformed facts; see decideOrStop.
 */
export function decide(rawFacts) {
  const facts = readFacts(rawFacts);
  const codes = [];
  if (facts.offline) {
    if (facts.snapshot_at === null) {
      codes.push("offline_no_snapshot");
    } else {
      const age = facts.now - facts.snapshot_at;
      const limit = facts.policy.offline_snapshot_max_age_hours * US_PER_HOUR;
      if (age > limit || age < -SNAPSHOT_CLOCK_SKEW_US) codes.push("offline_snapshot_stale");
    }
  }

  if (facts.scan_problem !== null) {
    codes.push(facts.scan_problem);
  } else if (facts.tag === null) {
    codes.push("unknown_code");
  } else {
    if (facts.tag.status !== "active") {
      codes.push(facts.tag.status === "revoked" ? "revoked_tag" : "superseded_tag");
    }
    if (!facts.tag.same_production) codes.push("other_production");
    if (facts.item === null) {
      codes.push("unknown_code");
    } else if (facts.tag.same_production) {
      // Details of another production's item are not ours to reason about.
      codes.push(...itemReasons(facts, facts.item));
    }
  }

  if (facts.production_archived) codes.push("production_archived");
  if (facts.visual_match === false) codes.push("visual_mismatch");

  if (codes.length) {
    const unique = [...new Set(codes)].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
    return { verdict: "STOP", reasons: unique.map(reason), needs_confirmation: false };
  }
  const needs = facts.policy.visual_confirmation_required && facts.visual_match !== true;
  return { verdict: "CLEARED", reasons: [], needs_confirmation: needs };
}

/** decide(), but any error in the facts or the code is STOP internal_error: fail closed. */
export function decideOrStop(rawFacts) {
  try {
    return decide(rawFacts);
  } catch (error) {
    console.error("verdict failed, showing STOP", error);
    return stop("internal_error");
  }
}
