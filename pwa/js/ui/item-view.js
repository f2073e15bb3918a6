// One item: photos, marks, class and status, its tag (reissue, revoke, print), its
// inspections (record one), reporting an incident about it, and (prop master) editing
// its details or adding photos. An edit says why: the record keeps who, when, before,
// after and that note.

import { h, field, notice, errorText, dateTime, CLASS_LABELS, STATUS_LABELS } from "./dom.js";
import { labelPreview, openPdf } from "./labels.js";
import { downscale } from "../photos.js";
import { CLASSES } from "../rules.js";
import { PhotoPicker } from "./photo-picker.js";
import { detailFields, detailValues, evidenceValue, itemInputs, showEvidence } from "./item-fields.js";

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
        act ? this.photoForm() : null,
        act ? this.editForm(item) : null,
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
    this.inspPhoto = new PhotoPicker("insp-photo");
    const radio = (v, t) => h("label", { class: "choice" }, h("input", { type: "radio", name: "insp-result", value: v, required: true }), h("span", {}, t));
    return h(
      "form",
      { class: "card", onsubmit: (e) => (e.preventDefault(), this.inspect(kind.value, this.root.querySelector("input[name=insp-result]:checked")?.value, notes.value)) },
      h("h2", {}, "Record an inspection"),
      field("Kind", kind),
      h("fieldset", {}, h("legend", {}, "Result"), radio("pass", "Pass"), radio("fail", "Fail (quarantines the item)")),
      field("Notes", notes),
      this.inspPhoto.element,
      (this.inspectBtn = h("button", { class: "btn btn-primary", type: "submit" }, "Save inspection")),
    );
  }

  photoForm() {
    const files = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true, id: "item-photos", class: "visually-hidden", onchange: () => this.addPhotos(files) });
    return h(
      "section",
      { class: "card" },
      h("h2", {}, "Add photos"),
      h("p", { class: "help" }, "A new side, a new mark, or how it looks now. Made smaller on this phone before sending."),
      h("label", { for: "item-photos", class: "btn", role: "button", tabindex: "0", onkeydown: (e) => (e.key === "Enter" || e.key === " ") && files.click() }, "Take or add photos"),
      files,
    );
  }

  async addPhotos(input) {
    const files = [...(input.files ?? [])].slice(0, 10);
    input.value = "";
    let added = 0;
    let failed = null;
    for (const file of files) {
      try {
        const form = new FormData();
        form.append("photo", await downscale(file), "photo.jpg");
        form.append("purpose", "item");
        await this.app.call((api) => api.postForm(`/api/v1/items/${this.itemId}/photos`, form));
        added += 1;
      } catch (error) {
        failed = `Photo ${added + 1} of ${files.length} was not added: ${errorText(error)}`;
        break;
      }
    }
    if (added) {
      this.app.syncSnapshot(); // the photos show at hand-off scans, offline too
      await this.render(this.root); // a new message area: the outcome goes in after
    }
    const outcome = [];
    if (added) outcome.push(notice(`${added} photo(s) added.`, "ok"));
    if (failed) outcome.push(notice(failed, "error"));
    this.msg.replaceChildren(...outcome);
  }

  editForm(item) {
    const f = (this.ef = itemInputs("edit", "edit-evidence", item));
    f.cls = h("select", { id: "edit-class", onchange: () => showEvidence(f, f.cls.value) }, CLASSES.map((c) => h("option", { value: c, selected: c === item.capability_class }, CLASS_LABELS[c])));
    f.note = h("input", { type: "text", required: true, maxlength: 5000, autocomplete: "off", id: "edit-note" });
    this.editMsg = h("div", { "aria-live": "polite" });
    const form = h(
      "details",
      { class: "card", id: "edit-item" },
      h("summary", {}, "Edit details"),
      h(
        "form",
        { onsubmit: (e) => (e.preventDefault(), this.saveEdit()) },
        field("Name", f.name),
        field("What can it do?", f.cls, "A deactivated item needs its evidence. An item recorded as able to fire, now said not to, is quarantined until it passes an inspection."),
        f.evidence,
        detailFields(f),
        field("Why the change", f.note, "Kept in the record with who, when, before and after."),
        this.editMsg,
        h("button", { class: "btn btn-primary", type: "submit" }, "Save changes"),
      ),
    );
    showEvidence(f, f.cls.value);
    return form;
  }

  async saveEdit() {
    const f = this.ef;
    const item = this.item;
    const body = { version: item.version, note: f.note.value.trim() };
    const set = (key, value, old) => {
      if (JSON.stringify(value) !== JSON.stringify(old)) body[key] = value;
    };
    for (const [key, value] of Object.entries(detailValues(f))) set(key, value, item[key]);
    set("capability_class", f.cls.value, item.capability_class);
    if (f.cls.value === "deactivated") {
      const old = item.evidence ? { certificate_number: item.evidence.certificate_number, issuer: item.evidence.issuer, date: item.evidence.date } : null;
      set("evidence", evidenceValue(f), old);
    }
    if (Object.keys(body).length === 2) {
      this.editMsg.replaceChildren(notice("Nothing changed.", "info"));
      return;
    }
    try {
      const saved = await this.app.call((api) => api.patch(`/api/v1/items/${this.itemId}`, body));
      this.app.syncSnapshot(); // a class or status change alters offline verdicts
      await this.render(this.root);
      const quarantined = saved.status === "quarantined" && item.status !== "quarantined";
      this.msg.replaceChildren(notice(quarantined ? "Changes saved. It is quarantined until it passes an inspection." : "Changes saved.", "ok"));
    } catch (error) {
      // 409: someone else changed it meanwhile; the message says to reload.
      this.editMsg.replaceChildren(notice(errorText(error), "error"));
    }
  }

  async inspect(kind, result, notes) {
    // One inspection per press: a second tap while this one is sent would record two.
    if (!result || this.inspectBtn.disabled) return;
    this.inspectBtn.disabled = true;
    try {
      const body = { kind, result, notes, client_id: crypto.randomUUID() };
      const photo = await this.inspPhoto.ready();
      await this.app.call((api) => {
        if (!photo) return api.post(`/api/v1/items/${this.itemId}/inspections`, body);
        const form = new FormData(); // the inspection and its photo in one request
        form.append("inspection", JSON.stringify(body));
        form.append("photo", photo, "inspection.jpg");
        return api.postForm(`/api/v1/items/${this.itemId}/inspections`, form);
      });
      this.app.syncSnapshot();
      await this.render(this.root);
      this.msg.replaceChildren(notice(`Inspection saved: ${result === "pass" ? "passed" : "failed"}.`, "ok"));
    } catch (error) {
      this.msg.replaceChildren(notice(errorText(error), "error"));
      this.inspectBtn.disabled = false;
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
