// The WebAssembly decoder (vendored zxing-wasm, reader build), for browsers without
// BarcodeDetector. The library would fetch its .wasm from a CDN by default; a set has no
// signal, so it is pointed at the copy this app serves (and the service worker caches).

import { prepareZXingModule, readBarcodes } from "../vendor/zxing-wasm-3.1.4/es/reader/index.js";

export const WASM_URL = new URL("../vendor/zxing-wasm-3.1.4/reader/zxing_reader.wasm", import.meta.url).href;

prepareZXingModule({
  overrides: {
    locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path),
  },
  fireImmediately: false,
});

/** Texts of the QR codes and Code 128 barcodes found in an ImageData. */
export async function readCodes(imageData) {
  const results = await readBarcodes(imageData, {
    formats: ["QRCode", "Code128"],
    tryHarder: true,
    maxNumberOfSymbols: 4,
  });
  return results.filter((r) => r.isValid).map((r) => r.text);
}
