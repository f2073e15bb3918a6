// Register an item (prop master): photos from the camera, downscaled on the phone;
// what it can do (capability class, never what it is called); marks to compare by
// eye; deactivation evidence when needed. A new tag is issued with it.

import { h, field, notice, errorText, CLASS_LABELS, CLASS_HELP } from "./dom.js";
import { downscale } from "../photos.js";
import { CLASSES } from "../rules.js";
import { detailFields, detailValues, evidenceValue, itemInputs, showEvidence } from "./item-fields.js";

export class RegisterView {
  constructor(app) {
    this.app = app;
    this.photos = [];
    this.preparing = Promise.resolve(); // photos being made smaller, in the order picked
  }

  render(root) {
    this.root = root;
    const f = (this.f = itemInputs("reg", "evidence"));
    showEvidence(f, CLASSES[0]); // the class checked at first
    f.files = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true, id: "reg-photos", class: "visually-hidden", onchange: () => this.addPhotos() });
    this.thumbs = h("div", { class: "thumbs", "aria-live": "polite" });
    this.msg = h("div", { "aria-live": "polite" });
    this.submitBtn = h("button", { class: "btn btn-primary", type: "submit" }, "Register and issue a tag");
    root.replaceChildren(
      h(
        "form",
        { class: "narrow", onsubmit: (e) => (e.preventDefault(), this.submit()) },
        h("h1", {}, "Register an item"),
        h(
          "div",
          { class: "card" },
          h("h2", {}, "Photos"),
          h("p", { class: "help" }, "All sides, and every mark someone could check by eye. Made smaller on this phone before sending."),
          this.thumbs,
          h("label", { for: "reg-photos", class: "btn", role: "button", tabindex: "0", onkeydown: (e) => (e.key === "Enter" || e.key === " ") && f.files.click() }, "Take or add photos"),
          f.files,
        ),
        field("Name", f.name, "As the crew call it, e.g. “Sheriff's revolver (hero)”."),
        h(
          "fieldset",
          {},
          h("legend", {}, "What can it do?"),
          CLASSES.map((c, i) =>
            h(
              "label",
              { class: "choice" },
              h("input", { type: "radio", name: "capability_class", value: c, required: true, checked: i === 0, onchange: () => this.classChanged() }),
              h("span", {}, CLASS_LABELS[c], h("small", {}, CLASS_HELP[c])),
            ),
          ),
        ),
        f.evidence,
        detailFields(f),
        this.msg,
        this.submitBtn,
      ),
    );
  }

  get capabilityClass() {
    return this.root.querySelector("input[name=capability_class]:checked")?.value;
  }

  classChanged() {
    showEvidence(this.f, this.capabilityClass);
  }

  addPhotos() {
    const files = [...(this.f.files.files ?? [])];
    this.f.files.value = "";
    this.preparing = this.preparing.then(() => this.prepare(files));
    return this.preparing;
  }

  async prepare(files) {
    for (const file of files) {
      if (this.photos.length >= 10) break;
      try {
        const blob = await downscale(file);
        this.photos.push(blob);
        const url = URL.createObjectURL(blob);
        this.thumbs.append(h("img", { src: url, alt: `Photo ${this.photos.length} to upload` }));
      } catch {
        this.msg.replaceChildren(notice("One photo could not be read; take it again.", "error"));
      }
    }
  }

  async submit() {
    const f = this.f;
    if (this.submitBtn.disabled) return;
    this.submitBtn.disabled = true;
    // Registered with every photo picked: wait for those still being made smaller.
    this.msg.replaceChildren(notice("Preparing the photos…"));
    await this.preparing;
    const body = { ...detailValues(f), capability_class: this.capabilityClass };
    if (body.capability_class === "deactivated") body.evidence = evidenceValue(f);
    const form = new FormData();
    form.append("item", JSON.stringify(body));
    this.photos.forEach((blob, i) => form.append("photos", blob, `photo-${i + 1}.jpg`));
    this.submitBtn.disabled = true;
    this.msg.replaceChildren(notice(this.photos.length ? `Sending ${this.photos.length} photo(s)…` : "Saving…"));
    try {
      const item = await this.app.call((api) => api.postForm(`/api/v1/productions/${this.app.productionId}/items`, form));
      this.app.syncSnapshot(); // the new tag verifies offline too
      this.done(item);
    } catch (error) {
      this.msg.replaceChildren(notice(errorText(error), "error"));
      this.submitBtn.disabled = false;
    }
  }

  done(item) {
    this.root.replaceChildren(
      h(
        "div",
        { class: "narrow", id: "registered" },
        h("h1", {}, "Registered"),
        notice(`${item.name} is registered with ${item.photos.length} photo(s).`, "ok"),
        item.tag ? h("p", {}, "Tag: ", h("strong", { class: "code-text", id: "new-tag" }, item.tag.display)) : null,
        h("p", { class: "help" }, "It must pass an inspection before it can be cleared."),
        h("a", { class: "btn btn-primary", href: `#/item/${item.id}` }, "Open the item (inspect, print label)"),
        h("a", { class: "btn", href: "#/register", onclick: () => this.app.route() }, "Register another"),
      ),
    );
  }
}
