// The fields an item is described by, shared by registering an item and editing one:
// the same inputs, limits and help, read back into the API's shape the same way.

import { h, field } from "./dom.js";

// Marks are one per line (a mark may hold a comma); keywords by commas or lines.
const marksOf = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean).slice(0, 30);
const wordsOf = (text) => text.split(/\n|,/).map((s) => s.trim()).filter(Boolean).slice(0, 30);

/**
 * The inputs, ids `${prefix}-name` and so on, filled from `item` when one is given.
 * `evidence` is the deactivation-evidence fieldset (id `evidenceId`), shown by
 * showEvidence().
 */
export function itemInputs(prefix, evidenceId, item = null) {
  const ev = item?.evidence;
  const text = (name, maxlength, value) => h("input", { type: "text", maxlength, autocomplete: "off", id: `${prefix}-${name}`, value: value ?? "" });
  const f = {
    name: text("name", 200, item?.name),
    make: text("make", 200, item?.make),
    model: text("model", 200, item?.model),
    serial: text("serial", 200, item?.serial),
    marks: h("textarea", { maxlength: 6000, id: `${prefix}-marks` }, item ? item.distinctive_marks.join("\n") : ""),
    keywords: text("keywords", 2000, item?.keywords.join(", ")),
    description: h("textarea", { maxlength: 5000, id: `${prefix}-description` }, item?.description ?? ""),
    cert: h("input", { type: "text", maxlength: 200, id: `${prefix}-cert`, value: ev?.certificate_number ?? "" }),
    issuer: h("input", { type: "text", maxlength: 200, id: `${prefix}-issuer`, value: ev?.issuer ?? "" }),
    date: h("input", { type: "date", id: `${prefix}-date`, value: ev?.date ?? "" }),
  };
  f.name.required = true;
  f.evidence = h(
    "fieldset",
    { id: evidenceId },
    h("legend", {}, "Deactivation evidence (required)"),
    field("Certificate number", f.cert),
    field("Issued by", f.issuer),
    field("Date", f.date),
  );
  return f;
}

/** Show the evidence fields, and require them, only for the deactivated class. */
export function showEvidence(f, capabilityClass) {
  const deactivated = capabilityClass === "deactivated";
  f.evidence.hidden = !deactivated;
  for (const el of [f.cert, f.issuer, f.date]) el.required = deactivated;
}

/** Marks, make and model, serial, keywords, description: in this order in both forms. */
export function detailFields(f) {
  return [
    field("Distinctive marks", f.marks, "One per line: scratches, paint, stickers. People compare these before a hand-off."),
    h("div", { class: "filters" }, field("Make", f.make), field("Model", f.model)),
    field("Serial number", f.serial),
    field("Keywords", f.keywords, "Comma-separated, for search."),
    field("Description", f.description),
  ];
}

/** The fields' values as the API takes them (class and evidence apart). */
export function detailValues(f) {
  return {
    name: f.name.value.trim(),
    make: f.make.value.trim(),
    model: f.model.value.trim(),
    serial: f.serial.value.trim(),
    description: f.description.value.trim(),
    distinctive_marks: marksOf(f.marks.value),
    keywords: wordsOf(f.keywords.value),
  };
}

/** The evidence as the API takes it. */
export function evidenceValue(f) {
  return { certificate_number: f.cert.value.trim(), issuer: f.issuer.value.trim(), date: f.date.value };
}
