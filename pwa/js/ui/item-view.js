// One item: photos, marks, class and status, its tag (reissue, revoke, print), its
// inspections (record one), and reporting an incident about it.

import { h, field, notice, errorText, dateTime, CLASS_LABELS, STATUS_LABELS } from "./dom.js";
import { labelPreview, openPdf } from "./labels.js";

export class ItemView {
  constructor(app, itemId) {
    this.app = app;
    this.itemId = itemId;
  }

  async render(root) {
    this.root = root;
    root.replaceChildren(notice("Loading…"));
    let item;
    let inspections = [];
    try {
      item = await this.app.call((api) => api.get(`/api/v1/items/${this.itemId}`));
      inspections = await this.app.call((api) => api.get(`/api/v1/items/${this.itemId}/inspections`));
    } catch (error) {
      root.replaceChildren(notice(errorText(error), "error"));
      return;
    }
    this.item = item;
    const act = this.app.session.can("act");
    this.msg = h("div", { "aria-live": "polite" });
    const tag = item.tag;
    root.replaceChildren(
      h(
        "div",
        { class: "narrow" },
        h("h1", {}, item.name),
        h("p", {}, h("strong", {}, CLASS_LABELS[item.capability_class]), ` · ${STATUS_LABELS[item.status] ?? item.status}`),
        item.photos.length
          ? h("div", { class: "photos" }, item.photos.slice(0, 6).map((p, i) => h("img", { src: p.display_url, alt: `Photo ${i + 1} of ${item.name}` })))
          : notice("No photos yet."),
        h(
          "dl",
          { class: "kv" },
          item.make || item.model ? [h("dt", {}, "Make / model"), h("dd", {}, [item.make, item.model].filter(Boolean).join(" "))] : null,
          item.serial ? [h("dt", {}, "Serial"), h("dd", {}, item.serial)] : null,
          item.evidence ? [h("dt", {}, "Evidence"), h("dd", {}, `${item.evidence.certificate_number}, ${item.evidence.issuer}, ${item.evidence.date}`)] : null,
          h("dt", {}, "Tag"),
          h("dd", { class: "code-text" }, tag ? `${tag.display} (${tag.status})` : "none"),
        ),
        item.distinctive_marks.length ? [h("h2", {}, "Distinctive marks"), h("ul", {}, item.distinctive_marks.map((m) => h("li", {}, m)))] : null,
        this.msg,
        act && tag
          ? h(
              "section",
              { class: "card" },
              h("h2", {}, "Tag and label"),
              (this.preview = h("div", {})),
              h(
                "div",
                { class: "row" },
                h("button", { class: "btn", type: "button", onclick: () => this.print() }, "Print label"),
                h("button", { class: "btn", type: "button", onclick: () => this.reissue() }, "New tag"),
                h("button", { class: "btn btn-stop", type: "button", onclick: () => this.revoke() }, "Revoke tag"),
              ),
            )
          : null,
        act ? this.inspectionForm() : null,
        h("h2", {}, "Inspections"),
        inspections.length
          ? h("ul", { class: "list" }, inspections.map((i) => h("li", {}, h("strong", {}, i.result === "pass" ? "Passed" : "FAILED"), ` · ${i.kind.replace("_", " ")} · ${dateTime(i.created_at)}`, i.notes ? h("br") : null, i.notes)))
          : notice("Never inspected: it cannot be cleared until it passes an inspection."),
        h("a", { class: "btn", href: `#/incidents/new/${item.id}` }, "Report an incident about it"),
      ),
    );
    if (this.preview) this.loadPreview();
  }

  async loadPreview() {
    const url = await labelPreview(this.app, this.itemId);
    if (url) this.preview.replaceChildren(h("img", { src: url, alt: `Label of ${this.item.name}`, class: "label-preview" }));
  }

  inspectionForm() {
    const kind = h("select", { id: "insp-kind" }, h("option", { value: "before_use" }, "Before use"), h("option", { value: "after_use" }, "After use"), h("option", { value: "periodic" }, "Periodic"));
    const notes = h("textarea", { id: "insp-notes", maxlength: 5000 });
    const radio = (v, t) => h("label", { class: "choice" }, h("input", { type: "radio", name: "insp-result", value: v, required: true }), h("span", {}, t));
    return h(
      "form",
      { class: "card", onsubmit: (e) => (e.preventDefault(), this.inspect(kind.value, this.root.querySelector("input[name=insp-result]:checked")?.value, notes.value)) },
      h("h2", {}, "Record an inspection"),
      field("Kind", kind),
      h("fieldset", {}, h("legend", {}, "Result"), radio("pass", "Pass"), radio("fail", "Fail (quarantines the item)")),
      field("Notes", notes),
      h("button", { class: "btn btn-primary", type: "submit" }, "Save inspection"),
    );
  }

  async inspect(kind, result, notes) {
    if (!result) return;
    try {
      await this.app.call((api) => api.post(`/api/v1/items/${this.itemId}/inspections`, { kind, result, notes, client_id: crypto.randomUUID() }));
      this.app.syncSnapshot();
      await this.render(this.root);
      this.msg.replaceChildren(notice(`Inspection saved: ${result === "pass" ? "passed" : "failed"}.`, "ok"));
    } catch (error) {
      this.msg.replaceChildren(notice(errorText(error), "error"));
    }
  }

  async reissue() {
    if (!confirm("Issue a new tag? The current tag stops working at once.")) return;
    await this.tagAction(() => this.app.api.post(`/api/v1/items/${this.itemId}/tags`), "New tag issued: print its label.");
  }

  async revoke() {
    if (!confirm("Revoke this tag? It will verify STOP from now on.")) return;
    await this.tagAction(() => this.app.api.post(`/api/v1/tags/${this.item.tag.id}/revoke`), "Tag revoked.");
  }

  async tagAction(fn, text) {
    try {
      await this.app.call(fn);
      this.app.syncSnapshot();
      await this.render(this.root);
      this.msg.replaceChildren(notice(text, "ok"));
    } catch (error) {
      this.msg.replaceChildren(notice(errorText(error), "error"));
    }
  }

  async print() {
    try {
      await openPdf(this.app, { item_ids: [this.itemId], layout: "thermal-2x1" });
    } catch (error) {
      this.msg.replaceChildren(notice(errorText(error), "error"));
    }
  }
}
