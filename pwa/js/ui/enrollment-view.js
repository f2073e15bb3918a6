// Add a crew phone (prop master): mint a one-time enrollment code and show it as a QR
// for the crew phone to scan. The code is valid for a few minutes and for one phone.

import { h, notice, errorText, hhmm } from "./dom.js";
import { qrSvg } from "./qr.js";

export class EnrollmentView {
  constructor(app) {
    this.app = app;
    this.timer = null;
  }

  render(root) {
    this.root = root;
    this.body = h("div", { "aria-live": "polite" });
    root.replaceChildren(
      h(
        "div",
        { class: "narrow" },
        h("h1", {}, "Add a crew phone"),
        h("p", { class: "lead" }, "On the crew phone: open propcheck, choose “Join with a code”, and scan this QR. Or scan it with the phone's camera app."),
        this.body,
        h("button", { class: "btn btn-primary", type: "button", id: "new-enroll-code", onclick: () => this.mint() }, "Show a new code"),
      ),
    );
    this.mint();
  }

  async mint() {
    clearInterval(this.timer);
    this.body.replaceChildren(notice("Creating a code…"));
    let code;
    try {
      code = await this.app.call((api) => api.post(`/api/v1/productions/${this.app.productionId}/enrollment-codes`));
    } catch (error) {
      this.body.replaceChildren(notice(errorText(error), "error"));
      return;
    }
    const left = h("p", { class: "muted", id: "enroll-expiry" });
    const tick = () => {
      const ms = new Date(code.expires_at).getTime() - Date.now();
      if (ms <= 0) {
        left.textContent = "This code has expired. Show a new one.";
        this.body.querySelector(".qr")?.setAttribute("hidden", "");
        clearInterval(this.timer);
        return;
      }
      const m = Math.floor(ms / 60000);
      const s = Math.floor((ms % 60000) / 1000);
      left.textContent = `Valid for one phone until ${hhmm(code.expires_at)} (${m}:${String(s).padStart(2, "0")} left).`;
    };
    this.body.replaceChildren(
      h("div", { class: "qr", id: "enroll-qr", "data-url": code.enroll_url }, qrSvg(code.enroll_url, "Enrollment QR code for a crew phone")),
      left,
      h("details", {}, h("summary", {}, "Type it instead"), h("p", { class: "code-text" }, code.code)),
    );
    tick();
    this.timer = setInterval(tick, 1000);
  }

  destroy() {
    clearInterval(this.timer);
  }
}
