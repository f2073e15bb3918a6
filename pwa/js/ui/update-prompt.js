// Registers the service worker and, when a new version is waiting, offers "Update
// available — Reload" instead of reloading under the person's hands.

import { h } from "./dom.js";

export class UpdatePrompt {
  constructor(root) {
    this.root = root;
  }

  async register(url) {
    if (!("serviceWorker" in navigator)) return;
    let reg;
    try {
      reg = await navigator.serviceWorker.register(url, { type: "module", scope: "/" });
    } catch (error) {
      console.warn("service worker not registered", error);
      return;
    }
    const hadController = Boolean(navigator.serviceWorker.controller);
    let reloading = false;
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      // Only after the person asked for the update (the first install claims silently).
      if (this.accepted && !reloading) {
        reloading = true;
        location.reload();
      }
    });
    const offer = (worker) => {
      if (!worker || !hadController) return;
      this.show(worker);
    };
    if (reg.waiting) offer(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const worker = reg.installing;
      worker?.addEventListener("statechange", () => {
        if (worker.state === "installed") offer(worker);
      });
    });
    this.reg = reg;
  }

  show(worker) {
    this.root.replaceChildren(
      h("p", { role: "status" }, "Update available."),
      h(
        "button",
        {
          class: "btn btn-small btn-primary",
          type: "button",
          onclick: () => {
            this.accepted = true;
            worker.postMessage({ type: "SKIP_WAITING" });
          },
        },
        "Reload",
      ),
      h("button", { class: "btn btn-small", type: "button", onclick: () => (this.root.hidden = true) }, "Later"),
    );
    this.root.hidden = false;
  }
}
