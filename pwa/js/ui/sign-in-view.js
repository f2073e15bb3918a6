// Sign in with e-mail and password (prop masters, auditors), or join with a code (crew).

import { h, field, notice, errorText } from "./dom.js";
import { unlockAudio } from "../feedback.js";

export class SignInView {
  constructor(app) {
    this.app = app;
  }

  render(root) {
    this.email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, inputmode: "email" });
    this.password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
    this.msg = h("div", { "aria-live": "polite" });
    if (this.app.signedOutReason) this.msg.append(notice(this.app.signedOutReason, "error"));
    this.button = h("button", { class: "btn btn-primary", type: "submit" }, "Sign in");
    root.replaceChildren(
      h(
        "div",
        { class: "narrow" },
        h("h1", {}, "Sign in"),
        h("p", { class: "lead" }, "Prop masters, armorers and auditors sign in with their account."),
        h(
          "form",
          { class: "card", onsubmit: (e) => (e.preventDefault(), this.submit()) },
          field("E-mail", this.email),
          field("Password", this.password),
          this.msg,
          this.button,
        ),
        h(
          "div",
          { class: "card" },
          h("h2", {}, "Crew phone?"),
          h("p", {}, "Scan the code on the prop master's screen. No password needed."),
          h("a", { class: "btn", href: "#/join" }, "Join with a code"),
        ),
      ),
    );
  }

  async submit() {
    unlockAudio();
    this.button.disabled = true;
    this.msg.replaceChildren(notice("Signing in…"));
    try {
      const token = await this.app.call((api) =>
        api.post("/api/v1/auth/sign-in", { email: this.email.value.trim(), password: this.password.value }),
      );
      this.app.signedOutReason = null;
      await this.app.signedIn({ token: token.token, expires_at: token.expires_at, kind: "user" });
    } catch (error) {
      this.msg.replaceChildren(notice(error.status === 401 ? "E-mail or password is wrong." : errorText(error), "error"));
      this.button.disabled = false;
    }
  }
}
