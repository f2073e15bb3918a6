// Incidents: report one (anyone who scans; offline it is queued), list the open ones,
// and resolve them (prop master). A resolved item stays quarantined until it passes
// an inspection.

import { h, field, notice, errorText, dateTime } from "./dom.js";
import { NetworkError } from "../api.js";
import { PhotoPicker } from "./photo-picker.js";

const KINDS = {
  mismatch: "Does not match its photos or marks",
  damaged: "Damaged",
  suspected_functional: "Might be able to fire",
  missing: "Missing",
  tag_damaged: "Tag damaged or unreadable",
  unregistered_weapon_found: "Unregistered weapon found",
  other: "Something else",
};

// Incidents the system opens itself (not offered in the report form).
const SYSTEM_KINDS = {
  possible_duplicate_tag: "Tag seen in two places at once",
  code_probing: "Many unknown codes from one phone",
  offline_clearance_disputed: "Cleared offline, but the registry says STOP",
};

export class IncidentsView {
  constructor(app, mode = "", itemId = null) {
    this.app = app;
    this.mode = mode;
    this.itemId = itemId;
  }

  get base() {
    return `/api/v1/productions/${this.app.productionId}`;
  }

  async render(root) {
    this.root = root;
    if (this.mode === "new") return this.reportForm();
    this.msg = h("div", { "aria-live": "polite" });
    this.list = h("div", {}, notice("Loading…"));
    root.replaceChildren(
      h("div", {}, h("h1", {}, "Incidents"), h("a", { class: "btn btn-primary", href: "#/incidents/new" }, "Report an incident"), this.msg, h("h2", {}, "Open"), this.list),
    );
    let open;
    try {
      open = await this.app.call((api) => api.get(`${this.base}/incidents?open=true`));
    } catch (error) {
      this.list.replaceChildren(notice(error instanceof NetworkError ? "Offline: the list needs the server. Reports made now are queued." : errorText(error), "error"));
      return;
    }
    const act = this.app.session.can("act");
    this.list.replaceChildren(
      open.length
        ? h(
            "ul",
            { class: "list" },
            open.map((i) =>
              h(
                "li",
                {},
                h("strong", {}, KINDS[i.kind] ?? SYSTEM_KINDS[i.kind] ?? i.kind),
                i.item_name ? ` — ${i.item_name}` : "",
                h("br"),
                h("span", { class: "muted" }, dateTime(i.created_at)),
                i.description ? h("p", {}, i.description) : null,
                act ? this.resolveForm(i) : null,
              ),
            ),
          )
        : notice("No open incidents.", "ok"),
    );
  }

  resolveForm(incident) {
    const notes = h("textarea", { required: true, maxlength: 5000 });
    return h(
      "form",
      { class: "card", onsubmit: (e) => (e.preventDefault(), this.resolve(incident, notes.value)) },
      field("How it was resolved", notes),
      h("button", { class: "btn", type: "submit" }, "Resolve"),
    );
  }

  async resolve(incident, notes) {
    try {
      await this.app.call((api) => api.post(`/api/v1/incidents/${incident.id}/resolve`, { notes }));
      await this.render(this.root);
      this.msg.replaceChildren(notice("Resolved. The item stays quarantined until it passes an inspection.", "ok"));
    } catch (error) {
      this.msg.replaceChildren(notice(errorText(error), "error"));
    }
  }

  reportForm() {
    const kind = h("select", { required: true }, Object.entries(KINDS).map(([v, t]) => h("option", { value: v }, t)));
    const description = h("textarea", { maxlength: 5000 });
    this.photo = new PhotoPicker("incident-photo");
    const msg = h("div", { "aria-live": "polite" });
    this.root.replaceChildren(
      h(
        "form",
        { class: "narrow", onsubmit: (e) => (e.preventDefault(), this.report(kind.value, description.value, msg)) },
        h("h1", {}, "Report an incident"),
        this.itemId ? h("p", { class: "lead" }, "About the item you came from. It is quarantined at once.") : null,
        field("What happened", kind),
        field("Details", description),
        this.photo.element,
        msg,
        (this.reportBtn = h("button", { class: "btn btn-stop", type: "submit" }, "Report")),
      ),
    );
  }

  async report(kind, description, msg) {
    // One report per press: a second tap while this one is sent would be a second
    // incident (a new client_id). Enabled again only when nothing was stored or queued.
    if (this.reportBtn.disabled) return;
    this.reportBtn.disabled = true;
    let photo;
    try {
      photo = await this.photo.ready();
    } catch (error) {
      msg.replaceChildren(notice(errorText(error), "error"));
      this.reportBtn.disabled = false;
      return;
    }
    const body = { kind, description, item_id: this.itemId, client_id: crypto.randomUUID() };
    // With a photo: one multipart request, so the report and its photo are stored
    // together or not at all (offline too: the outbox keeps the photo).
    const files = photo ? [{ field: "photo", blob: photo, name: "incident.jpg" }] : [];
    const send = (api) => {
      if (!photo) return api.post(`${this.base}/incidents`, body);
      const form = new FormData();
      form.append("incident", JSON.stringify(body));
      form.append("photo", photo, "incident.jpg");
      return api.postForm(`${this.base}/incidents`, form);
    };
    try {
      await this.app.call(send);
      msg.replaceChildren(notice("Reported.", "ok"), h("a", { class: "btn", href: "#/incidents" }, "Back to incidents"));
      this.app.syncSnapshot();
    } catch (error) {
      if (!(error instanceof NetworkError)) {
        msg.replaceChildren(notice(errorText(error), "error"));
        this.reportBtn.disabled = false;
        return;
      }
      await this.app.outbox.add({ path: `${this.base}/incidents`, json: body, jsonField: "incident", files, label: `Incident: ${KINDS[kind]}` });
      msg.replaceChildren(notice("Offline: the report is saved on this phone and will be sent when the network is back.", "ok"));
    }
  }
}
