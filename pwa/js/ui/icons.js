// Inline SVG icons (decorative: the words next to them carry the meaning).
import { svg } from "./dom.js";

export function clearedIcon() {
  return svg(
    "svg",
    { viewBox: "0 0 100 100", class: "verdict-icon", "aria-hidden": "true", focusable: "false" },
    svg("circle", { cx: 50, cy: 50, r: 46, fill: "none", stroke: "currentColor", "stroke-width": 8 }),
    svg("path", { d: "M28 52 L44 68 L74 34", fill: "none", stroke: "currentColor", "stroke-width": 10, "stroke-linecap": "round", "stroke-linejoin": "round" }),
  );
}

export function stopIcon() {
  return svg(
    "svg",
    { viewBox: "0 0 100 100", class: "verdict-icon", "aria-hidden": "true", focusable: "false" },
    svg("polygon", { points: "30,4 70,4 96,30 96,70 70,96 30,96 4,70 4,30", fill: "none", stroke: "currentColor", "stroke-width": 8 }),
    svg("path", { d: "M34 34 L66 66 M66 34 L34 66", stroke: "currentColor", "stroke-width": 11, "stroke-linecap": "round" }),
  );
}

export function checkIcon() {
  return svg(
    "svg",
    { viewBox: "0 0 100 100", class: "verdict-icon", "aria-hidden": "true", focusable: "false" },
    svg("path", { d: "M50 6 L96 90 L4 90 Z", fill: "none", stroke: "currentColor", "stroke-width": 8, "stroke-linejoin": "round" }),
    svg("path", { d: "M50 36 L50 62", stroke: "currentColor", "stroke-width": 10, "stroke-linecap": "round" }),
    svg("circle", { cx: 50, cy: 76, r: 6, fill: "currentColor" }),
  );
}
