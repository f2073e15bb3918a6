// Scan a tag: the live camera, a torch switch, typing the code with live feedback on
// its check character, and "send a photo" for the server to read.

import { checkTyping, isValid } from "../codes.js";
import { downscale } from "../photos.js";
import { Scanner } from "../scanner.js";
import { unlockAudio } from "../feedback.js";
import { h, notice } from "./dom.js";

const TYPING_HINT = {
  empty: "Type the code printed under the QR, e.g. PC-1234-…",
  bad_format: "That is not a tag code: check each letter and digit.",
  bad_check_character: "All 18 characters typed, but the code does not check out: one is wrong.",
};

export class ScanView {
  /**
   * @param options { purpose, handoffTo, title, intro, onResult(result) }
   */
  constructor(app, options = {}) {
    this.app = app;
    this.options = options;
    this.scanner = null;
    this.busy = false;
  }

  render(root) {
    this.root = root;
    const o = this.options;
    this.video = h("video", { class: "camera", muted: true, playsinline: true, "aria-label": "Camera view" });
    this.cameraMsg = h("p", { class: "camera-msg", role: "status" }, "Starting the camera…");
    this.torch = h(
      "button",
      { class: "btn btn-small torch", type: "button", hidden: true, "aria-pressed": "false", onclick: () => this.toggleTorch() },
      "Torch",
    );
    this.input = h("input", {
      type: "text",
      id: "code-input",
      inputmode: "text",
      autocomplete: "off",
      autocapitalize: "characters",
      spellcheck: false,
      placeholder: "PC-XXXX-XXXX-XXXX-XXXX-XC",
      "aria-describedby": "code-feedback",
      oninput: () => this.onTyping(),
    });
    this.feedback = h("p", { id: "code-feedback", class: "typing typing-empty", "aria-live": "polite" }, TYPING_HINT.empty);
    this.checkBtn = h("button", { class: "btn btn-primary", type: "submit", disabled: true }, "Check this code");
    this.photoInput = h("input", {
      type: "file",
      accept: "image/*",
      capture: "environment",
      class: "visually-hidden",
      id: "photo-input",
      onchange: () => this.sendPhoto(),
    });
    this.status = h("div", { class: "scan-status", "aria-live": "polite" });

    root.replaceChildren(
      h(
        "div",
        { class: "scan-screen" },
        h("h1", {}, o.title ?? "Scan a tag"),
        o.intro ? h("p", { class: "lead" }, o.intro) : null,
        h("div", { class: "camera-box" }, this.video, h("div", { class: "aim", "aria-hidden": "true" }), this.cameraMsg, this.torch),
        this.status,
        h(
          "form",
          { class: "card", onsubmit: (e) => (e.preventDefault(), this.submitTyped()) },
          h("h2", {}, h("label", { for: "code-input" }, "Or type the code")),
          this.input,
          this.feedback,
          this.checkBtn,
        ),
        h(
          "div",
          { class: "card" },
          h("h2", {}, "Camera will not read it?"),
          h("p", {}, "Take a photo of the tag; the server reads it (needs a network)."),
          h("label", { for: "photo-input", class: "btn", role: "button", tabindex: "0", onkeydown: (e) => (e.key === "Enter" || e.key === " ") && this.photoInput.click() }, "Send a photo"),
          this.photoInput,
        ),
      ),
    );
    this.startCamera();
  }

  async startCamera() {
    if (!Scanner.available) {
      this.cameraMsg.textContent = "This browser cannot use the camera here. Type the code or send a photo.";
      return;
    }
    this.scanner = new Scanner(this.video, {
      accept: (text) => isValid(text),
      onFound: (text) => this.found(text),
    });
    try {
      await this.scanner.start();
      this.cameraMsg.textContent = "Point the camera at the tag.";
      this.root.querySelector(".camera-box").dataset.engine = this.scanner.engine;
      if (this.scanner.torchSupported) this.torch.hidden = false;
    } catch (error) {
      console.warn("camera", error);
      this.scanner = null;
      this.cameraMsg.textContent =
        error?.name === "NotAllowedError"
          ? "Camera access was refused. Allow it in the browser settings, or type the code."
          : "No camera available. Type the code or send a photo.";
    }
  }

  async toggleTorch() {
    const on = !this.scanner?.torchOn;
    if (await this.scanner?.setTorch(on)) {
      this.torch.setAttribute("aria-pressed", String(on));
      this.torch.textContent = on ? "Torch on" : "Torch";
    }
  }

  onTyping() {
    const t = checkTyping(this.input.value);
    this.feedback.className = `typing typing-${t.state}`;
    if (t.state === "typing") {
      this.feedback.textContent = `${t.remaining} more character${t.remaining === 1 ? "" : "s"} to type.`;
    } else if (t.state === "valid") {
      this.feedback.textContent = "✓ The code checks out.";
    } else {
      this.feedback.textContent = TYPING_HINT[t.state];
    }
    this.checkBtn.disabled = t.state !== "valid";
    this.input.setAttribute("aria-invalid", String(t.state === "bad_format" || t.state === "bad_check_character"));
  }

  submitTyped() {
    unlockAudio();
    const t = checkTyping(this.input.value);
    if (t.state === "valid") this.found(t.code);
  }

  async found(text) {
    if (this.busy) return;
    this.busy = true;
    unlockAudio();
    this.scanner?.stop();
    this.status.replaceChildren(notice("Checking…"));
    const result = await this.app.verifier.verifyCode(text, {
      purpose: this.options.purpose ?? "check",
      handoffTo: this.options.handoffTo ?? null,
    });
    this.options.onResult ? this.options.onResult(result) : this.app.showVerdict(result);
  }

  async sendPhoto() {
    const file = this.photoInput.files?.[0];
    if (!file || this.busy) return;
    this.busy = true;
    unlockAudio();
    this.scanner?.stop();
    this.status.replaceChildren(notice("Sending the photo…"));
    let blob = file;
    try {
      blob = await downscale(file, 2000);
    } catch {
      blob = file;
    }
    const result = await this.app.verifier.verifyPhoto(blob, {
      purpose: this.options.purpose ?? "check",
      handoffTo: this.options.handoffTo ?? null,
    });
    this.options.onResult ? this.options.onResult(result) : this.app.showVerdict(result);
  }

  destroy() {
    this.scanner?.stop();
  }
}
