// Records and entry copies (§10.1), sealed under HKDF subkeys of the data key.
//
//     record key     = HKDF(data key, "notalone/v1/record-key", 32)
//     record version = AEAD(record key, JCS(content), ad = "notalone/v1/record" ‖ record_id ‖ u32 version)
//     entry-copy key = HKDF(data key, "notalone/v1/entry-copy-key", 32)
//     entry copy     = AEAD(entry-copy key, JCS(entry), ad = "notalone/v1/entry-copy" ‖ entry_id)
import { ascii, checkBytes, concat, defaultRng, draw, u32 } from './bytes.js';
import { DecryptionError, EncodingError, InputError, VersionError } from './errors.js';
import { aeadOpen, aeadSeal, hkdfSha512, AEAD_OVERHEAD } from './primitives.js';
import { canonicalJson, parseJson, MAX_PLAINTEXT_BYTES } from './canonical-json.js';

export const RECORD_ID_BYTES = 16;
export const ENTRY_ID_BYTES = 16;
export const MAX_RECORD_VERSION = 0xffffffff;
export const MAX_BLOB_BYTES = MAX_PLAINTEXT_BYTES + AEAD_OVERHEAD;
export const RECORD_CONTENT_VERSION = 1;
const TEXT_FIELDS = ['who', 'what', 'when', 'where', 'text'];
const CONTENT_KEYS = ['text', 'v', 'what', 'when', 'where', 'who', 'witnesses'];

const recordKey = (dataKey) => hkdfSha512(checkBytes(dataKey, 32, 'a data key'), ascii('notalone/v1/record-key'), 32);
const entryCopyKey = (dataKey) => hkdfSha512(checkBytes(dataKey, 32, 'a data key'), ascii('notalone/v1/entry-copy-key'), 32);

export function recordAd(recordId, version) {
  checkBytes(recordId, RECORD_ID_BYTES, 'a record id');
  if (!Number.isInteger(version) || version < 1 || version > MAX_RECORD_VERSION) {
    throw new InputError(`record version numbers run from 1 to ${MAX_RECORD_VERSION}`);
  }
  return concat(ascii('notalone/v1/record'), recordId, u32(version));
}

export function entryCopyAd(entryId) {
  checkBytes(entryId, ENTRY_ID_BYTES, 'an entry id');
  return concat(ascii('notalone/v1/entry-copy'), entryId);
}

export function newRecordId(rng = defaultRng) {
  return draw(rng, RECORD_ID_BYTES);
}

/** Validate and normalize record content (all fields optional text, witnesses an array). */
export function recordContent(input = {}) {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError("a record's content is an object");
  // Silently dropping a field would lose what the survivor wrote: refuse unknown ones.
  const unknown = Object.keys(input).filter((k) => !CONTENT_KEYS.includes(k));
  if (unknown.length) throw new InputError('a record has only the fields who, what, when, where, witnesses and text', { code: 'record_fields' });
  if (input.v !== undefined && input.v !== RECORD_CONTENT_VERSION) throw new VersionError('unknown record content version');
  const { who = '', what = '', when = '', where = '', witnesses = [], text = '' } = input;
  if (!Array.isArray(witnesses)) throw new InputError("the record's witnesses must be a sequence of text");
  const content = { v: RECORD_CONTENT_VERSION, who, what, when, where, witnesses: [...witnesses], text };
  for (const name of TEXT_FIELDS) {
    if (typeof content[name] !== 'string') throw new InputError(`the record's '${name}' field must be text`);
  }
  if (!content.witnesses.every((w) => typeof w === 'string')) throw new InputError("the record's witnesses must be a sequence of text");
  return content;
}

export function encryptRecordVersion(dataKey, recordId, version, content, { nonce, rng } = {}) {
  const ad = recordAd(recordId, version);
  return aeadSeal(recordKey(dataKey), canonicalJson(recordContent(content)), ad, { nonce, rng });
}

export function decryptRecordVersion(dataKey, recordId, version, blob) {
  const ad = recordAd(recordId, version);
  checkBlob(blob);
  let plaintext;
  try {
    plaintext = aeadOpen(recordKey(dataKey), blob, ad);
  } catch (e) {
    if (e instanceof DecryptionError) {
      throw new DecryptionError(
        `version ${version} of this record does not open: it was altered, or it belongs to another record, version or account`,
      );
    }
    throw e;
  }
  return parseRecordContent(plaintext);
}

export function parseRecordContent(bytes) {
  const obj = parseJson(bytes);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new EncodingError("a record's content is a JSON object");
  if (!Number.isInteger(obj.v)) throw new EncodingError("a record's content carries an integer version 'v'");
  if (obj.v !== RECORD_CONTENT_VERSION) {
    throw new VersionError(`unknown record content version ${obj.v}; this version reads ${RECORD_CONTENT_VERSION}`);
  }
  const keys = Object.keys(obj).sort();
  if (keys.length !== CONTENT_KEYS.length || keys.some((k, i) => k !== CONTENT_KEYS[i])) {
    throw new EncodingError('a version-1 record has exactly its fields');
  }
  if (!Array.isArray(obj.witnesses)) throw new EncodingError("a record's witnesses are a JSON array");
  if (![...TEXT_FIELDS.map((f) => obj[f]), ...obj.witnesses].every((v) => typeof v === 'string')) {
    throw new EncodingError("a record's fields are JSON strings");
  }
  return obj;
}

export function encryptEntryCopy(dataKey, entryId, entry, { nonce, rng } = {}) {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new InputError('an entry copy is a mapping from text to JSON values');
  }
  return aeadSeal(entryCopyKey(dataKey), canonicalJson(entry), entryCopyAd(entryId), { nonce, rng });
}

export function decryptEntryCopy(dataKey, entryId, blob) {
  const ad = entryCopyAd(entryId);
  checkBlob(blob);
  let plaintext;
  try {
    plaintext = aeadOpen(entryCopyKey(dataKey), blob, ad);
  } catch (e) {
    if (e instanceof DecryptionError) {
      throw new DecryptionError('this entry copy does not open: it was altered, or it belongs to another entry or account');
    }
    throw e;
  }
  const obj = parseJson(plaintext);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new EncodingError('an entry copy is a JSON object');
  return obj;
}

function checkBlob(blob) {
  if (!(blob instanceof Uint8Array)) throw new EncodingError('an encrypted blob is bytes');
  if (blob.length > MAX_BLOB_BYTES) throw new EncodingError(`an encrypted blob is at most ${MAX_BLOB_BYTES} bytes`);
}
