// Survivor accounts and keys (§9): usernames, Argon2id-derived auth and wrap keys, the
// recovery key and its display form, the data key's two wrappings and the key bundle.
import { ascii, checkBytes, concat, ctEqual, defaultRng, draw, readU32, u32, utf8 } from './bytes.js';
import { DecryptionError, EncodingError, InputError, VerificationError, VersionError } from './errors.js';
import { aeadOpen, aeadSeal, argon2id, hkdfSha512, sha256, AEAD_OVERHEAD } from './primitives.js';
import { ADJECTIVES, NOUNS } from './words.js';

export const BUNDLE_VERSION = 1;
export const DATA_KEY_BYTES = 32;
export const AUTH_KEY_BYTES = 32;
export const RECOVERY_KEY_BYTES = 32;
export const MASTER_KEY_BYTES = 64;
export const KEY_CHECK_BYTES = 16;
export const SALT_BYTES = 16;
export const WRAPPED_KEY_BYTES = AEAD_OVERHEAD + DATA_KEY_BYTES;
export const MIN_PASSPHRASE_CHARS = 10;
export const MAX_PASSPHRASE_CHARS = 1024;
export const ARGON2_DEFAULT = Object.freeze({ timeCost: 3, memoryKib: 64 * 1024 });
export const ARGON2_FLOOR = Object.freeze({ timeCost: 2, memoryKib: 19 * 1024 });

const AUTH_KEY_INFO = 'notalone/v1/auth-key|';
const WRAP_KEY_INFO = 'notalone/v1/wrap-key|';
const RECOVERY_AUTH_KEY_INFO = 'notalone/v1/recovery-auth-key|';
const RECOVERY_WRAP_KEY_INFO = 'notalone/v1/recovery-wrap-key|';
const DATA_KEY_CHECK_INFO = ascii('notalone/v1/data-key-check');
const WRAPPED_KEY_AD = 'notalone/v1/wrapped-data-key|';
const RECOVERY_CHECKSUM_PREFIX = ascii('notalone/v1/recovery-key-check');
const PASSPHRASE_WRAPPER = 'passphrase';
const RECOVERY_WRAPPER = 'recovery';

// ------------------------------------------------------------------ usernames

const USERNAME_RE = /^[a-z]{3,8}-[a-z]{3,8}-[0-9]{4}$/;
const USERNAME_SEPARATORS = /[\s_\-\u2010-\u2015\u2212]+/u;
const USERNAME_MESSAGE =
  'a username looks like quiet-heron-0412: two words of 3 to 8 lower-case letters and four digits, joined by dashes';

export function generateUsername(rng = defaultRng) {
  const adjective = ADJECTIVES[uniformBelow(ADJECTIVES.length, rng)];
  const noun = NOUNS[uniformBelow(NOUNS.length, rng)];
  const number = uniformBelow(10000, rng);
  return `${adjective}-${noun}-${String(number).padStart(4, '0')}`;
}

/** What a survivor typed at login → the canonical username, or InputError. */
export function normalizeUsername(text) {
  if (typeof text !== 'string') throw new InputError('a username is text');
  // Python's str.strip() and \s cover the same White_Space set as JS's trim()/\s for
  // the characters that matter here; a mismatch could only refuse, never change a name.
  let candidate = text.trim().split(USERNAME_SEPARATORS).filter(Boolean).join('-');
  if (/^[\x00-\x7f]*$/.test(candidate)) candidate = candidate.toLowerCase();
  checkUsername(candidate);
  return candidate;
}

export function checkUsername(username) {
  if (typeof username !== 'string' || !USERNAME_RE.test(username)) {
    throw new InputError(USERNAME_MESSAGE, { code: 'username_format' });
  }
}

function uniformBelow(n, rng) {
  const limit = 2 ** 32 - (2 ** 32 % n);
  for (;;) {
    const x = readU32(draw(rng, 4), 0);
    if (x < limit) return x % n;
  }
}

// ------------------------------------------------------------------ passphrases and keys

/** NFC, then UTF-8; length in code points after NFC; the minimum only for a new one. */
export function passphraseBytes(passphrase, { isNew }) {
  if (typeof passphrase !== 'string') throw new InputError('a passphrase is text');
  const normalized = passphrase.normalize('NFC');
  const length = [...normalized].length;
  if (length === 0) throw new InputError('the passphrase is empty', { code: 'passphrase_empty' });
  if (length > MAX_PASSPHRASE_CHARS) {
    throw new InputError(`a passphrase has at most ${MAX_PASSPHRASE_CHARS} characters`, { code: 'passphrase_too_long' });
  }
  if (isNew && length < MIN_PASSPHRASE_CHARS) {
    throw new InputError(
      `the passphrase is too short: use at least ${MIN_PASSPHRASE_CHARS} characters, for example four unrelated words`,
      { code: 'passphrase_too_short' },
    );
  }
  try {
    return utf8(normalized);
  } catch {
    throw new InputError('the passphrase contains an unpaired surrogate character', { code: 'passphrase_invalid' });
  }
}

export function checkParams(params, floor = ARGON2_FLOOR) {
  const { timeCost, memoryKib } = params ?? {};
  if (!Number.isInteger(timeCost) || !Number.isInteger(memoryKib) || timeCost > 0xffffffff || memoryKib > 0xffffffff) {
    throw new EncodingError('Argon2id time_cost and memory_kib must be 32-bit integers');
  }
  if (timeCost < floor.timeCost || memoryKib < floor.memoryKib) {
    throw new InputError(
      `Argon2id parameters t=${timeCost}, m=${memoryKib} KiB are below this client's minimum t=${floor.timeCost}, m=${floor.memoryKib} KiB; refusing to derive a key that would be cheap to guess passphrases against`,
      { code: 'argon2_below_floor' },
    );
  }
}

async function derivePassphraseKeysRaw(username, secret, salt, params) {
  const master = await argon2id(secret, salt, params, MASTER_KEY_BYTES);
  try {
    return {
      authKey: hkdfSha512(master, ascii(AUTH_KEY_INFO + username), AUTH_KEY_BYTES),
      wrapKey: hkdfSha512(master, ascii(WRAP_KEY_INFO + username), 32),
    };
  } finally {
    master.fill(0);
  }
}

/** The auth and wrap keys for login, from the salt and parameters the server gave. */
export async function derivePassphraseKeys(username, passphrase, salt, params, { floor = ARGON2_FLOOR } = {}) {
  checkUsername(username);
  const secret = passphraseBytes(passphrase, { isNew: false });
  checkBytes(salt, SALT_BYTES, 'the salt');
  checkParams(params, floor);
  return derivePassphraseKeysRaw(username, secret, salt, params);
}

export function deriveRecoveryKeysRaw(username, recoveryKey) {
  checkUsername(username);
  checkBytes(recoveryKey, RECOVERY_KEY_BYTES, 'a recovery key');
  return {
    authKey: hkdfSha512(recoveryKey, ascii(RECOVERY_AUTH_KEY_INFO + username), AUTH_KEY_BYTES),
    wrapKey: hkdfSha512(recoveryKey, ascii(RECOVERY_WRAP_KEY_INFO + username), 32),
  };
}

export function deriveRecoveryKeys(username, recoveryKeyText) {
  return deriveRecoveryKeysRaw(username, parseRecoveryKey(recoveryKeyText));
}

export function keyCheck(dataKey) {
  return hkdfSha512(dataKey, DATA_KEY_CHECK_INFO, KEY_CHECK_BYTES);
}

function wrapAd(wrapper, username) {
  return ascii(`${WRAPPED_KEY_AD}${wrapper}|${username}`);
}

// ------------------------------------------------------------------ the bundle

/** Parse the v1 bundle bytes (§9); VersionError / EncodingError. */
export function parseBundle(data) {
  if (!(data instanceof Uint8Array) || data.length < 2) throw new EncodingError('an account key bundle is at least 2 bytes');
  if (data[0] !== BUNDLE_VERSION) {
    throw new VersionError(`unknown account key bundle version ${data[0]}; this version reads ${BUNDLE_VERSION}`);
  }
  const nameLen = data[1];
  const expected = 2 + nameLen + 8 + SALT_BYTES + KEY_CHECK_BYTES + 2 * WRAPPED_KEY_BYTES;
  if (data.length !== expected) {
    throw new EncodingError(`an account key bundle with a ${nameLen}-byte username is ${expected} bytes`);
  }
  let o = 2 + nameLen;
  const nameBytes = data.subarray(2, o);
  if (nameBytes.some((b) => b > 0x7f)) throw new EncodingError("the bundle's username is not ASCII");
  const username = String.fromCharCode(...nameBytes);
  try {
    checkUsername(username);
  } catch {
    throw new EncodingError("the bundle's username is not a canonical username");
  }
  const params = { timeCost: readU32(data, o), memoryKib: readU32(data, o + 4) };
  o += 8;
  const take = (n) => data.slice(o, (o += n));
  return {
    username,
    params,
    salt: take(SALT_BYTES),
    keyCheck: take(KEY_CHECK_BYTES),
    wrappedByPassphrase: take(WRAPPED_KEY_BYTES),
    wrappedByRecovery: take(WRAPPED_KEY_BYTES),
  };
}

export function bundleToBytes(b) {
  checkUsername(b.username);
  checkBytes(b.salt, SALT_BYTES, 'salt');
  checkBytes(b.keyCheck, KEY_CHECK_BYTES, 'key check');
  checkBytes(b.wrappedByPassphrase, WRAPPED_KEY_BYTES, 'passphrase-wrapped key');
  checkBytes(b.wrappedByRecovery, WRAPPED_KEY_BYTES, 'recovery-wrapped key');
  return concat(
    Uint8Array.of(BUNDLE_VERSION, b.username.length),
    ascii(b.username),
    u32(b.params.timeCost),
    u32(b.params.memoryKib),
    b.salt,
    b.keyCheck,
    b.wrappedByPassphrase,
    b.wrappedByRecovery,
  );
}

// ------------------------------------------------------------------ recipes

/**
 * A new account's keys. Draw order (for vectors): salt (16), data key (32), recovery
 * key (32), passphrase-wrap nonce (24), recovery-wrap nonce (24).
 */
export async function createAccount(username, passphrase, params = ARGON2_DEFAULT, { floor = ARGON2_FLOOR, rng = defaultRng } = {}) {
  checkUsername(username);
  const secret = passphraseBytes(passphrase, { isNew: true });
  checkParams(params, floor);
  const salt = draw(rng, SALT_BYTES);
  const dataKey = draw(rng, DATA_KEY_BYTES);
  const recoveryKey = draw(rng, RECOVERY_KEY_BYTES);
  const pk = await derivePassphraseKeysRaw(username, secret, salt, params);
  const rk = deriveRecoveryKeysRaw(username, recoveryKey);
  const bundle = {
    username,
    params: { timeCost: params.timeCost, memoryKib: params.memoryKib },
    salt,
    keyCheck: keyCheck(dataKey),
    wrappedByPassphrase: aeadSeal(pk.wrapKey, dataKey, wrapAd(PASSPHRASE_WRAPPER, username), { nonce: draw(rng, 24) }),
    wrappedByRecovery: aeadSeal(rk.wrapKey, dataKey, wrapAd(RECOVERY_WRAPPER, username), { nonce: draw(rng, 24) }),
  };
  return {
    bundle,
    authKey: pk.authKey,
    recoveryAuthKey: rk.authKey,
    recoveryKey: formatRecoveryKey(recoveryKey),
    dataKey,
  };
}

/** Open the data key with the passphrase keys (already derived for login). */
export function unlockWithPassphraseKeys(bundle, keys) {
  let dataKey;
  try {
    dataKey = aeadOpen(keys.wrapKey, bundle.wrappedByPassphrase, wrapAd(PASSPHRASE_WRAPPER, bundle.username));
  } catch (e) {
    if (e instanceof DecryptionError) throw new DecryptionError('wrong passphrase for this account', { code: 'wrong_passphrase' });
    throw e;
  }
  return checked(bundle, dataKey);
}

export async function unlockWithPassphrase(bundle, passphrase, { floor = ARGON2_FLOOR } = {}) {
  const keys = await derivePassphraseKeys(bundle.username, passphrase, bundle.salt, bundle.params, { floor });
  return unlockWithPassphraseKeys(bundle, keys);
}

export function unlockWithRecovery(bundle, recoveryKeyText) {
  const keys = deriveRecoveryKeys(bundle.username, recoveryKeyText);
  let dataKey;
  try {
    dataKey = aeadOpen(keys.wrapKey, bundle.wrappedByRecovery, wrapAd(RECOVERY_WRAPPER, bundle.username));
  } catch (e) {
    if (e instanceof DecryptionError) throw new DecryptionError('wrong recovery key for this account', { code: 'wrong_recovery_key' });
    throw e;
  }
  return checked(bundle, dataKey);
}

/** Rewrap the same data key under a new passphrase: salt (16), then nonce (24). */
export async function changePassphrase(bundle, dataKey, newPassphrase, params, { floor = ARGON2_FLOOR, rng = defaultRng } = {}) {
  checkBelongs(bundle, dataKey);
  const secret = passphraseBytes(newPassphrase, { isNew: true });
  checkParams(params, floor);
  const salt = draw(rng, SALT_BYTES);
  const keys = await derivePassphraseKeysRaw(bundle.username, secret, salt, params);
  const wrapped = aeadSeal(keys.wrapKey, dataKey, wrapAd(PASSPHRASE_WRAPPER, bundle.username), { nonce: draw(rng, 24) });
  return {
    bundle: { ...bundle, params: { timeCost: params.timeCost, memoryKib: params.memoryKib }, salt, wrappedByPassphrase: wrapped },
    authKey: keys.authKey,
  };
}

/** Rewrap under a fresh recovery key: key (32), then nonce (24). */
export function rotateRecoveryKey(bundle, dataKey, { rng = defaultRng } = {}) {
  checkBelongs(bundle, dataKey);
  const recoveryKey = draw(rng, RECOVERY_KEY_BYTES);
  const keys = deriveRecoveryKeysRaw(bundle.username, recoveryKey);
  const wrapped = aeadSeal(keys.wrapKey, dataKey, wrapAd(RECOVERY_WRAPPER, bundle.username), { nonce: draw(rng, 24) });
  return { bundle: { ...bundle, wrappedByRecovery: wrapped }, recoveryAuthKey: keys.authKey, recoveryKey: formatRecoveryKey(recoveryKey) };
}

function checked(bundle, dataKey) {
  if (!ctEqual(keyCheck(dataKey), bundle.keyCheck)) {
    throw new VerificationError("the account's key check does not match; its bundle was altered");
  }
  return dataKey;
}

function checkBelongs(bundle, dataKey) {
  checkBytes(dataKey, DATA_KEY_BYTES, 'a data key');
  if (!ctEqual(keyCheck(dataKey), bundle.keyCheck)) throw new VerificationError('this data key does not belong to this account');
}

// ------------------------------------------------------------------ recovery key display

export const CROCKFORD_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CHECKSUM_BYTES = 3;
const KEY_CHARS = ((RECOVERY_KEY_BYTES + CHECKSUM_BYTES) * 8) / 5;
const GROUP_CHARS = 4;
const GROUPS = KEY_CHARS / GROUP_CHARS;
const CROCKFORD_VALUES = new Map([...CROCKFORD_ALPHABET].map((c, i) => [c, i]).concat([['O', 0], ['I', 1], ['L', 1]]));
const IGNORED = /^[\s\-\u2010-\u2015\u2212]$/u;

function recoveryChecksum(key) {
  return sha256(concat(RECOVERY_CHECKSUM_PREFIX, key)).slice(0, CHECKSUM_BYTES);
}

/** 32 bytes → 14 groups of 4 Crockford base32 characters (key ‖ 3-byte checksum). */
export function formatRecoveryKey(key) {
  checkBytes(key, RECOVERY_KEY_BYTES, 'recovery key');
  let value = 0n;
  for (const b of concat(key, recoveryChecksum(key))) value = (value << 8n) | BigInt(b);
  let text = '';
  for (let i = KEY_CHARS - 1; i >= 0; i--) text += CROCKFORD_ALPHABET[Number((value >> BigInt(5 * i)) & 31n)];
  return text.match(/.{4}/g).join('-');
}

/** What the survivor typed → the 32-byte key, or EncodingError saying what to fix. */
export function parseRecoveryKey(text) {
  if (typeof text !== 'string') throw new EncodingError('a recovery key is text');
  const values = [];
  let position = 0;
  // Python enumerates code points of the NFKC text; iterate code points likewise.
  for (const char of text.normalize('NFKC')) {
    position += 1;
    if (IGNORED.test(char)) continue;
    const value = CROCKFORD_VALUES.get(char.toUpperCase());
    if (value === undefined) {
      throw new EncodingError(
        `character ${position} of the recovery key is not one a recovery key uses (digits and letters except U); check it against what you wrote down`,
        { code: 'recovery_key_character' },
      );
    }
    values.push(value);
  }
  if (values.length !== KEY_CHARS) {
    throw new EncodingError(
      `a recovery key has ${KEY_CHARS} letters and digits (${GROUPS} groups of ${GROUP_CHARS}); this one has ${values.length}`,
      { code: 'recovery_key_length' },
    );
  }
  const key = keyIfValid(values);
  if (key) return key;
  const groups = groupsOfLikelyTypo(values);
  if (groups.size === 1) {
    const [group] = groups;
    throw new EncodingError(
      `the recovery key has a typo, probably in group ${group + 1} of ${GROUPS}; check that group against what you wrote down`,
      { code: 'recovery_key_typo' },
    );
  }
  throw new EncodingError(
    'the recovery key has a typo: its check characters do not match; compare each group with what you wrote down',
    { code: 'recovery_key_typo' },
  );
}

function keyIfValid(values) {
  let value = 0n;
  for (const v of values) value = (value << 5n) | BigInt(v);
  const raw = new Uint8Array(RECOVERY_KEY_BYTES + CHECKSUM_BYTES);
  for (let i = raw.length - 1; i >= 0; i--) {
    raw[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  const key = raw.slice(0, RECOVERY_KEY_BYTES);
  return ctEqual(raw.subarray(RECOVERY_KEY_BYTES), recoveryChecksum(key)) ? key : null;
}

function groupsOfLikelyTypo(values) {
  const groups = new Set();
  for (let i = 0; i < KEY_CHARS; i++) {
    for (let v = 0; v < CROCKFORD_ALPHABET.length; v++) {
      if (v === values[i]) continue;
      const trial = values.slice();
      trial[i] = v;
      if (keyIfValid(trial)) groups.add(Math.floor(i / GROUP_CHARS));
    }
  }
  for (let i = 0; i < KEY_CHARS - 1; i++) {
    if (values[i] === values[i + 1]) continue;
    const trial = values.slice();
    [trial[i], trial[i + 1]] = [trial[i + 1], trial[i]];
    if (keyIfValid(trial)) {
      groups.add(Math.floor(i / GROUP_CHARS));
      groups.add(Math.floor((i + 1) / GROUP_CHARS));
    }
  }
  return groups;
}
