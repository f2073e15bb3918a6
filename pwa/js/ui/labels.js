// Label printing: the server renders vector PDFs (POST .../labels) and PNG previews.

import { NetworkError } from "../api.js";

/** Ask for a label PDF and open it (the phone's viewer prints it). */
export async function openPdf(app, request) {
  const response = await app.call((api) =>
    api.request("POST", `/api/v1/productions/${app.productionId}/labels`, { json: request, raw: true, timeout: 60000 }),
  );
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const opened = window.open(url, "_blank");
  if (!opened) location.assign(url);
  return blob;
}

/** An object URL of an item's label preview (PNG), or null when unavailable. */
export async function labelPreview(app, itemId) {
  try {
    const response = await app.api.request("GET", `/api/v1/items/${itemId}/label.png`, { raw: true });
    return URL.createObjectURL(await response.blob());
  } catch (error) {
    if (error instanceof NetworkError) return null;
    return null;
  }
}
