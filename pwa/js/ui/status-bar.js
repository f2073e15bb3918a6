// The strip under the header: "Offline — data from HH:MM" when the server cannot be
// reached, and how many records are still waiting to be sent.

import { h, dateTime } from "./dom.js";
import { SnapshotStore, noteClock, trustedNow } from "../snapshot.js";

export class StatusBar {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    app.outbox.onChange(() => this.refresh());
    // The snapshot's age moves on; and the clock is noted, so that a clock set back
    // later is caught even with no scan in between (snapshot.js, trustedNow).
    noteClock();
    setInterval(() => {
      noteClock();
      this.refresh();
    }, 60_000);
  }

  async refresh() {
    const app = this.app;
    const parts = [];
    if (app.session.signedIn && app.offline) {
      const snap = app.productionId ? await app.snapshots.get(app.productionId) : null;
      if (snap) {
        // The same clock as the verdicts (trustedNow): the banner must not disagree.
        const now = await trustedNow(snap);
        const age = now ? SnapshotStore.ageHours(snap, now.getTime()) : Infinity;
        const limit = snap.policy?.offline_snapshot_max_age_hours ?? 8;
        const stale = !(age <= limit);
        parts.push(
          h(
            "p",
            { class: `banner ${stale ? "banner-stop" : "banner-offline"}`, id: "offline-banner" },
            `Offline — data from ${dateTime(snap.taken_at)}`,
            stale ? ". Too old: every scan is STOP until you are back online." : "",
          ),
        );
      } else {
        parts.push(h("p", { class: "banner banner-stop", id: "offline-banner" }, "Offline — no data on this phone: every scan is STOP."));
      }
    }
    if (app.session.signedIn) {
      // This person's records only: another sign-in's wait for them (outbox.js).
      const waiting = await app.outbox.countFor(app.session.owner);
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
