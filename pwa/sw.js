// The service worker: the app shell from a versioned cache (the app opens with no
// network), photos from a cache of their own (content-addressed, never stale), the API
// always from the network (verdicts are never served from a cache), and the outbox
// replayed on Background Sync.
//
// A new version installs alongside the old one and waits: the page offers "Update
// available" and the person chooses when to reload (never under their hands mid-scan).
// Activation deletes only this app's own older shell caches.
//
// Bump CACHE_VERSION whenever a file below changes. tests/pwa checks the list is complete.

import { Outbox } from "./js/outbox.js";
import { Session } from "./js/session.js";

const CACHE_VERSION = "v19";
const PREFIX = "propcheck-shell-";
const SHELL_CACHE = `${PREFIX}${CACHE_VERSION}`;
const MEDIA_CACHE = "propcheck-media";

export const SHELL = [
  "/",
  "/index.html",
  "/manifest.webmanifest",
  "/css/app.css",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/maskable-512.png",
  "/js/api.js",
  "/js/app.js",
  "/js/codes.js",
  "/js/db.js",
  "/js/feedback.js",
  "/js/outbox.js",
  "/js/photos.js",
  "/js/rules.js",
  "/js/scanner.js",
  "/js/session.js",
  "/js/snapshot.js",
  "/js/verifier.js",
  "/js/zxing.js",
  "/js/ui/audit-view.js",
  "/js/ui/charts.js",
  "/js/ui/custody-view.js",
  "/js/ui/dom.js",
  "/js/ui/enrollment-view.js",
  "/js/ui/home-view.js",
  "/js/ui/icons.js",
  "/js/ui/incidents-view.js",
  "/js/ui/item-fields.js",
  "/js/ui/item-view.js",
  "/js/ui/items-view.js",
  "/js/ui/invite-view.js",
  "/js/ui/join-view.js",
  "/js/ui/labels.js",
  "/js/ui/outbox-view.js",
  "/js/ui/photo-picker.js",
  "/js/ui/production-view.js",
  "/js/ui/qr.js",
  "/js/ui/register-view.js",
  "/js/ui/scan-view.js",
  "/js/ui/sign-in-view.js",
  "/js/ui/status-bar.js",
  "/js/ui/update-prompt.js",
  "/js/ui/verdict-view.js",
  "/vendor/uqr-0.1.3/index.mjs",
  "/vendor/zxing-wasm-3.1.4/es/reader/index.js",
  "/vendor/zxing-wasm-3.1.4/es/share.js",
  "/vendor/zxing-wasm-3.1.4/reader/zxing_reader.wasm",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      // cache: "reload" skips the HTTP cache, so a new version never stores an old file.
      await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "SKIP_WAITING") self.skipWaiting();
  if (event.data?.type === "VERSION") event.source?.postMessage({ type: "VERSION", version: CACHE_VERSION });
});

async function shell(request) {
  const cache = await caches.open(SHELL_CACHE);
  const url = new URL(request.url);
  // Every in-app page is the one index.html; routes live in the #hash.
  const key = request.mode === "navigate" ? "/index.html" : url.pathname;
  const hit = await cache.match(key);
  if (hit) return hit;
  return fetch(request);
}

async function media(request) {
  const cache = await caches.open(MEDIA_CACHE);
  // Kept by path: a blob's path is its SHA-256 and never changes, while its signed
  // query (with its expiry day) changes daily; keyed by the whole URL, every day's
  // sync would store every photo again.
  const key = new URL(request.url).pathname;
  const hit = await cache.match(key);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(key, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/schema") || url.pathname === "/health") {
    return; // the network, always
  }
  if (url.pathname.startsWith("/media/")) {
    event.respondWith(media(request));
    return;
  }
  event.respondWith(shell(request));
});

self.addEventListener("sync", (event) => {
  if (event.tag !== "outbox") return;
  event.waitUntil(
    (async () => {
      const outbox = new Outbox(() => Session.load());
      const result = await outbox.replay();
      // Rejecting asks the browser to try the sync again later.
      if (result.left > 0 && result.error) throw new Error(`outbox: ${result.error}`);
    })(),
  );
});
