// The page controller: one session, one API client, the outbox and the snapshot store,
// and a hash router that shows one view (one class per UI file) at a time.

import { Api, ApiError, NetworkError } from "./api.js";
import { Outbox } from "./outbox.js";
import { Session } from "./session.js";
import { SnapshotStore } from "./snapshot.js";
import { Verifier } from "./verifier.js";
import { mount, notice } from "./ui/dom.js";
import { StatusBar } from "./ui/status-bar.js";
import { UpdatePrompt } from "./ui/update-prompt.js";
import { VerdictView } from "./ui/verdict-view.js";

// Views load on first use; the service worker has them all cached for offline use.
const ROUTES = {
  "sign-in": ["./ui/sign-in-view.js", "SignInView"],
  join: ["./ui/join-view.js", "JoinView"],
  productions: ["./ui/production-view.js", "ProductionView"],
  home: ["./ui/home-view.js", "HomeView"],
  scan: ["./ui/scan-view.js", "ScanView"],
  items: ["./ui/items-view.js", "ItemsView"],
  item: ["./ui/item-view.js", "ItemView"],
  register: ["./ui/register-view.js", "RegisterView"],
  custody: ["./ui/custody-view.js", "CustodyView"],
  incidents: ["./ui/incidents-view.js", "IncidentsView"],
  "add-phone": ["./ui/enrollment-view.js", "EnrollmentView"],
  audit: ["./ui/audit-view.js", "AuditView"],
  outbox: ["./ui/outbox-view.js", "OutboxView"],
  invite: ["./ui/invite-view.js", "InviteView"],
};
const PUBLIC = new Set(["sign-in", "join"]);
// Screens of a signed-in account that has not chosen a production (or has none yet).
const NO_PRODUCTION = new Set(["productions", "invite"]);
const SNAPSHOT_REFRESH_MS = 5 * 60 * 1000;

class App {
  async start() {
    this.root = document.getElementById("view");
    this.session = await Session.load();
    this.api = new Api(() => this.session.token, { onUnauthorized: () => this.onUnauthorized() });
    this.outbox = new Outbox(() => Session.load());
    this.snapshots = new SnapshotStore(this.api);
    this.networkDown = false;
    this.statusBar = new StatusBar(this, document.getElementById("status"));
    this.updatePrompt = new UpdatePrompt(document.getElementById("update"));
    this.updatePrompt.register("/sw.js");

    window.addEventListener("hashchange", () => this.route());
    window.addEventListener("online", () => this.onOnline());
    window.addEventListener("offline", () => this.statusBar.refresh());
    navigator.serviceWorker?.addEventListener("message", (e) => {
      if (e.data?.type === "REPLAY") this.replay();
    });

    // An enrollment link opened from the phone's camera app: #enroll=<code>.
    const enroll = new URLSearchParams(location.hash.slice(1)).get("enroll");
    if (enroll) {
      this.pendingEnrollCode = enroll;
      history.replaceState(null, "", "#/join");
    }
    // An invitation link (studio admin to an account of another studio): #invite=<code>,
    // redeemed once signed in.
    const invite = new URLSearchParams(location.hash.slice(1)).get("invite");
    if (invite) {
      this.pendingInviteCode = invite;
      history.replaceState(null, "", "#/invite");
    }
    await this.route();
    this.statusBar.refresh();
    if (navigator.onLine && this.session.signedIn) this.onOnline();
    // Online all day, the snapshot would otherwise be as old as the app's start: a
    // lost answer falls back to it, and a quarantine since then would not be in it.
    setInterval(() => {
      if (navigator.onLine && this.session.signedIn && !document.hidden) this.syncSnapshot();
    }, SNAPSHOT_REFRESH_MS);
  }

  get productionId() {
    return this.session.productionId;
  }

  get verifier() {
    if (!this._verifier || this._verifier.productionId !== this.productionId) {
      this._verifier = new Verifier({
        api: this.api,
        snapshots: this.snapshots,
        outbox: this.outbox,
        productionId: this.productionId,
        onOffline: () => this.markNetwork(false),
        canVerify: () => this.session.can("verify"),
      });
    }
    return this._verifier;
  }

  /** Remember whether the last request reached the server (drives the offline banner). */
  markNetwork(ok) {
    if (this.networkDown === !ok) return;
    this.networkDown = !ok;
    this.statusBar.refresh();
  }

  get offline() {
    return !navigator.onLine || this.networkDown;
  }

  /** Run an API call; a network failure flips the banner to offline and rethrows. */
  async call(fn) {
    try {
      const result = await fn(this.api);
      this.markNetwork(true);
      return result;
    } catch (error) {
      if (error instanceof NetworkError) this.markNetwork(false);
      throw error;
    }
  }

  async onOnline() {
    this.networkDown = false;
    this.statusBar.refresh();
    await this.replay();
    await this.syncSnapshot();
  }

  async replay() {
    const result = await this.outbox.replay();
    if (result.error === "offline") this.markNetwork(false);
    this.statusBar.refresh();
    return result;
  }

  async syncSnapshot() {
    if (!this.productionId || !this.session.can("verify")) return null;
    try {
      const snap = await this.call(() => this.snapshots.sync(this.productionId));
      this.statusBar.refresh();
      document.dispatchEvent(new CustomEvent("snapshot-synced", { detail: { taken_at: snap.taken_at } }));
      return snap;
    } catch (error) {
      console.warn("snapshot sync failed", error);
      if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
        // No longer allowed to read this production (a role removed, a production
        // closed to them): its data must not go on deciding offline.
        await this.snapshots.forget(this.productionId);
        await this.refreshMe();
      }
      return null;
    }
  }

  /** Roles as the server sees them now (they decide what this phone may do offline). */
  async refreshMe() {
    try {
      const me = await this.call((api) => api.get("/api/v1/auth/me"));
      await this.session.save({ ...this.session.data, me });
    } catch (error) {
      console.warn("could not refresh roles", error);
    }
  }

  onUnauthorized() {
    if (!this.session.signedIn) return;
    this.signedOutReason = "Your sign-in has expired. Sign in again.";
    this.forgetSession().then(() => this.go("#/sign-in"));
  }

  /**
   * Forget who was signed in and the productions' data they could see. The outbox is
   * kept: each entry names its owner and is only ever sent with that owner's token
   * (outbox.js), so what was done offline is recorded once they sign in again.
   */
  async forgetSession() {
    await this.session.clear();
    this._verifier = null;
    await this.snapshots.forgetAll();
    this.statusBar.refresh();
  }

  /** Finish a sign-in or enrollment: who am I, which production, first sync. */
  async signedIn(data) {
    await this.session.save(data);
    const me = await this.call((api) => api.get("/api/v1/auth/me"));
    const productions = Object.keys(me.production_roles ?? {});
    await this.session.save({
      ...data,
      me,
      production_id: data.production_id ?? (productions.length === 1 ? productions[0] : null),
    });
    // What this person left waiting on this phone goes now (outbox.js sends each
    // entry only with its maker's token).
    this.replay().catch((error) => console.warn("outbox replay failed", error));
    if (this.pendingInviteCode && data.kind === "user") return this.go("#/invite");
    if (!this.session.productionId) return this.go("#/productions");
    await this.chooseProduction(this.session.productionId);
  }

  async chooseProduction(productionId, name = null) {
    let productionName = name;
    if (!productionName) {
      try {
        productionName = (await this.call((api) => api.get(`/api/v1/productions/${productionId}`))).name;
      } catch {
        productionName = null;
      }
    }
    await this.session.save({ ...this.session.data, production_id: productionId, production_name: productionName });
    this._verifier = null;
    await this.syncSnapshot();
    this.go("#/home");
  }

  async signOut() {
    // What this person did offline goes before their token does: no one else's token
    // may send it (outbox.js), and they may not sign in on this phone again.
    if (navigator.onLine) await this.replay().catch(() => null);
    try {
      await this.api.post("/api/v1/auth/sign-out");
    } catch {
      // Signing out offline still forgets the token on this phone.
    }
    await this.forgetSession();
    this.go("#/sign-in");
  }

  go(hash) {
    if (location.hash === hash) this.route();
    else location.hash = hash;
  }

  async show(view) {
    this.view?.destroy?.();
    this.view = view;
    this.root.scrollTop = 0;
    window.scrollTo(0, 0);
    await view.render(this.root);
    this.statusBar.refresh();
  }

  showVerdict(result, options = {}) {
    // A verdict has no route of its own (it cannot be rebuilt from a URL), but moving the
    // hash off the scan route makes any link back to #/scan a real navigation.
    history.replaceState(null, "", "#/verdict");
    return this.show(new VerdictView(this, result, options));
  }

  async route() {
    const [name = "home", ...args] = location.hash.replace(/^#\/?/, "").split("/");
    const routeName = ROUTES[name] ? name : "home";
    document.getElementById("bottombar").hidden = !this.session.signedIn;
    if (!this.session.signedIn && !PUBLIC.has(routeName)) {
      return this.go("#/sign-in");
    }
    if (this.session.signedIn && !this.productionId && !PUBLIC.has(routeName) && !NO_PRODUCTION.has(routeName)) {
      return this.go("#/productions");
    }
    document.getElementById("production-name").textContent = this.session.data?.production_name ?? "";
    const [path, exported] = ROUTES[routeName];
    try {
      const module = await import(path);
      await this.show(new module[exported](this, ...args.map(decodeURIComponent)));
    } catch (error) {
      console.error("route failed", error);
      mount(this.root, notice(`This screen could not be opened: ${error.message}`, "error"));
    }
  }
}

export const app = new App();
window.propcheck = app; // for the browser tests and for debugging on a phone
app.start();
