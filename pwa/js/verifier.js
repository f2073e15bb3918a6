// One scan, one verdict: the server's when it can be reached, else the phone's own from
// the snapshot (rules.js), queued for the record. Every failure is STOP.

import { ApiError, NetworkError } from "./api.js";
import { formatCode, parse } from "./codes.js";
import { decideOrStop, stop } from "./rules.js";
import { itemView, offlineFacts, trustedNow } from "./snapshot.js";

/**
 * A verification as the screens use it:
 * { verdict, reasons:[{code,message}], item, verification_id, needs_confirmation, code,
 *   verified_at, offline, snapshot_at, client_id, purpose, handoff_to, confirmed }
 */
function fromServer(body, extra) {
  return {
    verdict: body?.verdict === "CLEARED" ? "CLEARED" : "STOP",
    reasons: Array.isArray(body?.reasons) && body.reasons.length ? body.reasons : body?.verdict === "CLEARED" ? [] : stop().reasons,
    item: body?.item ?? null,
    verification_id: body?.verification_id ?? null,
    needs_confirmation: Boolean(body?.needs_confirmation),
    code: body?.code ?? extra.code ?? null,
    verified_at: body?.verified_at ?? new Date().toISOString(),
    offline: false,
    snapshot_at: null,
    confirmed: null,
    ...extra,
  };
}

function refusal(error) {
  // A request the server refused (e.g. a role that may not verify): STOP, in its words.
  const message = error.body?.detail || error.message || "The check failed.";
  return { verdict: "STOP", reasons: [{ code: "internal_error", message }], needs_confirmation: false };
}

export class Verifier {
  constructor({ api, snapshots, outbox, productionId, onOffline, canVerify }) {
    this.api = api;
    this.snapshots = snapshots;
    this.outbox = outbox;
    this.productionId = productionId;
    this.onOffline = onOffline ?? (() => {});
    // Whether the person signed in may verify in this production: offline, the phone
    // is the only one who can refuse (online the server does).
    this.canVerify = canVerify ?? (() => false);
  }

  /**
   * The phone's own verdict from its snapshot: { verdict, item, snapshot }. Any error
   * on the way (a damaged snapshot, storage failing) is STOP, never a screen left at
   * "Checking…".
   */
  async decideOffline(text, { handoffTo = null, visualMatch = null } = {}) {
    let snapshot = null;
    try {
      if (!this.canVerify()) return { verdict: refusal({ message: "This account may not verify in this production." }), item: null, snapshot: null };
      snapshot = await this.snapshots.get(this.productionId);
      const now = await trustedNow(snapshot);
      const { facts, item, outdated, stale } = offlineFacts(snapshot, text, { handoffTo, visualMatch, now: now ?? undefined });
      let verdict;
      if (outdated) verdict = stop("offline_app_outdated");
      else if (stale) verdict = stop("offline_snapshot_stale");
      // A clock set back since the sync: nobody can say how old the snapshot is.
      else if (!now) verdict = stop("offline_snapshot_stale");
      else verdict = decideOrStop(facts);
      return { verdict, item: itemView(item), snapshot };
    } catch (error) {
      console.error("offline verdict failed", error);
      return { verdict: stop("internal_error"), item: null, snapshot };
    }
  }

  /** Verify a typed or scanned code. */
  async verifyCode(text, { purpose = "check", handoffTo = null } = {}) {
    const clientId = crypto.randomUUID();
    const clientTime = new Date().toISOString();
    let shown = null;
    try {
      shown = formatCode(parse(text));
    } catch {
      shown = null;
    }
    // scanned_at: the phone's own clock at the scan, for the phone's own measure of the
    // scan's age (custody-view.js): the server's verified_at is another clock.
    const extra = { client_id: clientId, purpose, handoff_to: handoffTo, code: shown, scanned_at: clientTime };
    const body = {
      code: String(text).slice(0, 64),
      production_id: this.productionId,
      purpose,
      handoff_to: handoffTo,
      client_id: clientId,
      client_time: clientTime,
    };
    if (navigator.onLine) {
      try {
        const answer = await this.api.post("/api/v1/verify", body, { timeout: 8000 });
        return fromServer(answer, extra);
      } catch (error) {
        if (error instanceof ApiError) {
          // 503/500 carry a STOP body; other refusals are STOP with the server's words.
          if (error.body?.verdict) return fromServer(error.body, extra);
          return fromServer(refusal(error), extra);
        }
        if (!(error instanceof NetworkError)) return fromServer(stop("internal_error"), extra);
      }
      // The request may have reached the server, and been recorded with the server's
      // verdict, before its answer was lost. The verdict shown now is a decision of its
      // own: it is queued under an id of its own, or its replay would find the server's
      // row and what the person was told would never be recorded (nor disputed).
      const retryId = crypto.randomUUID();
      return this.verifyOffline(text, { ...body, client_id: retryId }, { ...extra, client_id: retryId });
    }
    return this.verifyOffline(text, body, extra);
  }

  async verifyOffline(text, body, extra) {
    this.onOffline();
    const { verdict, item, snapshot } = await this.decideOffline(text, { handoffTo: extra.handoff_to });
    const result = {
      ...fromServer({ ...verdict, item }, extra),
      offline: true,
      snapshot_at: snapshot?.taken_at ?? null,
      verification_id: `ref:${extra.client_id}`,
    };
    if (!snapshot) return result;
    try {
      await this.outbox.add({
        path: "/api/v1/verify",
        json: {
          ...body,
          offline: {
            verdict: verdict.verdict,
            reasons: verdict.reasons.map((r) => r.code),
            needs_confirmation: verdict.needs_confirmation,
            snapshot_at: snapshot.taken_at,
          },
        },
        ref: extra.client_id,
        label: `Scan of ${extra.code ?? "a code"} (${verdict.verdict})`,
      });
    } catch (error) {
      // Every verification is recorded: one that cannot be queued is not CLEARED.
      console.error("offline scan not queued", error);
      return { ...result, ...stop("internal_error"), verification_id: null };
    }
    return result;
  }

  /** Verify by photo: the server decodes it. Needs the network. */
  async verifyPhoto(blob, { purpose = "check", handoffTo = null } = {}) {
    const clientId = crypto.randomUUID();
    const scannedAt = new Date().toISOString();
    const form = new FormData();
    form.append("photo", blob, "scan.jpg");
    if (this.productionId) form.append("production_id", this.productionId);
    form.append("purpose", purpose);
    if (handoffTo) form.append("handoff_to", handoffTo);
    form.append("client_id", clientId);
    const extra = { client_id: clientId, purpose, handoff_to: handoffTo, scanned_at: scannedAt };
    try {
      return fromServer(await this.api.postForm("/api/v1/verify", form, { timeout: 30000 }), extra);
    } catch (error) {
      if (error instanceof ApiError) {
        if (error.body?.verdict) return fromServer(error.body, extra);
        return fromServer(refusal(error), extra);
      }
      if (error instanceof NetworkError) {
        return fromServer(
          { verdict: "STOP", reasons: [{ code: "service_unavailable", message: "A photo can only be checked with a network. Scan the tag or type its code instead." }] },
          extra,
        );
      }
      return fromServer(stop("internal_error"), extra);
    }
  }

  /**
   * The person's visual check: "matches" or "does not match". Returns the new result.
   * Offline (or when the server cannot be reached) the phone decides again with the
   * answer and queues the confirmation.
   */
  async confirm(result, match) {
    const clientId = crypto.randomUUID();
    const body = { match, client_id: clientId };
    const id = result.verification_id;
    if (!id) {
      return { ...result, ...stop("internal_error"), confirmed: match };
    }
    if (!result.offline && navigator.onLine) {
      // The scan's own facts stay with it (its time measures its age for a hand-off).
      const same = { client_id: result.client_id, purpose: result.purpose, handoff_to: result.handoff_to, scanned_at: result.scanned_at };
      try {
        const answer = await this.api.post(`/api/v1/verifications/${id}/confirm`, body);
        return { ...fromServer(answer, same), confirmed: match };
      } catch (error) {
        if (error instanceof ApiError) {
          if (error.body?.verdict) return { ...fromServer(error.body, { scanned_at: result.scanned_at }), confirmed: match };
          return { ...result, ...refusal(error), confirmed: match };
        }
      }
    }
    // Offline: decide again from the snapshot with the person's answer.
    this.onOffline();
    let { verdict } = await this.decideOffline(result.code ?? "", { handoffTo: result.handoff_to, visualMatch: match });
    if (result.verdict === "STOP" && verdict.verdict === "CLEARED") verdict = { ...result }; // a STOP stays STOP
    try {
      await this.outbox.add({
        path: `/api/v1/verifications/${id}/confirm`,
        json: body,
        label: match ? "Confirmation: matches" : "Report: does not match",
      });
    } catch (error) {
      // The confirmation is part of the record: unrecorded, it clears nothing.
      console.error("confirmation not queued", error);
      verdict = stop("internal_error");
    }
    return {
      ...result,
      verdict: verdict.verdict,
      reasons: verdict.reasons,
      needs_confirmation: verdict.needs_confirmation,
      offline: true,
      confirmed: match,
    };
  }
}
