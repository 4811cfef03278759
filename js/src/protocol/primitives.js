// Thin wrappers over the audited libraries: HKDF-SHA-512, SHA-2, the AEAD box (§2),
// HPKE (§2) and Argon2id. No primitive is written here; only the framing of §2.
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { argon2id as argon2idWasm } from 'hash-wasm';
import { concat, checkBytes, defaultRng, draw } from './bytes.js';
import { DecryptionError, EncodingError, VersionError } from './errors.js';

export { sha256, sha512 };

export function hmacSha256(key, message) {
  return hmac(sha256, key, message);
}

/** HKDF-SHA-512 with an empty salt (RFC 5869's string of zeros), extract then expand. */
export function hkdfSha512(ikm, info, length) {
  return hkdf(sha512, ikm, undefined, info, length);
}

// ------------------------------------------------------------------ AEAD box (§2)

export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 24;
export const AEAD_VERSION = 0x01;
export const AEAD_OVERHEAD = 1 + AEAD_NONCE_BYTES + 16;

/** 0x01 ‖ nonce ‖ XChaCha20-Poly1305(key, nonce, plaintext, ad' = 0x01 ‖ ad). */
export function aeadSeal(key, plaintext, ad, { nonce, rng = defaultRng } = {}) {
  checkBytes(key, AEAD_KEY_BYTES, 'an AEAD key');
  const n = nonce === undefined ? draw(rng, AEAD_NONCE_BYTES) : checkBytes(nonce, AEAD_NONCE_BYTES, 'an AEAD nonce');
  const version = Uint8Array.of(AEAD_VERSION);
  const sealed = xchacha20poly1305(key, n, concat(version, ad)).encrypt(plaintext);
  return concat(version, n, sealed);
}

export function aeadOpen(key, box, ad) {
  checkBytes(key, AEAD_KEY_BYTES, 'an AEAD key');
  if (!(box instanceof Uint8Array) || box.length < AEAD_OVERHEAD) {
    throw new EncodingError(`a sealed box is at least ${AEAD_OVERHEAD} bytes`);
  }
  if (box[0] !== AEAD_VERSION) throw new VersionError('unknown sealed box version; this version reads 0x01');
  const nonce = box.subarray(1, 1 + AEAD_NONCE_BYTES);
  try {
    return xchacha20poly1305(key, nonce, concat(box.subarray(0, 1), ad)).decrypt(box.subarray(1 + AEAD_NONCE_BYTES));
  } catch {
    throw new DecryptionError('the sealed box does not open with this key and context');
  }
}

// ------------------------------------------------------------------ HPKE (§2)

export const HPKE_OVERHEAD = 48;
export const X25519_KEY_BYTES = 32;

let suite;
function hpkeSuite() {
  // Base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, as the
  // Python side's `cryptography` HPKE uses.
  suite ??= new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Chacha20Poly1305(),
  });
  return suite;
}

/** HPKE.Seal(pk, info, plaintext) with an empty AAD: enc (32) ‖ ciphertext. */
export async function hpkeSeal(publicKey, plaintext, info) {
  checkBytes(publicKey, X25519_KEY_BYTES, 'a counselor public key');
  const s = hpkeSuite();
  let recipientPublicKey;
  try {
    recipientPublicKey = await s.kem.deserializePublicKey(publicKey);
  } catch {
    throw new EncodingError('the counselor public key is not a valid X25519 key');
  }
  const { ct, enc } = await s.seal({ recipientPublicKey, info }, plaintext);
  return concat(new Uint8Array(enc), new Uint8Array(ct));
}

/** HPKE.Open for a counselor (used by the vector checks to open `inner`); `aad` only for RFC vectors. */
export async function hpkeOpen(privateKey, sealed, info, aad = new Uint8Array(0)) {
  checkBytes(privateKey, X25519_KEY_BYTES, 'an X25519 private key');
  if (!(sealed instanceof Uint8Array) || sealed.length < HPKE_OVERHEAD) {
    throw new EncodingError(`an HPKE ciphertext is at least ${HPKE_OVERHEAD} bytes`);
  }
  const s = hpkeSuite();
  try {
    const recipientKey = await s.kem.deserializePrivateKey(privateKey);
    const pt = await s.open({ recipientKey, enc: sealed.slice(0, 32), info }, sealed.slice(32), aad);
    return new Uint8Array(pt);
  } catch {
    throw new DecryptionError('the package does not open with this key');
  }
}

// ------------------------------------------------------------------ Argon2id (§9)

/** Argon2id with p = 1 (the only parallelism both implementations agree on). */
export async function argon2id(password, salt, { timeCost, memoryKib }, length) {
  const out = await argon2idWasm({
    password,
    salt,
    parallelism: 1,
    iterations: timeCost,
    memorySize: memoryKib,
    hashLength: length,
    outputType: 'binary',
  });
  return new Uint8Array(out);
}
