// A tiny element builder: h("button", { class: "big", onclick }, "Scan").
// Text is always set as text (never innerHTML), so names and notes from the registry
// cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style") {
      // Through the CSSOM: the app's Content-Security-Policy (style-src 'self') refuses
      // style attributes, not styles set from its own script.
      el.style.cssText = value;
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An SVG element (namespaced). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  append(el, children);
  return el;
}

/** Replace the content of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** HH:MM of an ISO time, in the phone's time zone. */
export function hhmm(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

export function dateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return `${d.toLocaleDateString([], { day: "numeric", month: "short" })} ${hhmm(iso)}`;
}

export const CLASS_LABELS = Object.freeze({
  non_firing_replica: "Non-firing replica",
  non_firing_mechanical: "Non-firing, moving parts",
  deactivated: "Deactivated firearm",
  airsoft_projectile: "Airsoft (fires projectiles)",
  blank_firing: "Blank-firing",
  functional_firearm: "Functional firearm",
});

export const CLASS_HELP = Object.freeze({
  non_firing_replica: "Solid, rubber, resin, foam or cast. No action, no bore.",
  non_firing_mechanical: "Moving parts for realism; fires nothing, cannot chamber a cartridge.",
  deactivated: "Was a firearm, permanently made incapable of firing. Needs evidence.",
  airsoft_projectile: "Fires BBs or pellets. Never cleared.",
  blank_firing: "Fires blanks. Never cleared.",
  functional_firearm: "Can fire live ammunition, including reproductions. Never cleared.",
});

export const STATUS_LABELS = Object.freeze({
  active: "Active",
  quarantined: "Quarantined",
  missing: "Missing",
  retired: "Retired",
});

/** A labelled form field: <label>text<input></label> with optional help. */
export function field(label, control, help = null) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const helpEl = help ? h("p", { class: "help", id: `${id}-help` }, help) : null;
  if (helpEl) control.setAttribute("aria-describedby", helpEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, helpEl);
}

/** A status message region (polite live region). */
export function notice(text, kind = "info") {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function errorText(error) {
  if (error?.name === "NetworkError") return "No connection to the server. Try again when you have signal.";
  return error?.body?.detail || error?.message || "Something went wrong.";
}
