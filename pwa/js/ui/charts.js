// Small inline-SVG charts drawn from data (no library). Each chart carries a text
// summary for screen readers; colours come with labels and patterns of position, so
// the numbers never depend on colour alone.

import { h, svg } from "./dom.js";

export const COLORS = { CLEARED: "#0a5c2b", STOP: "#a50016", active: "#0a5c2b", quarantined: "#9a3412", missing: "#7c2d12", retired: "#4b5563" };

/** Stacked columns per day: days = [{label, values: {CLEARED: n, STOP: n}}]. */
export function stackedColumns(days, keys, title) {
  const W = 340;
  const H = 170;
  const top = 16;
  const bottom = 26;
  const max = Math.max(1, ...days.map((d) => keys.reduce((s, k) => s + (d.values[k] ?? 0), 0)));
  const bw = (W - 30) / Math.max(1, days.length);
  const scale = (H - top - bottom) / max;
  const parts = [];
  days.forEach((d, i) => {
    let y = H - bottom;
    const x = 30 + i * bw + bw * 0.15;
    for (const k of keys) {
      const v = d.values[k] ?? 0;
      if (!v) continue;
      const hgt = v * scale;
      y -= hgt;
      parts.push(svg("rect", { x, y, width: bw * 0.7, height: hgt, fill: COLORS[k] ?? "#1d4ed8" }));
    }
    const total = keys.reduce((s, k) => s + (d.values[k] ?? 0), 0);
    if (total) parts.push(svg("text", { x: x + bw * 0.35, y: y - 3, "text-anchor": "middle" }, String(total)));
    parts.push(svg("text", { x: x + bw * 0.35, y: H - 8, "text-anchor": "middle" }, d.label));
  });
  parts.push(svg("line", { x1: 28, y1: H - bottom, x2: W, y2: H - bottom, stroke: "#111827", "stroke-width": 1.5 }));
  parts.push(svg("text", { x: 2, y: top + 4 }, String(max)));
  const summary = days.map((d) => `${d.label}: ${keys.map((k) => `${d.values[k] ?? 0} ${k}`).join(", ")}`).join("; ");
  return h(
    "figure",
    { class: "card" },
    h("figcaption", {}, h("h2", {}, title)),
    svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${title}. ${summary}` }, ...parts),
    legend(keys),
  );
}

/** Horizontal bars: rows = [{label, value, key}]. */
export function bars(rows, title) {
  const W = 340;
  const row = 34;
  const H = rows.length * row + 6;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const parts = rows.flatMap((r, i) => {
    const y = i * row + 4;
    const w = ((W - 150) * r.value) / max;
    return [
      svg("text", { x: 0, y: y + 20 }, r.label),
      svg("rect", { x: 110, y: y + 4, width: Math.max(2, w), height: row - 12, fill: COLORS[r.key] ?? "#1d4ed8" }),
      svg("text", { x: 116 + w, y: y + 20 }, String(r.value)),
    ];
  });
  const summary = rows.map((r) => `${r.label} ${r.value}`).join(", ");
  return h(
    "figure",
    { class: "card" },
    h("figcaption", {}, h("h2", {}, title)),
    svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${title}: ${summary}` }, ...parts),
  );
}

function legend(keys) {
  return h("p", { class: "legend" }, keys.map((k) => h("span", {}, h("span", { class: "swatch", style: `background:${COLORS[k]}`, "aria-hidden": "true" }), k)));
}
