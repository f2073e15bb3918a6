// The strip under the header: "Offline — data from HH:MM" when the server cannot be
// reached, and how many records are still waiting to be sent.

import { h, hhmm } from "./dom.js";
import { SnapshotStore } from "../snapshot.js";

export class StatusBar {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    app.outbox.onChange(() => this.refresh());
    setInterval(() => this.refresh(), 60_000); // the snapshot's age moves on
  }

  async refresh() {
    const app = this.app;
    const parts = [];
    if (app.session.signedIn && app.offline) {
      const snap = app.productionId ? await app.snapshots.get(app.productionId) : null;
      if (snap) {
        const age = SnapshotStore.ageHours(snap);
        const limit = snap.policy?.offline_snapshot_max_age_hours ?? 8;
        const stale = age > limit;
        parts.push(
          h(
            "p",
            { class: `banner ${stale ? "banner-stop" : "banner-offline"}`, id: "offline-banner" },
            `Offline — data from ${hhmm(snap.taken_at)}`,
            stale ? ". Too old: every scan is STOP until you are back online." : "",
          ),
        );
      } else {
        parts.push(h("p", { class: "banner banner-stop", id: "offline-banner" }, "Offline — no data on this phone: every scan is STOP."));
      }
    }
    if (app.session.signedIn) {
      const waiting = await app.outbox.count();
      const refused = (await app.outbox.refused()).length;
      if (waiting || refused) {
        parts.push(
          h(
            "a",
            { class: "banner banner-outbox", href: "#/outbox", id: "outbox-count" },
            waiting ? `${waiting} record${waiting === 1 ? "" : "s"} waiting to send` : "",
            waiting && refused ? " · " : "",
            refused ? `${refused} refused by the server` : "",
          ),
        );
      }
    }
    this.root.replaceChildren(...parts);
  }
}
