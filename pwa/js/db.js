// IndexedDB, promise-shaped: one database, three stores.
//  - kv:       small values by key (the session, the snapshot of each production, id maps)
//  - outbox:   queued requests, FIFO by an auto-increment key (see outbox.js)
// Used by the page and by the service worker (module worker), so no DOM here.

const NAME = "propcheck";
const VERSION = 1;
let opening = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The open database (opened once per realm). */
export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(NAME, VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
        if (!db.objectStoreNames.contains("outbox")) {
          db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => {
        opening = null;
        reject(req.error);
      };
    });
  }
  return opening;
}

/** Run fn(store) in one transaction; resolves with fn's result once committed. */
export async function withStore(name, mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(name, mode);
    let result;
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
    Promise.resolve(fn(tx.objectStore(name))).then(
      (value) => {
        result = value;
      },
      (error) => {
        tx.abort();
        reject(error);
      },
    );
  });
}

export const kv = {
  get: (key) => withStore("kv", "readonly", (s) => request(s.get(key))),
  set: (key, value) => withStore("kv", "readwrite", (s) => request(s.put(value, key))),
  delete: (key) => withStore("kv", "readwrite", (s) => request(s.delete(key))),
};

export { request as idbRequest };
