// Choose the production this phone works in (accounts in several).

import { h, notice, errorText } from "./dom.js";

export class ProductionView {
  constructor(app) {
    this.app = app;
  }

  async render(root) {
    root.replaceChildren(h("div", { class: "narrow" }, h("h1", {}, "Choose a production"), notice("Loading…")));
    let list;
    try {
      list = await this.app.call((api) => api.get("/api/v1/productions"));
    } catch (error) {
      root.querySelector(".narrow").replaceChildren(h("h1", {}, "Choose a production"), notice(errorText(error), "error"));
      return;
    }
    const roles = this.app.session.data?.me?.production_roles ?? {};
    root.querySelector(".narrow").replaceChildren(
      h("h1", {}, "Choose a production"),
      list.length
        ? h(
            "ul",
            { class: "tiles" },
            list.map((p) =>
              h(
                "li",
                {},
                h(
                  "button",
                  { class: "tile", type: "button", onclick: () => this.app.chooseProduction(p.id, p.name) },
                  h("strong", {}, p.name),
                  h("span", {}, (roles[p.id] ?? []).map((r) => r.replace("_", " ")).join(", "), p.status === "archived" ? " · archived" : ""),
                ),
              ),
            ),
          )
        : notice("You are not a member of any production yet."),
      this.app.session.data?.kind === "user" ? h("a", { class: "btn", href: "#/invite", id: "invite-start" }, "Join with an invitation") : null,
      h("button", { class: "btn", type: "button", onclick: () => this.app.signOut() }, "Sign out"),
    );
  }
}
