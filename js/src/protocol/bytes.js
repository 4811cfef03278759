// Byte helpers: hex, UTF-8, big-endian integers, concatenation. Pure; no Node or DOM APIs.
import { EncodingError, InputError } from './errors.js';

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

export function toHex(bytes) {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/**
 * Lower-case hex to bytes. `length` (bytes) is checked when given. The protocol writes
 * lower-case hex only, so upper case is refused like any other malformed value.
 */
export function fromHex(text, length, what = 'a value') {
  if (typeof text !== 'string' || !HEX_RE.test(text)) {
    throw new EncodingError(`${what} must be lower-case hex`);
  }
  if (length !== undefined && text.length !== 2 * length) {
    throw new EncodingError(`${what} must be ${length} bytes as lower-case hex`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string; refuses lone surrogates, which have no UTF-8 form. */
export function utf8(text) {
  if (!isWellFormed(text)) throw new InputError('the text contains an unpaired surrogate character');
  return encoder.encode(text);
}

export function ascii(text) {
  return encoder.encode(text);
}

/** Strict UTF-8 decoding; EncodingError for malformed bytes. */
export function fromUtf8(bytes, what = 'the bytes') {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new EncodingError(`${what} are not valid UTF-8`);
  }
}

export function isWellFormed(text) {
  if (typeof text.isWellFormed === 'function') return text.isWellFormed();
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

export function u8(n) {
  return Uint8Array.of(n);
}

export function u16(n) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new EncodingError('a u16 is out of range');
  return Uint8Array.of(n >>> 8, n & 0xff);
}

export function u32(n) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new EncodingError('a u32 is out of range');
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export const MAX_U64 = (1n << 64n) - 1n;

/** u64 big-endian from a BigInt or a safe integer Number. */
export function u64(value, what = 'a u64') {
  const v = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
  if (v < 0n || v > MAX_U64) throw new EncodingError(`${what} must be an integer from 0 to 2**64 - 1`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

export function readU32(bytes, offset) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, false);
}

export function readU64(bytes, offset) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, false);
}

/** Equality of public byte strings (not constant time: use only for public values). */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Equality of secret byte strings, without an early exit. JavaScript gives no timing
 * guarantee, but this avoids the data-dependent branch a plain loop would have.
 */
export function ctEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function checkBytes(value, length, what) {
  if (!(value instanceof Uint8Array) || (length !== undefined && value.length !== length)) {
    throw new EncodingError(`${what} must be ${length} bytes`);
  }
  return value;
}

/** A random source: `rng(n)` returns n bytes. The default is the platform CSPRNG. */
export function defaultRng(n) {
  const out = new Uint8Array(n);
  // getRandomValues is limited to 65536 bytes per call.
  for (let o = 0; o < n; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

export function draw(rng, n) {
  const out = rng(n);
  if (!(out instanceof Uint8Array) || out.length !== n) {
    throw new EncodingError(`the random source must return exactly ${n} bytes`);
  }
  return out;
}
