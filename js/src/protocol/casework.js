// Casework (§13): case notes sealed to the counselor's own X25519 key, the shared framing
// of notes and formal reports, and opening a matched package's inner layer in the page.
//
//   info   = "notalone/v1/case-note" ‖ counselor_id (ASCII) ‖ match_id (16)
//   sealed = 0x01 ‖ HPKE.Seal(pk_counselor, info, UTF-8(text))
import { ascii, concat, checkBytes, fromUtf8, utf8 } from './bytes.js';
import { EncodingError, InputError, VersionError } from './errors.js';
import { HPKE_OVERHEAD, hpkeOpen, hpkeSeal } from './primitives.js';
import { PACKAGE_VERSION, packageInfo } from './slots.js';

export const VERSION = 0x01;
export const MATCH_ID_BYTES = 16;
export const MAX_SEALED_BYTES = 65536;
export const MAX_TEXT_BYTES = MAX_SEALED_BYTES - 1 - HPKE_OVERHEAD;
const INFO_CASE_NOTE = ascii('notalone/v1/case-note');
const COUNSELOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function caseNoteInfo(counselorId, matchId) {
  if (typeof counselorId !== 'string' || !COUNSELOR_ID.test(counselorId)) {
    throw new InputError("a counselor id is 1 to 64 ASCII letters, digits, '.', '_' or '-'");
  }
  return concat(INFO_CASE_NOTE, ascii(counselorId), checkBytes(matchId, MATCH_ID_BYTES, 'a match id'));
}

/** 0x01 ‖ HPKE.Seal(publicKey, info, UTF-8(text)); the text is 1 byte to the limit. */
export async function sealText(publicKey, info, text, { seal = hpkeSeal } = {}) {
  if (typeof text !== 'string') throw new InputError('a note or report is text');
  const plaintext = utf8(text);
  if (plaintext.length < 1 || plaintext.length > MAX_TEXT_BYTES) {
    throw new InputError(`a note or report is 1 to ${MAX_TEXT_BYTES} bytes of UTF-8`, { code: 'text_length' });
  }
  return concat(Uint8Array.of(VERSION), await seal(publicKey, plaintext, info));
}

export async function openText(privateKey, info, sealed) {
  if (!(sealed instanceof Uint8Array) || sealed.length > MAX_SEALED_BYTES) {
    throw new EncodingError(`a sealed note or report is at most ${MAX_SEALED_BYTES} bytes`);
  }
  if (sealed[0] !== VERSION) throw new VersionError('unknown sealed note or report version; this version reads 0x01');
  return fromUtf8(await hpkeOpen(privateKey, sealed.subarray(1), info), 'the note or report');
}

export function sealCaseNote(publicKey, counselorId, matchId, text) {
  return sealText(publicKey, caseNoteInfo(counselorId, matchId), text);
}

export function openCaseNote(privateKey, counselorId, matchId, sealed) {
  return openText(privateKey, caseNoteInfo(counselorId, matchId), sealed);
}

/**
 * Counselor: open the inner layer of a matched slot (§6, Python `slots.open_package`):
 * → {contact, identifiers: [{kind, entered, canonical}], message}.
 */
export async function openPackage(privateKey, deploymentId, slotId, inner) {
  if (!(inner instanceof Uint8Array) || inner[0] !== 0x01) {
    throw new VersionError('unknown inner package version; this version reads 0x01');
  }
  const plain = await hpkeOpen(privateKey, inner.subarray(1), packageInfo(deploymentId, slotId));
  let body;
  try {
    body = JSON.parse(fromUtf8(plain, 'the package'));
  } catch {
    throw new EncodingError('the package is not valid UTF-8 JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new EncodingError('the package is not a JSON object');
  if (body.v !== PACKAGE_VERSION) throw new VersionError(`unknown package version; this version reads ${PACKAGE_VERSION}`);
  if (typeof body.contact !== 'string' || !Array.isArray(body.identifiers)) {
    throw new EncodingError('the package lacks its contact or identifiers');
  }
  const identifiers = body.identifiers.map((i) => {
    if (!i || typeof i !== 'object') throw new EncodingError('the package lacks its contact or identifiers');
    return { kind: String(i.kind), entered: String(i.entered), canonical: String(i.canonical) };
  });
  return { contact: body.contact, identifiers, message: typeof body.message === 'string' ? body.message : '' };
}
