// Escrow slots (§6) and counselor packages (§8): what the client uploads per identifier.
//
//     s     = reduce(HKDF(y, "notalone/v1/secret", 64))
//     tag   = HKDF(s, "notalone/v1/tag", 32)
//     a_j   = reduce(HKDF(s, "notalone/v1/coef/" ‖ decimal j, 64))   j = 1 .. t-1
//     x     = reduce(SHA-512("notalone/v1/x" ‖ account_id ‖ tag))
//     share = s + Σ a_j·x^j (mod ℓ)
//     k_ent = HKDF(s, "notalone/v1/entry-key", 32)
//     inner = 0x01 ‖ HPKE.Seal(pk_counselor, info = "notalone/v1/package" ‖ deployment_id ‖ slot_id, package)
//     outer = AEAD(k_ent, inner, ad = "notalone/v1/outer" ‖ tag ‖ account_id ‖ slot_id)
import { ascii, checkBytes, concat, defaultRng, utf8 } from './bytes.js';
import { EncodingError, InputError } from './errors.js';
import { evaluatePolynomial, reduce, scalarBytes } from './group.js';
import { aeadSeal, hkdfSha512, hpkeSeal, sha512 } from './primitives.js';

export const TAG_BYTES = 32;
export const ACCOUNT_ID_BYTES = 16;
export const SLOT_ID_BYTES = 16;
export const DEPLOYMENT_ID_BYTES = 16;
export const OPRF_OUTPUT_BYTES = 64;
export const MIN_THRESHOLD = 2;
export const MAX_THRESHOLD = 16;
export const MAX_PACKAGE_BYTES = 64 * 1024;
export const PACKAGE_VERSION = 1;

const INFO_SECRET = ascii('notalone/v1/secret');
const INFO_TAG = ascii('notalone/v1/tag');
const INFO_COEFFICIENT = 'notalone/v1/coef/';
const INFO_ENTRY_KEY = ascii('notalone/v1/entry-key');
const DST_ABSCISSA = ascii('notalone/v1/x');
const INFO_PACKAGE = ascii('notalone/v1/package');
const AD_OUTER = ascii('notalone/v1/outer');
const INNER_VERSION = Uint8Array.of(0x01);

function checkThreshold(t) {
  if (!Number.isInteger(t) || t < MIN_THRESHOLD || t > MAX_THRESHOLD) {
    throw new InputError(`the match threshold must be ${MIN_THRESHOLD}..${MAX_THRESHOLD}`);
  }
}

/** Everything derived from one identifier's OPRF output; never leaves the client. */
export function deriveSlotSecrets(oprfOutput, threshold) {
  checkBytes(oprfOutput, OPRF_OUTPUT_BYTES, 'the OPRF output');
  checkThreshold(threshold);
  const s = reduce(hkdfSha512(oprfOutput, INFO_SECRET, 64));
  const sBytes = scalarBytes(s);
  const coefficients = [];
  for (let j = 1; j < threshold; j++) {
    coefficients.push(reduce(hkdfSha512(sBytes, ascii(INFO_COEFFICIENT + String(j)), 64)));
  }
  return {
    secret: s,
    tag: hkdfSha512(sBytes, INFO_TAG, TAG_BYTES),
    coefficients,
    entryKey: hkdfSha512(sBytes, INFO_ENTRY_KEY, 32),
  };
}

export function shareAbscissa(accountId, tag) {
  checkBytes(accountId, ACCOUNT_ID_BYTES, 'an account id');
  checkBytes(tag, TAG_BYTES, 'a tag');
  return reduce(sha512(concat(DST_ABSCISSA, accountId, tag)));
}

export function packageInfo(deploymentId, slotId) {
  checkBytes(deploymentId, DEPLOYMENT_ID_BYTES, 'a deployment id');
  checkBytes(slotId, SLOT_ID_BYTES, 'a slot id');
  return concat(INFO_PACKAGE, deploymentId, slotId);
}

export function outerAd(tag, accountId, slotId) {
  return concat(AD_OUTER, tag, accountId, slotId);
}

/**
 * The package JSON of §8, byte-identical to Python's json.dumps(sort_keys=True,
 * ensure_ascii=False, separators=(",", ":")): keys are ASCII so sorting is unambiguous,
 * and JSON.stringify escapes strings the way Python does for well-formed text.
 */
export function packageBytes({ contact, identifiers, message = '' }) {
  for (const value of [contact, message]) {
    if (typeof value !== 'string') throw new InputError('a package contact and message are text');
  }
  const parts = identifiers.map(({ kind, entered, canonical }) => {
    if (![kind, entered, canonical].every((v) => typeof v === 'string')) {
      throw new InputError('package identifiers are text');
    }
    return `{"canonical":${JSON.stringify(canonical)},"entered":${JSON.stringify(entered)},"kind":${JSON.stringify(kind)}}`;
  });
  const text = `{"contact":${JSON.stringify(contact)},"identifiers":[${parts.join(',')}],"message":${JSON.stringify(message)},"v":${PACKAGE_VERSION}}`;
  const bytes = utf8(text);
  if (bytes.length > MAX_PACKAGE_BYTES) {
    throw new InputError(`the package is larger than ${MAX_PACKAGE_BYTES / 1024} KiB; shorten the message`);
  }
  return bytes;
}

/**
 * Client: the slot to upload for one identifier's OPRF output. `outerNonce` and `seal`
 * are injectable only so that the cross-language vectors can be replayed.
 */
export async function buildSlot(
  oprfOutput,
  pkg,
  { threshold, accountId, slotId, deploymentId, counselorId, counselorPublicKey, outerNonce, seal = hpkeSeal, rng = defaultRng },
) {
  if (typeof counselorId !== 'string' || counselorId.length === 0) {
    throw new InputError('a slot must name the counselor who will read it');
  }
  checkBytes(slotId, SLOT_ID_BYTES, 'a slot id');
  const secrets = deriveSlotSecrets(oprfOutput, threshold);
  const x = shareAbscissa(accountId, secrets.tag);
  const share = evaluatePolynomial([secrets.secret, ...secrets.coefficients], x);
  const packageData = pkg instanceof Uint8Array ? pkg : packageBytes(pkg);
  const sealed = await seal(counselorPublicKey, packageData, packageInfo(deploymentId, slotId));
  if (!(sealed instanceof Uint8Array) || sealed.length < 48) throw new EncodingError('the HPKE output is too short');
  const inner = concat(INNER_VERSION, sealed);
  const outer = aeadSeal(secrets.entryKey, inner, outerAd(secrets.tag, accountId, slotId), { nonce: outerNonce, rng });
  return { slotId, accountId, tag: secrets.tag, x: scalarBytes(x), share: scalarBytes(share), outer, counselorId };
}
