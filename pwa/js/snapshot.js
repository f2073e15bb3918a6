// The production snapshot kept on the phone for offline verdicts (GET .../snapshot),
// and the rules.js Facts built from it for one scanned code.

import { kv, withStore, idbRequest } from "./db.js";
import { parse } from "./codes.js";
import { parseTime } from "./rules.js";

const PREFIX = "snapshot:";
const key = (productionId) => `${PREFIX}${productionId}`;

// The item facts the verdict reads. The server always sends each (null when none); one
// missing means a snapshot from an older server, stored before the fact existed: it
// cannot say the item is clear of it (a return from use, say), so it is too old to use.
const ITEM_FACTS = Object.freeze([
  "status",
  "capability_class",
  "has_evidence",
  "last_passed_inspection_at",
  "last_incident_at",
  "class_changed_at",
  "open_incidents",
  "checked_out_to",
  "last_returned_at",
]);

/**
 * Every field of a snapshot (api/snapshot.py) that this app knows, each either used or
 * known not to bear on the verdict. A field it does not know may be a fact a newer
 * server weighs (the return from use was one): the app would read the item as clear
 * of it. So a snapshot, item or tag with an unknown field decides nothing offline:
 * STOP offline_app_outdated until the app is updated (tests/pwa hold these lists to
 * the server's).
 */
export const SNAPSHOT_FIELDS = Object.freeze({
  snapshot: Object.freeze([
    "production_id",
    "production_name",
    "production_status",
    "policy",
    "taken_at",
    "items",
    "tags",
    "received_at", // set by this app when it stores the snapshot
  ]),
  item: Object.freeze(["id", "name", "make", "model", "distinctive_marks", "thumb_url", "display_url", ...ITEM_FACTS]),
  tag: Object.freeze(["code", "display", "item_id", "status"]),
});

function unknownField(object, kind) {
  const known = SNAPSHOT_FIELDS[kind];
  return object !== null && Object.keys(object).some((k) => !known.includes(k));
}


// The latest time (ms) this phone's clock has shown since its last sync, and how far
// behind that the clock may go (a small correction by the network's time) before its
// offline verdicts stop trusting it.
const LATEST = "clock:latest";
const CLOCK_BACK_TOLERANCE_MS = 5 * 60 * 1000;

/**
 * The time to decide an offline verdict at, or null when the phone's clock cannot be
 * trusted. Offline the clock is all there is, and two things would make stale facts
 * look fresh (an old snapshot, an inspection past its limit): a clock that runs or was
 * set slow, and a clock set back after the sync. The first is corrected by how far
 * behind the server's clock it was at the sync (never forward: a fast clock only makes
 * a verdict stricter). The second is caught by the latest time the phone has shown
 * since that sync: a clock earlier than that cannot tell how long ago the sync was.
 */
/**
 * Note the phone's clock as seen now (the status bar calls this every minute): a clock
 * set back later is then caught even when no scan was made in between.
 */
export async function noteClock(local = Date.now()) {
  const latest = (await kv.get(LATEST)) ?? 0;
  if (local > latest) await kv.set(LATEST, local);
}

export async function trustedNow(snapshot, local = Date.now()) {
  const latest = (await kv.get(LATEST)) ?? 0;
  if (local + CLOCK_BACK_TOLERANCE_MS < latest) return null;
  if (local > latest) await kv.set(LATEST, local);
  let behind = 0;
  if (snapshot?.received_at && snapshot?.taken_at) {
    behind = Math.max(0, parseTime(snapshot.taken_at) / 1000 - Date.parse(snapshot.received_at));
  }
  return new Date(local + behind);
}

export class SnapshotStore {
  constructor(api) {
    this.api = api;
    // Bumped by forgetAll: a sync that was in flight then does not store what it got.
    this.generation = 0;
  }

  /** The stored snapshot of a production, or null. */
  get(productionId) {
    return kv.get(key(productionId)).then((s) => s ?? null);
  }

  /**
   * Fetch and store the production's snapshot; then warm the photo cache (the
   * service worker keeps /media/ responses) so the verdict screen shows photos offline.
   */
  async sync(productionId) {
    const generation = this.generation;
    const snapshot = await this.api.get(`/api/v1/productions/${productionId}/snapshot`, {
      timeout: 20000,
    });
    if (generation !== this.generation) throw new Error("signed out during the sync");
    const received = Date.now();
    snapshot.received_at = new Date(received).toISOString();
    await kv.set(key(productionId), snapshot);
    await kv.set(LATEST, received); // the clock is measured against the server's again
    this.warmPhotos(snapshot);
    return snapshot;
  }

  warmPhotos(snapshot) {
    const urls = snapshot.items.flatMap((i) => [i.thumb_url, i.display_url]).filter(Boolean);
    // One at a time, in the background: a set's phone has better things to do.
    (async () => {
      for (const url of urls) {
        try {
          await fetch(url, { credentials: "omit" });
        } catch {
          return;
        }
      }
    })();
  }

  /**
   * Forget every production's snapshot (sign-out, or a token the server no longer
   * takes): the next person on this phone must not verify from the last one's data.
   */
  async forgetAll() {
    this.generation += 1;
    const keys = await withStore("kv", "readonly", (s) => idbRequest(s.getAllKeys()));
    for (const k of keys) {
      if (typeof k === "string" && k.startsWith(PREFIX)) await kv.delete(k);
    }
  }

  /** Forget one production's snapshot (this person may no longer read it). */
  forget(productionId) {
    return kv.delete(key(productionId));
  }

  /** Snapshot age in hours at `now` (ms since epoch), from the server's taken_at. */
  static ageHours(snapshot, now = Date.now()) {
    return (now - parseTime(snapshot.taken_at) / 1000) / 3_600_000;
  }
}

/**
 * Facts for rules.decide() from a snapshot: exactly what the server would gather,
 * limited to what the phone knows. An unknown code (or another production's) has no
 * tag here and is STOP unknown_code; a missing snapshot is STOP offline_no_snapshot.
 * `outdated` is true when the snapshot, the tag or the item has a field this app does
 * not know (see SNAPSHOT_FIELDS): the caller answers STOP offline_app_outdated. An item
 * without one of the facts the verdict reads comes from a snapshot older than the app:
 * STOP offline_snapshot_stale until the next sync.
 */
export function offlineFacts(snapshot, text, { handoffTo = null, visualMatch = null, now = new Date() } = {}) {
  const facts = {
    now: now.toISOString(),
    offline: true,
    handoff_to: handoffTo,
    visual_match: visualMatch,
  };
  let code = null;
  try {
    code = parse(text);
  } catch (error) {
    facts.scan_problem = error.problem ?? "bad_format";
  }
  if (!snapshot) return { facts, tag: null, item: null, outdated: false };
  facts.snapshot_at = snapshot.taken_at;
  facts.policy = snapshot.policy;
  facts.production_archived = snapshot.production_status === "archived";
  if (code === null) return { facts, tag: null, item: null, outdated: unknownField(snapshot, "snapshot") };
  const tag = snapshot.tags.find((t) => t.code === code) ?? null;
  const item = tag ? snapshot.items.find((i) => i.id === tag.item_id) ?? null : null;
  if (tag) facts.tag = { status: tag.status, same_production: true };
  const outdated = unknownField(snapshot, "snapshot") || unknownField(tag, "tag") || unknownField(item, "item");
  if (item && ITEM_FACTS.some((k) => !(k in item))) return { facts, tag, item, outdated, stale: true };
  if (item) facts.item = Object.fromEntries(ITEM_FACTS.map((k) => [k, item[k]]));
  return { facts, tag, item, outdated, stale: false };
}

/** The verification's item view (as the server sends it) from a snapshot item. */
export function itemView(item) {
  if (!item) return null;
  return {
    id: item.id,
    name: item.name,
    capability_class: item.capability_class,
    status: item.status,
    distinctive_marks: item.distinctive_marks,
    make: item.make,
    model: item.model,
    photos: item.display_url ? [{ thumb_url: item.thumb_url, display_url: item.display_url }] : [],
  };
}
