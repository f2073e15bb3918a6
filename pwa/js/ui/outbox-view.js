// What this phone still has to send, and what the server refused.

import { h, dateTime, notice } from "./dom.js";

export class OutboxView {
  constructor(app) {
    this.app = app;
  }

  async render(root) {
    this.root = root;
    const waiting = await this.app.outbox.entries();
    const refused = await this.app.outbox.refused();
    root.replaceChildren(
      h(
        "div",
        {},
        h("h1", {}, "Waiting to send"),
        h("p", { class: "lead" }, "Scans, confirmations, hand-offs and reports made offline. They are sent in order as soon as the server can be reached."),
        waiting.length
          ? h(
              "ol",
              { class: "list" },
              waiting.map((e) =>
                h(
                  "li",
                  {},
                  h("strong", {}, e.label),
                  h("span", { class: "muted" }, ` · ${dateTime(e.created_at)}`),
                  // Sent only with its maker's token (outbox.js).
                  e.owner && e.owner !== this.app.session.owner
                    ? h("span", { class: "badge" }, ` Waiting for ${e.owner_label ?? "its maker"} to sign in`)
                    : null,
                ),
              ),
            )
          : notice("Nothing is waiting."),
        h("button", { class: "btn btn-primary", type: "button", onclick: () => this.send() }, "Send now"),
        refused.length
          ? h(
              "section",
              { class: "card" },
              h("h2", {}, "Refused by the server"),
              h("p", {}, "Tell the prop master: these were not stored as made."),
              h("ul", { class: "list" }, refused.map((e) => h("li", {}, h("strong", {}, e.label), ` — ${e.detail}`))),
              h("button", { class: "btn", type: "button", onclick: () => this.app.outbox.clearRefused().then(() => this.render(root)) }, "I have noted these"),
            )
          : null,
      ),
    );
  }

  async send() {
    await this.app.replay();
    await this.render(this.root);
  }
}
