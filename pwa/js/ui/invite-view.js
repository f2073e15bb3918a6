// Join a production with an invitation from its studio admin (an account another studio
// made: the studio cannot add it by e-mail). Signed in first: the invitation joins the
// account that redeems it, so the app keeps the code across the sign-in.

import { h, field, notice, errorText } from "./dom.js";
import { linkedCode } from "./join-view.js";

/** The invitation code in a pasted text: a link "...#invite=<code>" or the bare code. */
export function inviteCode(text) {
  return linkedCode(text, "invite", "pci");
}

export class InviteView {
  constructor(app) {
    this.app = app;
  }

  render(root) {
    this.code = h("input", { type: "text", autocomplete: "off", spellcheck: false, required: true, maxlength: 200, value: this.app.pendingInviteCode ?? "" });
    this.msg = h("div", { "aria-live": "polite" });
    root.replaceChildren(
      h(
        "div",
        { class: "narrow" },
        h("h1", {}, "Join with an invitation"),
        h("p", { class: "lead" }, `The studio admin's invitation adds ${this.app.session.data?.me?.email ?? "your account"} to their production.`),
        h(
          "form",
          { class: "card", onsubmit: (e) => (e.preventDefault(), this.submit()) },
          field("Invitation code", this.code, this.app.pendingInviteCode ? "Filled in from the link you opened." : "Paste the code or the link you were sent."),
          this.msg,
          h("button", { class: "btn btn-primary", type: "submit" }, "Join the production"),
        ),
        h("a", { class: "btn", href: "#/productions" }, "Back"),
      ),
    );
  }

  async submit() {
    const code = inviteCode(this.code.value) ?? this.code.value.trim();
    if (!code) {
      this.msg.replaceChildren(notice("Enter the invitation code.", "error"));
      return;
    }
    this.msg.replaceChildren(notice("Joining…"));
    try {
      const joined = await this.app.call((api) => api.post("/api/v1/invitations/accept", { code }));
      this.app.pendingInviteCode = null;
      // The new role is in "who am I": read it again, then work in the production.
      const me = await this.app.call((api) => api.get("/api/v1/auth/me"));
      await this.app.session.save({ ...this.app.session.data, me });
      await this.app.chooseProduction(joined.production_id);
    } catch (error) {
      // Not offered again after the next sign-in: a dead link would come back each time.
      this.app.pendingInviteCode = null;
      this.msg.replaceChildren(notice(error.status === 404 ? "This invitation is unknown, used or expired. Ask for a new one." : errorText(error), "error"));
    }
  }
}
