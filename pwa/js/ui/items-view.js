// Items of the production: search by text, filter by class and status, page on.

import { h, field, notice, errorText, CLASS_LABELS, STATUS_LABELS } from "./dom.js";
import { query } from "../api.js";
import { CLASSES, CLEARABLE_CLASSES } from "../rules.js";
import { openPdf } from "./labels.js";

export class ItemsView {
  constructor(app) {
    this.app = app;
    this.timer = null;
  }

  render(root) {
    this.root = root;
    this.q = h("input", { type: "search", autocomplete: "off", oninput: () => this.debounce(), enterkeyhint: "search" });
    const select = (labels, all) =>
      h("select", { onchange: () => this.load() }, h("option", { value: "" }, all), Object.entries(labels).map(([v, t]) => h("option", { value: v }, t)));
    this.cls = select(Object.fromEntries(CLASSES.map((c) => [c, CLASS_LABELS[c]])), "All classes");
    this.status = select(STATUS_LABELS, "All statuses");
    this.list = h("ul", { class: "list", "aria-live": "polite", id: "item-list" });
    this.more = h("button", { class: "btn", type: "button", hidden: true, onclick: () => this.load(this.cursor) }, "Show more");
    this.msg = h("div", { "aria-live": "polite" });
    const act = this.app.session.can("act");
    root.replaceChildren(
      h(
        "div",
        {},
        h("h1", {}, "Items"),
        act ? h("div", { class: "row" }, h("a", { class: "btn btn-primary", href: "#/register" }, "Register an item"), h("button", { class: "btn", type: "button", onclick: () => this.printUnprinted() }, "Print new labels")) : null,
        field("Search", this.q, "Name, make, model, serial or marks."),
        h("div", { class: "filters" }, field("Class", this.cls), field("Status", this.status)),
        this.msg,
        this.list,
        this.more,
      ),
    );
    this.load();
  }

  debounce() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 250);
  }

  async load(cursor = null) {
    const params = { q: this.q.value.trim(), class: this.cls.value, status: this.status.value, cursor, limit: 30 };
    let page;
    try {
      page = await this.app.call((api) => api.get(`/api/v1/productions/${this.app.productionId}/items${query(params)}`));
    } catch (error) {
      this.msg.replaceChildren(notice(errorText(error), "error"));
      return;
    }
    this.msg.replaceChildren();
    if (!cursor) this.list.replaceChildren();
    for (const item of page.items) this.list.append(h("li", {}, ItemsView.row(item)));
    if (!cursor && !page.items.length) this.list.append(h("li", {}, "No items match."));
    this.cursor = page.next_cursor;
    this.more.hidden = !page.next_cursor;
  }

  static row(item) {
    const thumb = item.photos?.[0]?.thumb_url;
    const restricted = !CLEARABLE_CLASSES.has(item.capability_class);
    return h(
      "a",
      { class: "item-row", href: `#/item/${item.id}` },
      thumb ? h("img", { src: thumb, alt: "", loading: "lazy" }) : h("span", { class: "noimg", "aria-hidden": "true" }),
      h(
        "span",
        {},
        h("strong", {}, item.name),
        h("span", { class: restricted ? "badge badge-restricted" : "badge badge-ok" }, restricted ? `Restricted: ${CLASS_LABELS[item.capability_class]}` : CLASS_LABELS[item.capability_class]),
        item.status !== "active" ? h("span", { class: `badge badge-${item.status}` }, ` ${STATUS_LABELS[item.status]}`) : null,
      ),
    );
  }

  async printUnprinted() {
    this.msg.replaceChildren(notice("Preparing labels…"));
    try {
      await openPdf(this.app, { only_unprinted: true, layout: "letter-30" });
      this.msg.replaceChildren(notice("Labels opened. Print at 100 % scale.", "ok"));
    } catch (error) {
      this.msg.replaceChildren(notice(error.status === 400 ? "No new labels to print." : errorText(error), "error"));
    }
  }
}
