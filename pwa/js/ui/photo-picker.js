// One optional photo for a record (an inspection, an incident): taken with the camera,
// made smaller on the phone, shown as a thumbnail with a way to take it out again.

import { h, notice } from "./dom.js";
import { downscale } from "../photos.js";

export class PhotoPicker {
  /** @param {string} id  the file input's id (labels and tests name it) */
  constructor(id, label = "Add a photo (optional)") {
    this.blob = null;
    this.pending = null; // the photo being made smaller, if one is
    this.failed = false; // the last photo picked could not be read
    this.url = null;
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

  picked() {
    const file = this.input.files?.[0];
    this.input.value = "";
    if (!file) return;
    this.clear();
    this.preview.replaceChildren(notice("Preparing the photo…"));
    this.failed = false;
    const pending = (this.pending = downscale(file).then(
      (blob) => {
        if (this.pending !== pending) return; // another photo was picked meanwhile
        this.blob = blob;
        this.url = URL.createObjectURL(blob);
        this.preview.replaceChildren(
          h("img", { src: this.url, alt: "The photo to send" }),
          h("button", { class: "btn", type: "button", onclick: () => this.clear() }, "Remove the photo"),
        );
      },
      () => {
        if (this.pending !== pending) return;
        this.failed = true;
        this.preview.replaceChildren(
          notice("This photo could not be read; take it again.", "error"),
          h("button", { class: "btn", type: "button", onclick: () => this.clear() }, "Send without a photo"),
        );
      },
    ));
    return pending;
  }

  /** The photo to send (null for none), once a photo still being prepared is ready:
   *  a record sent while it is made smaller must not go without it. */
  async ready() {
    // Another photo may be picked while this one is prepared: wait for the last one.
    let pending;
    do {
      pending = this.pending;
      await pending;
    } while (pending !== this.pending);
    if (this.failed) throw new Error("The photo could not be read: take it again, or choose to send without one.");
    return this.blob;
  }

  clear() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.blob = null;
    this.url = null;
    this.pending = null;
    this.failed = false;
    this.preview.replaceChildren();
  }
}
