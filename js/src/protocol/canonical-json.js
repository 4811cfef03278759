// RFC 8785 (JCS) canonical JSON for the restricted values of §10.1: strings, safe
// integers, booleans, null, arrays, objects; at most 32 deep; no floats. And a strict
// parser (no duplicate keys, no floats, same limits) for decrypted data.
import { EncodingError, InputError } from './errors.js';
import { fromUtf8, isWellFormed, utf8 } from './bytes.js';

export const MAX_JSON_DEPTH = 32;
export const MAX_PLAINTEXT_BYTES = 1 << 20;

/** Canonical JSON bytes, or InputError (non-JSON values, floats, lone surrogates, > 1 MiB). */
export function canonicalJson(value) {
  const data = utf8(serialize(value, 0));
  if (data.length > MAX_PLAINTEXT_BYTES) {
    throw new InputError(
      `this is ${data.length} bytes once encoded; the limit is ${MAX_PLAINTEXT_BYTES} (1 MiB): shorten it or split it in parts`,
    );
  }
  return data;
}

function serialize(value, depth) {
  if (depth > MAX_JSON_DEPTH) throw new InputError(`JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw new InputError('the text contains an unpaired surrogate character');
    // JSON.stringify's string escapes are exactly JCS's (and Python's with ensure_ascii=False).
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new InputError('JSON integers must lie within ±(2^53 - 1); floating-point numbers are not allowed');
    }
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => serialize(v, depth + 1)).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype || (typeof value === 'object' && Object.getPrototypeOf(value) === null)) {
    // Default sort compares UTF-16 code units, which is JCS's order.
    const keys = Object.keys(value).sort();
    for (const key of keys) {
      if (!isWellFormed(key)) throw new InputError('the text contains an unpaired surrogate character');
    }
    return `{${keys.map((k) => `${JSON.stringify(k)}:${serialize(value[k], depth + 1)}`).join(',')}}`;
  }
  throw new InputError(`${typeof value} is not allowed in encrypted JSON`);
}

/**
 * Strict parse of UTF-8 JSON bytes: no duplicate keys, no floats / NaN / Infinity,
 * integers within ±(2^53 - 1), depth ≤ 32. EncodingError otherwise.
 */
export function parseJson(bytes) {
  const text = fromUtf8(bytes, 'the decrypted bytes');
  const parser = new StrictParser(text);
  const value = parser.value(0);
  parser.ws();
  if (parser.i !== text.length) throw new EncodingError('the decrypted bytes are not valid JSON');
  return value;
}

class StrictParser {
  constructor(text) {
    this.t = text;
    this.i = 0;
  }
  fail(msg = 'the decrypted bytes are not valid JSON') {
    throw new EncodingError(msg);
  }
  ws() {
    while (this.i < this.t.length && ' \t\n\r'.includes(this.t[this.i])) this.i++;
  }
  value(depth) {
    if (depth > MAX_JSON_DEPTH) this.fail(`the decrypted JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    this.ws();
    const c = this.t[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (this.t.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    return this.fail();
  }
  object(depth) {
    this.i++;
    const out = Object.create(null);
    const seen = new Set();
    this.ws();
    if (this.t[this.i] === '}') {
      this.i++;
      return { ...out };
    }
    for (;;) {
      this.ws();
      if (this.t[this.i] !== '"') this.fail();
      const key = this.string();
      if (seen.has(key)) this.fail('a JSON object repeats a key');
      seen.add(key);
      this.ws();
      if (this.t[this.i++] !== ':') this.fail();
      out[key] = this.value(depth + 1);
      this.ws();
      const c = this.t[this.i++];
      if (c === '}') break;
      if (c !== ',') this.fail();
    }
    const plain = {};
    for (const k of Object.keys(out)) Object.defineProperty(plain, k, { value: out[k], enumerable: true, writable: true, configurable: true });
    return plain;
  }
  array(depth) {
    this.i++;
    const out = [];
    this.ws();
    if (this.t[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.t[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail();
    }
  }
  string() {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/.exec(this.t.slice(this.i));
    if (!m) this.fail();
    this.i += m[0].length;
    const s = JSON.parse(m[0]);
    if (!isWellFormed(s)) this.fail('the decrypted JSON holds an unpaired surrogate');
    return s;
  }
  number() {
    const m = /^-?(?:0|[1-9][0-9]*)([.eE])?/.exec(this.t.slice(this.i));
    if (!m) this.fail();
    if (m[1]) this.fail('encrypted JSON holds no floating-point numbers');
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) this.fail('the decrypted JSON is outside this version\'s limits: integers lie within ±(2^53 - 1)');
    this.i += m[0].length;
    return n;
  }
}
