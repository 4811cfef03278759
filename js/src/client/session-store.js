// Tab-local session state.
//
// Design: the unlocked data key must survive navigation between the server-rendered
// pages of one tab, and nothing else. It is kept in sessionStorage (scoped to this tab
// and origin, gone when the tab closes) only as AES-GCM ciphertext, under a random
// non-extractable WebCrypto key that lives in IndexedDB under a random per-tab id.
// - Script on another origin reads neither store.
// - The key bytes of the wrapping key cannot be exported by any script, and the
//   ciphertext alone (sessionStorage is written to the profile's session store) does not
//   open without it; the two live in different stores and both are wiped on logout and
//   quick exit.
// - A closed tab loses its sessionStorage, so its leftover IndexedDB key opens nothing;
//   keys older than a day are pruned at the next login.
// What it cannot protect against is script running on this origin (it could call the
// SDK itself): the page CSP ('self' scripts only) is what guards against that.
// The AES-GCM associated data binds the ciphertext to the account, so a session entry
// cannot be swapped for another account's.
import { ascii, fromHex, toHex } from '../protocol/bytes.js';
import { DecryptionError } from '../protocol/errors.js';

const SESSION_KEY = 'notalone.session';
const DB_NAME = 'notalone';
const STORE = 'session-keys';
const MAX_KEY_AGE_MS = 24 * 3600 * 1000;

/**
 * One IndexedDB object store `storeName` in database `dbName` (version 1), opened afresh
 * for each call and closed after it: {open, run(mode, fn)}, where `fn(objectStore)` makes
 * one request and `run` resolves to its result once the transaction has completed.
 * (vault.js keeps its vault files through this too.)
 */
export function indexedDbObjectStore(indexedDB, dbName, storeName) {
  const open = () =>
    new Promise((resolve, reject) => {
      const req = indexedDB.open(dbName, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(storeName);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  const run = async (mode, fn) => {
    const db = await open();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(storeName, mode);
        const req = fn(tx.objectStore(storeName));
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  };
  return { open, run };
}

/** IndexedDB-backed store of non-extractable CryptoKeys: {put, get, delete, prune}. */
export function indexedDbKeyStore(indexedDB = globalThis.indexedDB) {
  const { open, run } = indexedDbObjectStore(indexedDB, DB_NAME, STORE);
  return {
    put: (id, value) => run('readwrite', (s) => s.put(value, id)),
    get: (id) => run('readonly', (s) => s.get(id)),
    delete: (id) => run('readwrite', (s) => s.delete(id)),
    async prune(now) {
      const db = await open();
      try {
        await new Promise((resolve, reject) => {
          const tx = db.transaction(STORE, 'readwrite');
          const cursorReq = tx.objectStore(STORE).openCursor();
          cursorReq.onsuccess = () => {
            const cursor = cursorReq.result;
            if (!cursor) return;
            if (!(cursor.value?.createdAtMs > now - MAX_KEY_AGE_MS)) cursor.delete();
            cursor.continue();
          };
          tx.oncomplete = resolve;
          tx.onerror = () => reject(tx.error);
        });
      } finally {
        db.close();
      }
    },
  };
}

/** An in-memory key store (tests, or a browser without IndexedDB: then nothing persists). */
export function memoryKeyStore() {
  const map = new Map();
  return {
    put: async (id, v) => void map.set(id, v),
    get: async (id) => map.get(id),
    delete: async (id) => void map.delete(id),
    prune: async () => {},
    size: () => map.size,
  };
}

function ad(state) {
  return ascii(`notalone/v1/browser-session|${state.username}|${state.accountId}`);
}

export function createSessionStore({ sessionStorage, keyStore, subtle = globalThis.crypto.subtle, now = () => Date.now(), rng }) {
  let cachedDataKey = null;

  function read() {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    try {
      const state = JSON.parse(raw);
      if (typeof state?.username !== 'string' || typeof state?.accountId !== 'string') return null;
      return state;
    } catch {
      return null;
    }
  }

  return {
    /** {username, accountId, keyBundle, expiresAtMs} or null; synchronous. */
    current() {
      const state = read();
      if (!state) return null;
      if (Number.isFinite(state.expiresAtMs) && state.expiresAtMs <= now()) return null;
      return state;
    },

    async save({ username, accountId, keyBundle, expiresAtMs }, dataKey) {
      await this.clear();
      const keyId = toHex(rng(16));
      const wrappingKey = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      await keyStore.prune?.(now()).catch?.(() => {});
      await keyStore.put(keyId, { key: wrappingKey, createdAtMs: now() });
      const iv = rng(12);
      const state = { username, accountId, keyBundle, expiresAtMs, keyId };
      const sealed = new Uint8Array(
        await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: ad(state) }, wrappingKey, dataKey),
      );
      state.wrappedDataKey = toHex(iv) + toHex(sealed);
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(state));
      cachedDataKey = dataKey.slice();
    },

    /** The data key of this tab's session, or null when logged out / unreadable. */
    async dataKey() {
      const state = this.current();
      if (!state) return null;
      if (cachedDataKey) return cachedDataKey;
      const entry = await keyStore.get(state.keyId);
      if (!entry?.key) return null;
      try {
        const bytes = fromHex(state.wrappedDataKey);
        const plain = await subtle.decrypt(
          { name: 'AES-GCM', iv: bytes.slice(0, 12), additionalData: ad(state) },
          entry.key,
          bytes.slice(12),
        );
        cachedDataKey = new Uint8Array(plain);
        return cachedDataKey;
      } catch {
        throw new DecryptionError('this tab’s session could not be unlocked; log in again', { code: 'session_unreadable' });
      }
    },

    /** Wipe this tab's session: the sessionStorage entry, its IndexedDB key, memory. */
    async clear() {
      const state = read();
      sessionStorage.removeItem(SESSION_KEY);
      if (cachedDataKey) cachedDataKey.fill(0);
      cachedDataKey = null;
      if (state?.keyId) await keyStore.delete(state.keyId).catch?.(() => {});
    },

    /** Synchronous part of a wipe, for quick exit (the IndexedDB delete follows). */
    clearNow() {
      const state = read();
      sessionStorage.removeItem(SESSION_KEY);
      if (cachedDataKey) cachedDataKey.fill(0);
      cachedDataKey = null;
      return state?.keyId ? keyStore.delete(state.keyId) : Promise.resolve();
    },
  };
}
