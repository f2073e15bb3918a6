// One optional photo for a record (an inspection, an incident): taken with the camera,
// made smaller on the phone, shown as a thumbnail with a way to take it out again.

import { h, notice } from "./dom.js";
import { downscale } from "../photos.js";

export class PhotoPicker {
  /** @param {string} id  the file input's id (labels and tests name it) */
  constructor(id, label = "Add a photo (optional)") {
    this.blob = null;
    this.input = h("input", { type: "file", accept: "image/*", capture: "environment", id, class: "visually-hidden", onchange: () => this.picked() });
    this.preview = h("div", { class: "thumbs", "aria-live": "polite" });
    this.element = h(
      "div",
      { class: "field" },
      this.preview,
      h("label", { for: id, class: "btn", role: "button", tabindex: "0", onkeydown: (e) => (e.key === "Enter" || e.key === " ") && this.input.click() }, label),
      this.input,
    );
  }

  async picked() {
    const file = this.input.files?.[0];
    this.input.value = "";
    if (!file) return;
    try {
      this.blob = await downscale(file);
      const url = URL.createObjectURL(this.blob);
      this.preview.replaceChildren(
        h("img", { src: url, alt: "The photo to send" }),
        h("button", { class: "btn", type: "button", onclick: () => this.clear() }, "Remove the photo"),
      );
    } catch {
      this.blob = null;
      this.preview.replaceChildren(notice("This photo could not be read; take it again.", "error"));
    }
  }

  clear() {
    this.blob = null;
    this.preview.replaceChildren();
  }
}
