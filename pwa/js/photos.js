// Photos are downscaled on the phone before upload: a 12-megapixel camera photo is 4-6 MB,
// a set's uplink is slow, and the server keeps at most display size anyway.

const MAX_SIDE = 1600;
const QUALITY = 0.85;

/** A JPEG Blob at most MAX_SIDE px on its long side (EXIF orientation applied). */
export async function downscale(file, maxSide = MAX_SIDE) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * scale));
  const h = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d").drawImage(bitmap, 0, 0, w, h);
  bitmap.close?.();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
  if (!blob) throw new Error("This photo could not be read.");
  return blob;
}
