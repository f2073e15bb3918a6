// Home: one big Scan button for everyone, then the tools of the person's role.

import { h, hhmm } from "./dom.js";

export class HomeView {
  constructor(app) {
    this.app = app;
  }

  async render(root) {
    const s = this.app.session;
    const act = s.can("act");
    const verify = s.can("verify");
    const snap = verify ? await this.app.snapshots.get(this.app.productionId) : null;
    const tile = (href, title, text, id) =>
      h("li", {}, h("a", { class: "tile", href, id }, h("strong", {}, title), h("span", {}, text)));
    root.replaceChildren(
      h(
        "div",
        { class: "home" },
        h("h1", { class: "visually-hidden" }, "Home"),
        verify ? h("a", { class: "btn btn-scan", href: "#/scan", id: "scan-button" }, "Scan a prop") : null,
        verify
          ? h(
              "p",
              { class: "muted sync-line" },
              snap ? `Offline data from ${hhmm(snap.taken_at)} (${snap.items.length} items).` : "No offline data on this phone yet.",
              " ",
              h("button", { class: "link", type: "button", onclick: () => this.sync(root) }, "Update now"),
            )
          : null,
        h(
          "ul",
          { class: "tiles" },
          act ? tile("#/custody", "Hand out / take back", "Check a prop out to a performer, or in", "tile-custody") : null,
          act ? tile("#/register", "Register an item", "Photos, class, evidence, new tag", "tile-register") : null,
          s.can("read") ? tile("#/items", "Items", "Search, inspect, tags and labels", "tile-items") : null,
          verify ? tile("#/incidents", "Incidents", act ? "Report and resolve" : "Report a problem", "tile-incidents") : null,
          act ? tile("#/add-phone", "Add a crew phone", "Show a QR to enroll a phone", "tile-add-phone") : null,
          s.can("read") ? tile("#/audit", "Production status", "Firearm-free? Charts", "tile-audit") : null,
        ),
        h(
          "p",
          { class: "who" },
          `Signed in as ${s.displayName}. `,
          h("button", { class: "link", type: "button", onclick: () => this.app.go("#/productions") }, "Switch production"),
          " · ",
          h("button", { class: "link", type: "button", onclick: () => this.app.signOut() }, "Sign out"),
        ),
      ),
    );
  }

  async sync(root) {
    await this.app.replay();
    await this.app.syncSnapshot();
    await this.render(root);
  }
}
