// Production status for auditors and prop masters: firearm-free or not, with every
// reason, and two small charts (verifications per day by verdict, items by status).

import { h, notice, errorText, dateTime, STATUS_LABELS } from "./dom.js";
import { ApiError, query } from "../api.js";
import { bars, stackedColumns } from "./charts.js";

const DAYS = 7;

export class AuditView {
  constructor(app) {
    this.app = app;
  }

  get base() {
    return `/api/v1/productions/${this.app.productionId}`;
  }

  async render(root) {
    this.root = root;
    const statusBox = h("div", { "aria-live": "polite" }, notice("Checking…"));
    const charts = h("div", {});
    root.replaceChildren(h("div", {}, h("h1", {}, "Production status"), statusBox, charts));
    let items = [];
    try {
      items = await this.allItems();
    } catch (error) {
      statusBox.replaceChildren(notice(errorText(error), "error"));
      return;
    }
    statusBox.replaceChildren(await this.status(items));
    const verifications = await this.verificationsPerDay();
    const byStatus = Object.keys(STATUS_LABELS).map((k) => ({ label: STATUS_LABELS[k], key: k, value: items.filter((i) => i.status === k).length }));
    charts.replaceChildren(
      verifications ? stackedColumns(verifications, ["CLEARED", "STOP"], `Verifications per day (last ${DAYS} days)`) : notice("Verification counts are not available from this server yet."),
      bars(byStatus, "Items by status"),
    );
  }

  async allItems() {
    const out = [];
    let cursor = null;
    for (let i = 0; i < 20; i += 1) {
      const page = await this.app.call((api) => api.get(`${this.base}/items${query({ limit: 200, cursor })}`));
      out.push(...page.items);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return out;
  }

  /** The server's firearm-free status with reasons (GET .../status). */
  async status(items) {
    let s;
    try {
      s = await this.app.call((api) => api.get(`${this.base}/status`));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) return notice(errorText(error), "error");
      s = this.localStatus(items);
    }
    const free = s.status === "FIREARM-FREE";
    return h(
      "section",
      { "aria-labelledby": "status-word" },
      h("p", { class: `status-big ${free ? "status-free" : "status-not"}`, id: "status-word" }, free ? "✓ " : "✕ ", s.status),
      s.checked_at ? h("p", { class: "muted" }, `As of ${dateTime(s.checked_at)}.`) : null,
      s.reasons.length
        ? h("ul", { class: "reason-list" }, s.reasons.map((r) => h("li", { "data-code": r.code }, r.message, r.count ? ` (${r.count})` : "")))
        : h("p", {}, "No restricted item, no unresolved incident, every item inspected and back."),
    );
  }

  /** Fallback when the server has no status endpoint: what the item list shows. */
  localStatus(items) {
    const restricted = items.filter((i) => ["airsoft_projectile", "blank_firing", "functional_firearm"].includes(i.capability_class) && i.status !== "retired");
    const reasons = [];
    if (restricted.length) reasons.push({ code: "restricted_items", message: "Items of a restricted class are registered and not retired.", count: restricted.length });
    const missing = items.filter((i) => i.status === "missing").length;
    if (missing) reasons.push({ code: "missing_items", message: "Items are reported missing.", count: missing });
    const status = restricted.length ? "NOT FIREARM-FREE" : reasons.length ? "AT RISK" : "FIREARM-FREE";
    return { status, reasons, checked_at: new Date().toISOString() };
  }

  /** Verifications per day by verdict, from the audit report when the server has it. */
  async verificationsPerDay() {
    const to = new Date();
    const from = new Date(to.getTime() - DAYS * 86_400_000);
    let rows;
    try {
      // The JSON audit report (GET .../reports?format=json) lists every verification.
      const url = `${this.base}/reports${query({ format: "json", from: from.toISOString(), to: to.toISOString() })}`;
      const answer = await this.app.call((api) => api.get(url, { timeout: 30000 }));
      rows = answer?.verifications ?? null;
    } catch {
      return null;
    }
    if (!Array.isArray(rows)) return null;
    const days = [];
    for (let i = DAYS - 1; i >= 0; i -= 1) {
      const d = new Date(to.getTime() - i * 86_400_000);
      days.push({ key: d.toDateString(), label: d.toLocaleDateString([], { weekday: "short" }), values: { CLEARED: 0, STOP: 0 } });
    }
    for (const r of rows) {
      const day = days.find((d) => d.key === new Date(r.created_at).toDateString());
      if (day && (r.verdict === "CLEARED" || r.verdict === "STOP")) day.values[r.verdict] += 1;
    }
    return days;
  }
}
