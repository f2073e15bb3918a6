// The verdict, full screen, readable at arm's length in sunlight: the word and an icon
// (never colour alone), every reason as a sentence, the registered photos and marks to
// compare with the object in hand, and the person's answer: Matches / Does not match.
//
// A CLEARED that still needs the visual check is shown as "CHECK THE ITEM" (amber), not
// as CLEARED: CLEARED appears only once the person has said it matches.

import { h, dateTime, CLASS_LABELS, STATUS_LABELS } from "./dom.js";
import { checkIcon, clearedIcon, stopIcon } from "./icons.js";
import { signal } from "../feedback.js";

// What the phone plays for each screen. CHECK THE ITEM is not CLEARED: someone working
// by ear must not hear the CLEARED chime before comparing the item with its photos.
const SIGNALS = Object.freeze({ stop: "STOP", check: "CHECK", cleared: "CLEARED" });

export class VerdictView {
  /**
   * @param app  the page controller (verifier, navigation)
   * @param result  a verification (see verifier.js)
   * @param options  { title, next: {label, run}, onFinal(result) }
   */
  constructor(app, result, options = {}) {
    this.app = app;
    this.result = result;
    this.options = options;
    this.busy = false;
  }

  get state() {
    const r = this.result;
    if (r.verdict !== "CLEARED") return "stop";
    return r.needs_confirmation ? "check" : "cleared";
  }

  render(root) {
    this.root = root;
    this.draw();
    signal(SIGNALS[this.state]);
    if (this.state !== "check") this.options.onFinal?.(this.result);
  }

  draw() {
    const r = this.result;
    const state = this.state;
    const words = { stop: "STOP", cleared: "CLEARED", check: "CHECK THE ITEM" }[state];
    const icon = { stop: stopIcon, cleared: clearedIcon, check: checkIcon }[state]();
    const sub = {
      stop: "Do not hand this item over. Do not point it at anyone.",
      cleared: r.confirmed === true ? "Registry checks passed and you confirmed it matches." : "Registry checks passed.",
      check: "The registry clears it. Now compare it with the photos and marks below.",
    }[state];

    const banner = h(
      "section",
      { class: `verdict verdict-${state}`, role: "alert", "aria-live": "assertive", "aria-atomic": "true" },
      icon,
      h("h1", { class: "verdict-word", id: "verdict-word", "data-verdict": r.verdict }, words),
      h("p", { class: "verdict-sub" }, sub),
      r.offline
        ? h("p", { class: "verdict-offline" }, r.snapshot_at ? `Offline verdict — data from ${dateTime(r.snapshot_at)}` : "Offline verdict — no data on this phone")
        : null,
      r.code ? h("p", { class: "verdict-code" }, r.code) : null,
    );

    const reasons = r.reasons?.length
      ? h(
          "section",
          { class: "card reasons", "aria-labelledby": "reasons-h" },
          h("h2", { id: "reasons-h" }, r.reasons.length === 1 ? "Why" : `Why (${r.reasons.length} reasons)`),
          h("ul", { class: "reason-list" }, r.reasons.map((x) => h("li", { "data-code": x.code }, x.message))),
        )
      : null;

    const item = r.item ? this.itemCard(r.item) : null;
    const actions = this.actions();
    // The visual check keeps its buttons under the thumb after the photos; a final
    // verdict puts its next step right under the reasons, above the details.
    const order = state === "check" ? [banner, item, actions] : [banner, reasons, actions, item];
    this.root.replaceChildren(h("div", { class: "verdict-screen" }, ...order));
    this.root.querySelector(".verdict-word")?.focus?.();
  }

  itemCard(item) {
    const photos = (item.photos ?? []).slice(0, 4);
    return h(
      "section",
      { class: "card item-card", "aria-labelledby": "item-h" },
      h("h2", { id: "item-h" }, item.name),
      h(
        "p",
        { class: "item-meta" },
        CLASS_LABELS[item.capability_class] ?? item.capability_class,
        item.status && item.status !== "active" ? ` · ${STATUS_LABELS[item.status] ?? item.status}` : "",
        item.make || item.model ? ` · ${[item.make, item.model].filter(Boolean).join(" ")}` : "",
      ),
      photos.length
        ? h(
            "div",
            { class: "photos" },
            photos.map((p, i) =>
              h("img", { src: p.display_url || p.thumb_url, alt: `Registered photo ${i + 1} of ${item.name}`, loading: "eager", decoding: "async" }),
            ),
          )
        : h("p", { class: "muted" }, "No registered photo on record."),
      item.distinctive_marks?.length
        ? h(
            "div",
            { class: "marks" },
            h("h3", {}, "Distinctive marks"),
            h("ul", {}, item.distinctive_marks.map((m) => h("li", {}, m))),
          )
        : h("p", { class: "muted" }, "No distinctive marks on record."),
    );
  }

  actions() {
    if (this.state === "check") {
      // The visual check: kept in reach of the thumb while scrolling the photos.
      return h(
        "div",
        { class: "actions sticky" },
        h("button", { class: "btn btn-go", type: "button", onclick: () => this.answer(true) }, "Matches"),
        h("button", { class: "btn btn-stop", type: "button", onclick: () => this.answer(false) }, "Does not match"),
      );
    }
    const bar = h("div", { class: "actions" });
    const next = this.options.next;
    if (next && (this.state === "cleared" || next.always)) {
      bar.append(h("button", { class: "btn btn-primary", type: "button", style: "grid-column: 1 / -1", onclick: () => next.run(this.result) }, next.label));
    }
    bar.append(
      h("button", { class: "btn btn-primary", type: "button", onclick: () => this.app.go("#/scan") }, "Scan another"),
      h("button", { class: "btn", type: "button", onclick: () => this.app.go("#/home") }, "Done"),
    );
    return bar;
  }

  async answer(match) {
    if (this.busy) return;
    this.busy = true;
    for (const b of this.root.querySelectorAll(".actions button")) b.disabled = true;
    try {
      this.result = await this.app.verifier.confirm(this.result, match);
    } finally {
      this.busy = false;
    }
    this.draw();
    signal(SIGNALS[this.state]);
    this.options.onFinal?.(this.result);
  }
}
