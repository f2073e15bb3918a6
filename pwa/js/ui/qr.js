// A QR code as inline SVG, from the vendored uqr encoder (no network, no canvas).

import { encode } from "../../vendor/uqr-0.1.3/index.mjs";
import { svg } from "./dom.js";

/** An <svg> of `text` as a QR (error correction M, 4-module quiet zone). */
export function qrSvg(text, label) {
  const { size, data } = encode(text, { ecc: "M", border: 4 });
  let d = "";
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) if (data[y][x]) d += `M${x},${y}h1v1h-1z`;
  }
  return svg(
    "svg",
    { viewBox: `0 0 ${size} ${size}`, role: "img", "aria-label": label, "shape-rendering": "crispEdges" },
    svg("rect", { width: size, height: size, fill: "#fff" }),
    svg("path", { d, fill: "#000" }),
  );
}
