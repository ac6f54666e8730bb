// Where the member's key lives in the browser:
// - an imported key file: sessionStorage only (gone when the tab closes);
// - a key created here: a non-extractable CryptoKey in IndexedDB (the
//   private half can sign but can never be read back, not even by this page).

import { parseKeyFile, signerFromKeyFile, generateKey } from './sign.js';

const SESSION_KEY = 'gridledger.keyfile';
const DB = 'gridledger';
const STORE = 'keys';
const BROWSER_KEY = 'browser';

let current = null; // the signer in use: {id, role, pub, key, source}
const listeners = new Set();

function changed() {
  listeners.forEach((f) => f(current));
}

/** Calls fn(signer|null) whenever the key changes; returns the unsubscribe. */
export function onKeyChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Imports a key file's text; throws a readable Error if it is not one. */
export async function importKeyFile(text) {
  const signer = await signerFromKeyFile(parseKeyFile(text));
  sessionStorage.setItem(SESSION_KEY, text);
  current = { ...signer, source: 'file' };
  changed();
  return current;
}

function db() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function idb(mode, op) {
  const d = await db();
  try {
    return await new Promise((resolve, reject) => {
      const req = op(d.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    d.close();
  }
}

/** Creates a key in this browser for participant id (to be registered by the operator). */
export async function createBrowserKey(id) {
  const { key, pub } = await generateKey();
  await idb('readwrite', (s) => s.put({ id, pub, key }, BROWSER_KEY));
  sessionStorage.removeItem(SESSION_KEY);
  current = { id, role: 'member', pub, key, source: 'browser' };
  changed();
  return current;
}

/** The key in use, restoring it from sessionStorage or IndexedDB. */
export async function currentKey() {
  if (current) return current;
  const text = sessionStorage.getItem(SESSION_KEY);
  try {
    if (text) {
      current = { ...(await signerFromKeyFile(parseKeyFile(text))), source: 'file' };
    } else if (globalThis.indexedDB) {
      const rec = await idb('readonly', (s) => s.get(BROWSER_KEY));
      if (rec?.key) current = { id: rec.id, role: 'member', pub: rec.pub, key: rec.key, source: 'browser' };
    }
  } catch {
    sessionStorage.removeItem(SESSION_KEY); // unreadable: forget it
  }
  return current;
}

/** Forgets the key: the session copy and the browser-made one. */
export async function forgetKey() {
  sessionStorage.removeItem(SESSION_KEY);
  current = null;
  try {
    await idb('readwrite', (s) => s.delete(BROWSER_KEY));
  } catch {
    /* nothing stored */
  }
  changed();
}
