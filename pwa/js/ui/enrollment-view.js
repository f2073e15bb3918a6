// Add a crew phone (prop master): mint a one-time enrollment code and show it as a QR
// for the crew phone to scan. The code is valid for a few minutes and for one phone.
// Below it, the phones already enrolled, each with a button to sign it out (a lost or
// stolen phone would otherwise keep scanning, and reading every tag code, for 30 days).

import { h, notice, errorText, hhmm, dateTime } from "./dom.js";
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
        h("h2", {}, "Phones signed in"),
        (this.devices = h("div", { id: "devices", "aria-live": "polite" })),
      ),
    );
    this.mint();
    this.listDevices();
  }

  get devicesPath() {
    return `/api/v1/productions/${this.app.productionId}/devices`;
  }

  async listDevices(call = (api) => api.get(this.devicesPath)) {
    let devices;
    try {
      devices = await this.app.call(call);
    } catch (error) {
      this.devices.replaceChildren(notice(errorText(error), "error"));
      return;
    }
    const active = devices.filter((d) => !d.revoked_at && new Date(d.expires_at) > new Date());
    if (!active.length) {
      this.devices.replaceChildren(h("p", { class: "muted" }, "No crew phone is signed in."));
      return;
    }
    this.devices.replaceChildren(
      h(
        "ul",
        { class: "list" },
        active.map((d) =>
          h(
            "li",
            { class: "device" },
            h("strong", {}, d.device_name || "Unnamed phone"),
            " ",
            h("span", { class: "muted" }, `since ${dateTime(d.created_at)}`),
            " ",
            h(
              "button",
              {
                class: "btn",
                type: "button",
                "aria-label": `Sign out ${d.device_name || "this phone"}`,
                onclick: () => this.listDevices((api) => api.post(`${this.devicesPath}/${d.id}/revoke`)),
              },
              "Sign out",
            ),
          ),
        ),
      ),
    );
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
