// The keyholder vault (§13.1): a counselor's or organization admin's X25519 private key
// and bearer token, sealed under a passphrase, kept in this browser and in a backup file.
//
// Design:
// - At rest (IndexedDB, backup file) a vault is JSON
//   {"format":"notalone-vault-v1","role","id","salt","argon2":{"t","m_kib","p"},"box"}
//   with box = AEAD box (§2, XChaCha20-Poly1305) under Argon2id(passphrase, salt) of
//   the JSON {token, private_key, public_key, organization_id?}, AD
//   "notalone/v1/vault|" ‖ role ‖ "|" ‖ id. The server never sees the file, the
//   passphrase or the key; the box is what makes a stolen file useless without the
//   passphrase (at the Argon2id cost survivors' accounts use).
// - Unlocked, the material lives in this tab only: sessionStorage holds it as AES-GCM
//   ciphertext under a random non-extractable WebCrypto key kept in IndexedDB, like the
//   survivor's data key (session-store.js explains why). lockVault and Quick exit wipe
//   both.
// - Parameters read from a file are checked against the same floor as accounts
//   (a crafted backup cannot make a cheap-to-guess key) and a ceiling (nor a key
//   that exhausts the browser's memory).
import { ascii, defaultRng, fromHex, fromUtf8, toHex, utf8 } from '../protocol/bytes.js';
import { DecryptionError, EncodingError, InputError } from '../protocol/errors.js';
import { ARGON2_FLOOR, checkParams, passphraseBytes } from '../protocol/accounts.js';
import { aeadOpen, aeadSeal, argon2id } from '../protocol/primitives.js';
import { indexedDbObjectStore } from './session-store.js';

export const VAULT_FORMAT = 'notalone-vault-v1';
export const VAULT_ROLES = Object.freeze(['counselor', 'org-admin']);
export const VAULT_ARGON2 = Object.freeze({ t: 3, m_kib: 64 * 1024, p: 1 });
export const VAULT_ARGON2_CEILING = Object.freeze({ t: 16, m_kib: 1024 * 1024 });
export const VAULT_SALT_BYTES = 16;
export const MAX_VAULT_FILE_CHARS = 64 * 1024;
const VAULT_AD = 'notalone/v1/vault|';
const SESSION_AD = 'notalone/v1/browser-vault-session|';
const SESSION_PREFIX = 'notalone.vault.';
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HEX_RE = /^(?:[0-9a-f]{2})+$/;
const VAULT_DB = 'notalone-vaults';
const VAULT_STORE = 'vaults';

/** IndexedDB store of vault files, keyed "role|id": {put, get, list}. */
export function indexedDbVaultStore(indexedDB = globalThis.indexedDB) {
  const { run } = indexedDbObjectStore(indexedDB, VAULT_DB, VAULT_STORE);
  return {
    put: (key, text) => run('readwrite', (s) => s.put(text, key)),
    get: (key) => run('readonly', (s) => s.get(key)),
    list: () => run('readonly', (s) => s.getAllKeys()),
  };
}

/** An in-memory vault store (tests; a browser without IndexedDB keeps nothing). */
export function memoryVaultStore() {
  const map = new Map();
  return {
    put: async (key, text) => void map.set(key, text),
    get: async (key) => map.get(key),
    list: async () => [...map.keys()],
  };
}

function checkRole(role) {
  if (!VAULT_ROLES.includes(role)) throw new InputError('a vault is for a counselor or an organization admin', { code: 'vault_role' });
  return role;
}

function checkId(id) {
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new InputError('a vault id is 1 to 64 letters, digits, dots, dashes or underscores', { code: 'vault_id' });
  return id;
}

function asBytes(value, what) {
  if (value instanceof Uint8Array && value.length === 32) return value;
  if (typeof value === 'string') return fromHex(value, 32, what);
  throw new InputError(`${what} is 32 bytes`);
}

function boxAd(role, id) {
  return ascii(`${VAULT_AD}${role}|${id}`);
}

/** A vault object from its JSON text (or an object), checked field by field. */
export function parseVault(input) {
  let v = input;
  if (typeof input === 'string') {
    if (input.length > MAX_VAULT_FILE_CHARS) throw new EncodingError('this file is too large to be a NotAlone key backup', { code: 'vault_file' });
    try {
      v = JSON.parse(input);
    } catch {
      throw new EncodingError('this file is not a NotAlone key backup', { code: 'vault_file' });
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || v.format !== VAULT_FORMAT) {
    throw new EncodingError('this file is not a NotAlone key backup', { code: 'vault_file' });
  }
  checkRole(v.role);
  checkId(v.id);
  const bad = () => new EncodingError('this key backup is damaged', { code: 'vault_file' });
  if (typeof v.salt !== 'string' || typeof v.box !== 'string' || !HEX_RE.test(v.box)) throw bad();
  fromHex(v.salt, VAULT_SALT_BYTES, 'the vault salt');
  const a = v.argon2;
  if (!a || typeof a !== 'object' || a.p !== 1) throw bad();
  checkParams({ timeCost: a.t, memoryKib: a.m_kib }, ARGON2_FLOOR);
  if (a.t > VAULT_ARGON2_CEILING.t || a.m_kib > VAULT_ARGON2_CEILING.m_kib) throw bad();
  return {
    format: VAULT_FORMAT,
    role: v.role,
    id: v.id,
    salt: v.salt,
    argon2: { t: a.t, m_kib: a.m_kib, p: 1 },
    box: v.box,
  };
}

/** "notalone-<role>-<id>.json": the name a backup is saved under. */
export function vaultFileName(vault) {
  const v = parseVault(vault);
  return `notalone-${v.role}-${v.id}.json`;
}

async function vaultKey(passphrase, vault, isNew) {
  const secret = passphraseBytes(passphrase, { isNew });
  try {
    return await argon2id(secret, fromHex(vault.salt), { timeCost: vault.argon2.t, memoryKib: vault.argon2.m_kib }, 32);
  } finally {
    secret.fill(0);
  }
}

function copy(m) {
  return { ...m, privateKey: m.privateKey.slice(), publicKey: m.publicKey.slice() };
}

function material(role, id, inner) {
  return {
    role,
    id,
    token: inner.token,
    privateKey: fromHex(inner.private_key, 32, 'the private key'),
    publicKey: fromHex(inner.public_key, 32, 'the public key'),
    organizationId: inner.organization_id ?? null,
  };
}

/**
 * The vault functions over explicit effects (so node tests can run them); index.js binds
 * them to the browser's IndexedDB and sessionStorage.
 */
export function createVaults({ vaultStore, sessionStorage, keyStore, subtle = globalThis.crypto?.subtle, rng = defaultRng, now = () => Date.now(), argon2 = VAULT_ARGON2 }) {
  const cache = new Map(); // role → unlocked material of this page

  async function remember(m) {
    await forget(m.role);
    const keyId = toHex(rng(16));
    const wrappingKey = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    await keyStore.put(keyId, { key: wrappingKey, createdAtMs: now() });
    const iv = rng(12);
    const plain = utf8(JSON.stringify(innerOf(m)));
    const sealed = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: ascii(`${SESSION_AD}${m.role}|${m.id}`) }, wrappingKey, plain));
    plain.fill(0);
    sessionStorage.setItem(SESSION_PREFIX + m.role, JSON.stringify({ role: m.role, id: m.id, keyId, wrapped: toHex(iv) + toHex(sealed) }));
    cache.set(m.role, m);
  }

  function forgetNow(role) {
    let entry = null;
    try {
      entry = JSON.parse(sessionStorage.getItem(SESSION_PREFIX + role) ?? 'null');
    } catch {
      entry = null;
    }
    sessionStorage.removeItem(SESSION_PREFIX + role);
    const m = cache.get(role);
    if (m) m.privateKey.fill(0);
    cache.delete(role);
    return typeof entry?.keyId === 'string' ? keyStore.delete(entry.keyId) : Promise.resolve();
  }

  async function forget(role) {
    await Promise.resolve(forgetNow(role)).catch(() => {});
  }

  function innerOf(m) {
    const inner = { token: m.token, private_key: toHex(m.privateKey), public_key: toHex(m.publicKey) };
    if (m.organizationId !== null && m.organizationId !== undefined) inner.organization_id = m.organizationId;
    return inner;
  }

  async function createVault({ role, id, token, privateKey, publicKey, organizationId = null, passphrase }) {
    checkRole(role);
    checkId(id);
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) throw new InputError('a vault holds a bearer token');
    if (organizationId !== null && (typeof organizationId !== 'string' || organizationId.length > 128)) throw new InputError('an organization id is text');
    const m = { role, id, token, privateKey: asBytes(privateKey, 'the private key').slice(), publicKey: asBytes(publicKey, 'the public key').slice(), organizationId };
    const vault = { format: VAULT_FORMAT, role, id, salt: toHex(rng(VAULT_SALT_BYTES)), argon2: { ...argon2 }, box: '' };
    const key = await vaultKey(passphrase, vault, true);
    const plain = utf8(JSON.stringify(innerOf(m)));
    try {
      vault.box = toHex(aeadSeal(key, plain, boxAd(role, id), { rng }));
    } finally {
      key.fill(0);
      plain.fill(0);
    }
    await vaultStore.put(`${role}|${id}`, JSON.stringify(vault));
    await remember(m);
    return vault;
  }

  async function importVault(text) {
    const vault = parseVault(text);
    await vaultStore.put(`${vault.role}|${vault.id}`, JSON.stringify(vault));
    return { role: vault.role, id: vault.id };
  }

  async function storedVaults(role) {
    checkRole(role);
    const keys = await vaultStore.list();
    return keys
      .map(String)
      .filter((k) => k.startsWith(`${role}|`))
      .sort()
      .map((k) => ({ role, id: k.slice(role.length + 1) }));
  }

  /** The stored vault of this role (with `id`, or the only one); its parsed JSON. */
  async function storedVault(role, id) {
    if (id !== undefined) {
      const text = await vaultStore.get(`${role}|${checkId(id)}`);
      if (!text) throw new InputError('this browser holds no key for that id; import your backup file', { code: 'vault_missing' });
      return parseVault(text);
    }
    const all = await storedVaults(role);
    if (all.length === 0) throw new InputError('this browser holds no key yet; import your backup file', { code: 'vault_missing' });
    if (all.length > 1) throw new InputError('this browser holds several keys; choose one', { code: 'vault_ambiguous' });
    return parseVault(await vaultStore.get(`${role}|${all[0].id}`));
  }

  async function unlockVault({ role, passphrase, vault, id }) {
    checkRole(role);
    const v = vault === undefined || vault === null ? await storedVault(role, id) : parseVault(vault);
    if (v.role !== role) throw new InputError(`this backup is not a ${role} key`, { code: 'vault_role' });
    const key = await vaultKey(passphrase, v, false);
    let inner;
    try {
      const plain = aeadOpen(key, fromHex(v.box), boxAd(v.role, v.id));
      inner = JSON.parse(fromUtf8(plain));
      plain.fill(0);
    } catch (error) {
      if (error instanceof DecryptionError) throw new DecryptionError('the passphrase does not open this key', { code: 'vault_passphrase' });
      throw new EncodingError('this key backup is damaged', { code: 'vault_file' });
    } finally {
      key.fill(0);
    }
    if (!inner || typeof inner.token !== 'string' || typeof inner.private_key !== 'string' || typeof inner.public_key !== 'string') {
      throw new EncodingError('this key backup is damaged', { code: 'vault_file' });
    }
    const m = material(v.role, v.id, inner);
    await remember(m);
    return copy(m);
  }

  /** This tab's unlocked material for the role, or null (async: it may unwrap). */
  async function currentKeyholder(role) {
    checkRole(role);
    if (cache.has(role)) return copy(cache.get(role));
    let entry;
    try {
      entry = JSON.parse(sessionStorage.getItem(SESSION_PREFIX + role) ?? 'null');
    } catch {
      entry = null;
    }
    if (!entry || entry.role !== role || typeof entry.keyId !== 'string' || typeof entry.wrapped !== 'string') return null;
    const stored = await keyStore.get(entry.keyId);
    if (!stored?.key) return null;
    try {
      const bytes = fromHex(entry.wrapped);
      const plain = new Uint8Array(
        await subtle.decrypt({ name: 'AES-GCM', iv: bytes.slice(0, 12), additionalData: ascii(`${SESSION_AD}${role}|${entry.id}`) }, stored.key, bytes.slice(12)),
      );
      const m = material(role, entry.id, JSON.parse(fromUtf8(plain)));
      plain.fill(0);
      cache.set(role, m);
      return copy(m);
    } catch {
      return null;
    }
  }

  async function lockVault(role) {
    checkRole(role);
    await forget(role);
  }

  /** Synchronous wipe of every role's session (Quick exit); key deletions follow. */
  function lockAllNow() {
    return Promise.all(VAULT_ROLES.map((r) => forgetNow(r))).catch(() => {});
  }

  return { createVault, unlockVault, importVault, storedVaults, currentKeyholder, lockVault, lockAllNow, vaultFileName };
}
