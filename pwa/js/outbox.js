// The offline outbox: requests made while the server could not be reached, replayed in
// order when it can. Shaped after Workbox's background-sync queue:
//  - FIFO in IndexedDB; each entry carries a client-made id (crypto.randomUUID) and the
//    time it was made, and the server stores each client id once, so replaying twice
//    stores once;
//  - replayed on the `online` event, at app start and on the service worker's `sync`;
//  - an entry leaves the queue only when the server has answered it; when replay fails
//    (no network, server error) the entry stays at the front and replay stops.
// A later entry may name an earlier one's server id before it exists ("ref:<client id>"
// in its path or body): the verification id of an offline scan, say. Replay fills it in
// from the ids the server gave back.
// A request the server refuses outright (4xx other than 401/408/429) would block the
// queue for ever; it moves to a "refused" list that the screen shows, never silently lost.
// Each entry names who made it (Session.owner) and is only sent with that owner's
// token: after a sign-out, the next person's token must not put their name on the
// last person's scans (or have their hand-offs refused). Another owner's entries wait,
// in their order, until that owner signs in again.

import { kv, withStore, idbRequest } from "./db.js";
import { Api, ApiError, NetworkError } from "./api.js";

const IDS = "outbox-ids";
const REFUSED = "outbox-refused";
const CHANNEL = "propcheck-outbox";
const RETRYABLE = new Set([401, 408, 425, 429]);

function channel() {
  return typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null;
}

/** Replace "ref:<uuid>" strings (whole values) with the server ids known so far. */
function resolveRefs(value, ids) {
  if (typeof value === "string") {
    return value.replace(/ref:([0-9a-f-]{36})/g, (whole, id) => ids[id] ?? id);
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, ids));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, ids)]));
  }
  return value;
}

export class Outbox {
  /** @param {() => Promise<Session>} session  who is signed in now (token, owner) */
  constructor(session) {
    this.session = session;
    this.listeners = new Set();
    this.replaying = null;
    this.bc = channel();
    if (this.bc) this.bc.onmessage = () => this.notify(false);
  }

  /**
   * Queue a request. `entry`: { method, path, json, label, ref?, jsonField?, files? };
   * `ref` is this entry's client id when later entries may name it as "ref:<id>".
   * With `files` ([{ field, blob, name }], e.g. an incident's photo, kept as Blobs in
   * IndexedDB) it is replayed as multipart: the JSON in `jsonField`, then the files, so
   * the record and its photo are stored together or not at all, as online.
   * Returns the stored entry.
   */
  async add(entry) {
    const session = await this.session();
    const stored = {
      owner: session?.owner ?? null,
      owner_label: session?.displayName ?? null,
      id: entry.id ?? crypto.randomUUID(),
      created_at: new Date().toISOString(),
      method: entry.method ?? "POST",
      path: entry.path,
      json: entry.json,
      label: entry.label ?? entry.path,
      ref: entry.ref ?? null,
      jsonField: entry.jsonField ?? null,
      files: entry.files ?? [],
    };
    await withStore("outbox", "readwrite", (s) => idbRequest(s.add(stored)));
    this.notify(true);
    // Ask the browser to wake the service worker when the network is back.
    try {
      const reg = await navigator.serviceWorker?.ready;
      await reg?.sync?.register("outbox");
    } catch {
      // No Background Sync (or no permission): `online` and app start still replay.
    }
    return stored;
  }

  /** Every waiting entry, oldest first. */
  entries() {
    return withStore("outbox", "readonly", (s) => idbRequest(s.getAll()));
  }

  async count() {
    return withStore("outbox", "readonly", (s) => idbRequest(s.count()));
  }

  /** Waiting entries ``owner`` may send (see firstFor). */
  async countFor(owner) {
    const all = await this.entries();
    return all.filter((e) => e.owner == null || e.owner === owner).length;
  }

  async refused() {
    return (await kv.get(REFUSED)) ?? [];
  }

  async clearRefused() {
    await kv.delete(REFUSED);
    this.notify(true);
  }

  /** Server id for a client id once its entry has been replayed (else null). */
  async serverId(clientId) {
    const ids = (await kv.get(IDS)) ?? {};
    return ids[clientId] ?? null;
  }

  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  notify(broadcast) {
    for (const fn of this.listeners) fn();
    if (broadcast && this.bc) this.bc.postMessage("changed");
  }

  /**
   * Send waiting entries in order until the queue is empty or one fails.
   * Resolves to { sent, left, error }. Only one replay runs at a time across the page
   * and the service worker (Web Locks), so an entry is never sent twice at once.
   */
  replay() {
    if (!this.replaying) {
      const run = () => this.replayLocked();
      const locked = navigator.locks
        ? navigator.locks.request("propcheck-outbox", run)
        : run();
      this.replaying = locked.finally(() => {
        this.replaying = null;
      });
    }
    return this.replaying;
  }

  /** The oldest entry ``owner`` may send (entries from before owners were kept: any). */
  firstFor(owner) {
    return withStore("outbox", "readonly", (s) =>
      new Promise((resolve, reject) => {
        const cursor = s.openCursor();
        cursor.onerror = () => reject(cursor.error);
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (!c) return resolve(null);
          const e = c.value;
          if (e.owner == null || e.owner === owner) return resolve(e);
          c.continue();
        };
      }),
    );
  }

  async replayLocked() {
    const api = new Api(() => this.currentToken);
    const session = await this.session();
    this.currentToken = session?.token ?? null;
    const owner = session?.owner ?? null;
    let sent = 0;
    let error = null;
    if (!this.currentToken) return { sent, left: await this.count(), error: "signed out" };
    for (;;) {
      const first = await this.firstFor(owner);
      if (!first) break;
      const ids = (await kv.get(IDS)) ?? {};
      const path = resolveRefs(first.path, ids);
      const json = resolveRefs(first.json, ids);
      let answer;
      try {
        if (first.files?.length) {
          const form = new FormData();
          form.append(first.jsonField, JSON.stringify(json));
          for (const f of first.files) form.append(f.field, f.blob, f.name);
          answer = await api.request(first.method, path, { form, timeout: 60000 });
        } else {
          answer = await api.request(first.method, path, { json, timeout: 15000 });
        }
      } catch (e) {
        if (e instanceof ApiError && !RETRYABLE.has(e.status) && e.status < 500) {
          const refused = (await kv.get(REFUSED)) ?? [];
          refused.push({ ...first, status: e.status, detail: e.body?.detail ?? e.message });
          await kv.set(REFUSED, refused);
          await withStore("outbox", "readwrite", (s) => idbRequest(s.delete(first.seq)));
          this.notify(true);
          continue;
        }
        // Stays at the front; the next `online`, start or sync tries again.
        error = e instanceof NetworkError ? "offline" : e.message;
        break;
      }
      if (first.ref) {
        const serverId = answer?.verification_id ?? answer?.id ?? null;
        if (serverId) {
          ids[first.ref] = serverId;
          await kv.set(IDS, ids);
        }
      }
      await withStore("outbox", "readwrite", (s) => idbRequest(s.delete(first.seq)));
      sent += 1;
      this.notify(true);
    }
    return { sent, left: await this.count(), error };
  }
}
