// Who is signed in on this phone: a bearer token and what it may do.
// Kept in IndexedDB (not localStorage) so that the service worker can replay the
// outbox with it while no page is open.

import { kv } from "./db.js";

const KEY = "session";

/**
 * A session: { token, kind: "user"|"device", expires_at, me, production_id }.
 * `me` is GET /auth/me (roles per production); a device (enrolled phone) is a scanner
 * in exactly one production.
 */
export class Session {
  constructor(data = null) {
    this.data = data;
  }

  static async load() {
    return new Session((await kv.get(KEY)) ?? null);
  }

  async save(data) {
    this.data = data;
    await kv.set(KEY, data);
  }

  async clear() {
    this.data = null;
    await kv.delete(KEY);
  }

  get token() {
    return this.data?.token ?? null;
  }

  get signedIn() {
    return Boolean(this.data?.token);
  }

  get productionId() {
    return this.data?.production_id ?? null;
  }

  /** Roles in the current production, e.g. ["prop_master"]. */
  roles(productionId = this.productionId) {
    const me = this.data?.me;
    if (!me || !productionId) return [];
    return me.production_roles?.[productionId] ?? [];
  }

  can(what, productionId = this.productionId) {
    const roles = this.roles(productionId);
    if (what === "act") return roles.includes("prop_master");
    if (what === "verify") return roles.includes("prop_master") || roles.includes("scanner");
    return roles.length > 0; // read
  }

  /**
   * Whose records this session makes: the account, or the enrolled phone. Each outbox
   * entry carries it, and is only sent with a token of the same owner.
   */
  get owner() {
    const me = this.data?.me;
    if (me?.user_id) return `user:${me.user_id}`;
    // An enrolled phone belongs to exactly one production; its name is free text.
    const productions = Object.keys(me?.production_roles ?? {});
    if (me && productions.length === 1) return `device:${productions[0]}`;
    return null;
  }

  get displayName() {
    const me = this.data?.me;
    return me?.email || me?.device_name || "this phone";
  }
}
