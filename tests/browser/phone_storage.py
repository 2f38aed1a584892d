"""What a browser keeps for the journal, read from where it would be: the Cache Storage the service worker
fills, and IndexedDB (the offline queue). Binary values (the queue's ciphertext) come back as base64, so a test can
search everything kept for a word and find it only if it is really there in clear text."""

from __future__ import annotations

import json

# Every cache, every entry, with its body (TESTING.md's recipe).
CACHE_CONTENTS = """async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      out.push([name, request.url, await (await cache.match(request)).text()]);
    }
  }
  return out;
}"""

# Every IndexedDB database, store and record, with ArrayBuffers and typed arrays as base64.
INDEXEDDB_CONTENTS = """async () => {
  const plain = (value) => {
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      const bytes = value instanceof ArrayBuffer ? new Uint8Array(value)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      let text = ""; bytes.forEach((b) => { text += String.fromCharCode(b); });
      return { base64: btoa(text) };
    }
    if (Array.isArray(value)) { return value.map(plain); }
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
  };
  const out = [];
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((resolve, reject) => {
      const open = indexedDB.open(info.name);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    for (const store of Array.from(db.objectStoreNames)) {
      const records = await new Promise((resolve, reject) => {
        const request = db.transaction(store).objectStore(store).getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      records.forEach((record) => out.push([info.name, store, plain(record)]));
    }
    db.close();
  }
  return out;
}"""

QUEUE_RECORDS = (
    "async () => (await ("
    + INDEXEDDB_CONTENTS
    + ')()).filter(([db, store]) => db === "journal" && store === "queue").map(([db, store, record]) => record)'
)

# Put a record (as QUEUE_RECORDS gave it) back into the queue, bytes and all.
PUT_BACK_IN_QUEUE = """(record) => new Promise((resolve, reject) => {
  const bytes = (b) => Uint8Array.from(atob(b.base64), (c) => c.charCodeAt(0));
  const open = indexedDB.open("journal");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const tx = open.result.transaction("queue", "readwrite");
    tx.objectStore("queue").put({ ...record, iv: bytes(record.iv), data: bytes(record.data).buffer });
    tx.oncomplete = () => { open.result.close(); resolve(); };
    tx.onerror = () => reject(tx.error);
  };
})"""


def kept_on_the_phone(page) -> str:
    """Everything the browser keeps for this origin (caches and IndexedDB) as one text to search."""
    return json.dumps([page.evaluate(CACHE_CONTENTS), page.evaluate(INDEXEDDB_CONTENTS)])


def cache_names(page) -> list[str]:
    return page.evaluate("() => caches.keys()")


def person_caches(page) -> list[str]:
    return [name for name in cache_names(page) if name.startswith("journal-person-")]
