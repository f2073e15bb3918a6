// Hand-offs (prop master): who has what now; check an item out to a performer (scan
// for that hand-off, confirm it matches, record), and take it back (scan, after-use
// inspection, record). Offline, the hand-off goes into the outbox with the scan.

import { h, field, notice, errorText, dateTime } from "./dom.js";
import { ScanView } from "./scan-view.js";
import { NetworkError } from "../api.js";
import { DEFAULT_POLICY } from "../rules.js";
import { trustedNow } from "../snapshot.js";

const MS_PER_MINUTE = 60_000;

export class CustodyView {
  constructor(app, mode = "") {
    this.app = app;
    this.mode = mode;
  }

  get base() {
    return `/api/v1/productions/${this.app.productionId}`;
  }

  async render(root) {
    this.root = root;
    if (this.mode === "out") return this.checkoutForm();
    if (this.mode === "in") return this.checkinScan();
    root.replaceChildren(
      h(
        "div",
        {},
        h("h1", {}, "Hand out / take back"),
        h(
          "div",
          { class: "row" },
          h("a", { class: "btn btn-primary", href: "#/custody/out", id: "checkout-start" }, "Check out"),
          h("a", { class: "btn", href: "#/custody/in", id: "checkin-start" }, "Check in"),
        ),
        h("h2", {}, "Out with performers now"),
        (this.board = h("div", { "aria-live": "polite" }, notice("Loading…"))),
      ),
    );
    try {
      const board = await this.app.call((api) => api.get(`${this.base}/custody`));
      this.board.replaceChildren(
        board.checked_out.length
          ? h(
              "ul",
              { class: "list" },
              board.checked_out.map((c) =>
                h(
                  "li",
                  {},
                  h("strong", {}, c.item_name ?? "Item"),
                  ` → ${c.performer}`,
                  c.scene ? ` · scene ${c.scene}` : "",
                  c.take ? ` take ${c.take}` : "",
                  h("br"),
                  h("span", { class: "muted" }, `since ${dateTime(c.out_at)}`),
                  c.overdue ? h("span", { class: "badge badge-restricted" }, " Overdue: not back since wrap") : null,
                ),
              ),
            )
          : notice("Nothing is checked out."),
      );
    } catch (error) {
      this.board.replaceChildren(notice(error instanceof NetworkError ? "Offline: the board needs the server." : errorText(error), "error"));
    }
  }

  checkoutForm() {
    const performer = h("input", { type: "text", required: true, autocomplete: "off", maxlength: 200, id: "performer" });
    const scene = h("input", { type: "text", autocomplete: "off", maxlength: 200, id: "scene" });
    const take = h("input", { type: "text", autocomplete: "off", maxlength: 200, inputmode: "numeric", id: "take" });
    this.root.replaceChildren(
      h(
        "form",
        {
          class: "narrow",
          onsubmit: (e) => {
            e.preventDefault();
            if (!performer.value.trim()) return performer.focus();
            this.handoff = { performer: performer.value.trim(), scene: scene.value.trim(), take: take.value.trim() };
            this.scanForCheckout();
          },
        },
        h("h1", {}, "Check out"),
        h("p", { class: "lead" }, "Who gets the item? Then scan its tag."),
        field("Performer", performer),
        h("div", { class: "filters" }, field("Scene", scene), field("Take", take)),
        h("button", { class: "btn btn-primary", type: "submit" }, "Scan the item"),
      ),
    );
    performer.focus();
  }

  scanForCheckout() {
    const { performer } = this.handoff;
    this.app.show(
      new ScanView(this.app, {
        title: `Check out to ${performer}`,
        intro: "Scan the tag of the item you are handing over.",
        purpose: "checkout",
        handoffTo: performer,
        onResult: (result) =>
          this.app.showVerdict(result, {
            next: { label: `Hand over to ${performer} — record it`, run: (final) => this.checkout(final) },
          }),
      }),
    );
  }

  async checkout(result) {
    const { performer, scene, take } = this.handoff;
    const clientId = crypto.randomUUID();
    const body = { verification_id: result.verification_id, performer, scene, take, client_id: clientId };
    const done = (text, kind = "ok") =>
      this.root.replaceChildren(
        h(
          "div",
          { class: "narrow" },
          h("h1", {}, kind === "ok" ? "Handed over" : "Not recorded"),
          notice(text, kind),
          h("a", { class: "btn btn-primary", href: "#/custody" }, "Back to hand-offs"),
        ),
      );
    if (!result.offline && navigator.onLine) {
      try {
        await this.app.call((api) => api.post(`${this.base}/checkouts`, body));
        return done(`${result.item?.name ?? "The item"} is checked out to ${performer}.`);
      } catch (error) {
        if (!(error instanceof NetworkError)) return done(errorText(error), "error");
      }
    }
    // Queued, the hand-off is checked by the server only when it is sent: the phone
    // holds it to the same window first (a CLEARED screen can be left open for an hour).
    const tooOld = await this.scanTooOld(result);
    if (tooOld) return done(tooOld, "error");
    await this.app.outbox.add({
      path: `${this.base}/checkouts`,
      // The phone's clock at hand-off: the server measures the scan's age with it.
      json: { ...body, offline: true, client_time: new Date().toISOString() },
      label: `Hand-off of ${result.item?.name ?? "an item"} to ${performer}`,
    });
    done(`Offline: the hand-off to ${performer} is saved on this phone and will be sent when the network is back.`);
  }

  /**
   * Why the scan may no longer back a hand-off, or null: older than the policy's
   * hand-off window on the phone's clock (both times are the phone's, as the server
   * measures a queued hand-off: client_time against the scan's), or that clock set back
   * since the sync.
   */
  async scanTooOld(result) {
    const snapshot = await this.app.snapshots.get(this.app.productionId);
    if (!(await trustedNow(snapshot))) return "This phone's clock was set back since its data was synced: scan the item again once online.";
    const minutes = snapshot?.policy?.verification_valid_minutes ?? DEFAULT_POLICY.verification_valid_minutes;
    // A window the phone cannot read is the shortest one the policy allows.
    const window = (typeof minutes === "number" && minutes >= 1 && minutes <= 1440 ? minutes : 1) * MS_PER_MINUTE;
    const age = Date.now() - Date.parse(result.scanned_at);
    if (!(age >= 0 && age <= window)) return "That scan is too old for a hand-off: scan the item again.";
    return null;
  }

  checkinScan() {
    this.app.show(
      new ScanView(this.app, {
        title: "Check in",
        intro: "Scan the tag of the item you are taking back.",
        purpose: "checkin",
        onResult: (result) =>
          this.app.showVerdict(result, {
            next: { label: "Take it back — after-use check", always: true, run: (final) => this.checkinForm(final) },
          }),
      }),
    );
  }

  checkinForm(result) {
    const notes = h("textarea", { maxlength: 5000 });
    const choice = (value, label) =>
      h("label", { class: "choice" }, h("input", { type: "radio", name: "result", value, required: true }), h("span", {}, label));
    const msg = h("div", { "aria-live": "polite" });
    this.app.show({
      render: (root) => {
        root.replaceChildren(
          h(
            "form",
            {
              class: "narrow",
              onsubmit: async (e) => {
                e.preventDefault();
                const picked = root.querySelector("input[name=result]:checked")?.value ?? null;
                await this.checkin(result, picked, notes.value, msg);
              },
            },
            h("h1", {}, `Take back ${result.item?.name ?? "the item"}`),
            h(
              "fieldset",
              {},
              h("legend", {}, "After-use inspection"),
              choice("pass", "Passed: intact, nothing changed"),
              choice("fail", "Failed: damaged or changed (quarantines it)"),
            ),
            field("Notes", notes),
            msg,
            h("button", { class: "btn btn-primary", type: "submit" }, "Record check-in"),
          ),
        );
      },
    });
  }

  async checkin(result, inspection, notes, msg) {
    const body = {
      verification_id: result.verification_id,
      client_id: crypto.randomUUID(),
      inspection: inspection ? { result: inspection, notes } : null,
    };
    if (!body.inspection) delete body.inspection;
    if (!result.offline && navigator.onLine) {
      try {
        await this.app.call((api) => api.post(`${this.base}/checkins`, body));
        msg.replaceChildren(notice("Checked in.", "ok"), h("a", { class: "btn", href: "#/custody" }, "Back to hand-offs"));
        return;
      } catch (error) {
        if (!(error instanceof NetworkError)) {
          msg.replaceChildren(notice(errorText(error), "error"));
          return;
        }
      }
    }
    await this.app.outbox.add({
      path: `${this.base}/checkins`,
      // A replay: should the server refuse it when it arrives (the scan too old by
      // then), it still records the after-use inspection, so a failed one quarantines.
      json: { ...body, offline: true, client_time: new Date().toISOString() },
      label: `Check-in of ${result.item?.name ?? "an item"}`,
    });
    msg.replaceChildren(notice("Offline: the check-in is saved on this phone and will be sent when the network is back.", "ok"), h("a", { class: "btn", href: "#/custody" }, "Back to hand-offs"));
  }
}
