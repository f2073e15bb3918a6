// Enroll this phone as a scanner: scan the prop master's enrollment QR (or open its
// link, or type the code). The phone gets a device token bound to one production.

import { h, field, notice, errorText } from "./dom.js";
import { Scanner } from "../scanner.js";

/**
 * The one-time code in a scanned or pasted text: a link "...#<key>=<code>" or the bare
 * code with its prefix ("pce" enrollment, "pci" invitation), else null.
 */
export function linkedCode(text, key, prefix) {
  const t = String(text).trim();
  const m = new RegExp(`[#&?]${key}=([A-Za-z0-9_-]{8,100})`).exec(t);
  if (m) return m[1];
  return new RegExp(`^${prefix}_[A-Za-z0-9_-]{8,100}$`).test(t) ? t : null;
}

/** The enrollment code in a scanned text: a link "...#enroll=<code>" or the bare code. */
export function enrollCode(text) {
  return linkedCode(text, "enroll", "pce");
}

export class JoinView {
  constructor(app) {
    this.app = app;
    this.scanner = null;
  }

  render(root) {
    this.code = h("input", { type: "text", autocomplete: "off", spellcheck: false, value: this.app.pendingEnrollCode ?? "" });
    this.name = h("input", { type: "text", autocomplete: "off", value: localStorage.getItem("device-name") ?? "", placeholder: "e.g. 2nd AD phone", required: true, maxlength: 100 });
    this.msg = h("div", { "aria-live": "polite" });
    this.video = h("video", { class: "camera", muted: true, playsinline: true, "aria-label": "Camera view" });
    this.camMsg = h("p", { class: "camera-msg", role: "status" }, "Starting the camera…");
    const haveCode = Boolean(this.app.pendingEnrollCode);
    root.replaceChildren(
      h(
        "div",
        { class: "narrow" },
        h("h1", {}, "Join a production"),
        h("p", { class: "lead" }, "Ask the prop master to show the enrollment code, and scan it."),
        haveCode ? null : h("div", { class: "camera-box" }, this.video, h("div", { class: "aim", "aria-hidden": "true" }), this.camMsg),
        h(
          "form",
          { class: "card", onsubmit: (e) => (e.preventDefault(), this.submit()) },
          field("Name of this phone", this.name, "Shown in the record next to every scan from this phone."),
          field("Enrollment code", this.code, haveCode ? "Filled in from the link you opened." : "Filled in when the camera reads the QR."),
          this.msg,
          h("button", { class: "btn btn-primary", type: "submit" }, "Join"),
        ),
        h("a", { class: "btn", href: "#/sign-in" }, "Back to sign in"),
      ),
    );
    if (!haveCode) this.startCamera();
  }

  async startCamera() {
    if (!Scanner.available) {
      this.camMsg.textContent = "No camera here: type the code.";
      return;
    }
    this.scanner = new Scanner(this.video, {
      accept: (text) => enrollCode(text) !== null,
      onFound: (text) => {
        this.code.value = enrollCode(text);
        this.camMsg.textContent = "Code read. Name this phone and press Join.";
        if (this.name.value.trim()) this.submit();
        else this.name.focus();
      },
    });
    try {
      await this.scanner.start();
      this.camMsg.textContent = "Point the camera at the QR on the prop master's screen.";
    } catch {
      this.camMsg.textContent = "The camera could not be opened: type the code.";
    }
  }

  async submit() {
    const code = enrollCode(this.code.value) ?? this.code.value.trim();
    const name = this.name.value.trim();
    if (!code || !name) {
      this.msg.replaceChildren(notice("Enter the code and a name for this phone.", "error"));
      return;
    }
    localStorage.setItem("device-name", name);
    this.msg.replaceChildren(notice("Joining…"));
    try {
      const token = await this.app.call((api) => api.post("/api/v1/auth/enroll", { code, device_name: name }));
      this.app.pendingEnrollCode = null;
      this.scanner?.stop();
      await this.app.signedIn({
        token: token.token,
        expires_at: token.expires_at,
        kind: "device",
        production_id: token.production_id,
      });
    } catch (error) {
      this.msg.replaceChildren(notice(error.status === 401 ? "This code is unknown, used or expired. Ask for a new one." : errorText(error), "error"));
    }
  }

  destroy() {
    this.scanner?.stop();
  }
}
