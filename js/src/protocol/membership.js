// Membership tokens (docs/protocol.md §15), the member's side: draw random token inputs,
// blind them (RFC 9497 VOPRF, mode 1, ristretto255-SHA512), verify the escrow's batch
// DLEQ proof against the organization's published issuer key, unblind, and encode the
// tokens. The verification is what keeps the escrow from marking a member with a key of
// their own: every member's tokens must verify under the one key of the organization.
// Pure: no network, no DOM.
import { ristretto255_oprf } from '@noble/curves/ed25519.js';
import { ascii, concat, defaultRng, draw, fromHex, toHex } from './bytes.js';
import { EncodingError, InputError, ProofError } from './errors.js';
import { blind as oprfBlind } from './oprf.js';

export const ORGANIZATION_ID_BYTES = 16;
export const TOKEN_INPUT_BYTES = 32;
export const TOKEN_OUTPUT_BYTES = 64;
export const TOKEN_PREFIX = 'nmt1-';
export const TOKENS_FILE_FORMAT = 'notalone-membership-tokens-v1';
export const MAX_BATCH = 16;
const ISSUER_INFO_PREFIX = ascii('notalone/v1/member-issuer');
const TOKEN_HEX = /^nmt1-[0-9a-f]{224}$/;

function checkOrganization(organizationId) {
  if (!(organizationId instanceof Uint8Array) || organizationId.length !== ORGANIZATION_ID_BYTES) {
    throw new EncodingError(`an organization id is ${ORGANIZATION_ID_BYTES} bytes`);
  }
}

/** DeriveKeyPair's info for organization O: "notalone/v1/member-issuer" ‖ O. */
export function issuerInfo(organizationId) {
  checkOrganization(organizationId);
  return concat(ISSUER_INFO_PREFIX, organizationId);
}

/** (sk, pk) = DeriveKeyPair(seed, issuerInfo(O)) in mode 1 (the escrow's derivation; tests). */
export function issuerKeyPair(seed, organizationId) {
  const keys = ristretto255_oprf.voprf.deriveKeyPair(seed, issuerInfo(organizationId));
  return { secretKey: keys.secretKey, publicKey: keys.publicKey };
}

/**
 * Draw `count` random inputs and blind them: {organizationId, inputs, blinds, blinded}.
 * `blinds` (32-byte scalars) and `rng` are injectable for the vectors.
 */
export function blindTokens(organizationId, count, { rng = defaultRng, blinds } = {}) {
  checkOrganization(organizationId);
  if (!Number.isInteger(count) || count < 1 || count > MAX_BATCH) {
    throw new InputError(`ask for 1 to ${MAX_BATCH} tokens at a time`);
  }
  if (blinds !== undefined && blinds.length !== count) throw new InputError('one blind is needed per token');
  const inputs = [];
  const scalars = [];
  const blinded = [];
  for (let i = 0; i < count; i++) {
    const input = draw(rng, TOKEN_INPUT_BYTES);
    const b = oprfBlind(input, blinds === undefined ? { rng } : { blind: blinds[i] });
    inputs.push(input);
    scalars.push(b.blind);
    blinded.push(b.blinded);
  }
  return { organizationId, inputs, blinds: scalars, blinded };
}

/**
 * Verify the escrow's proof against the organization's public key and unblind: the
 * tokens [{organizationId, input, output}]. ProofError if the proof does not verify.
 */
export function finalizeTokens(pending, publicKey, evaluated, proof) {
  if (!Array.isArray(evaluated) || evaluated.length !== pending.inputs.length) {
    throw new EncodingError('the escrow answered the wrong number of elements');
  }
  let outputs;
  try {
    outputs = ristretto255_oprf.voprf.finalizeBatch(
      pending.inputs.map((input, i) => ({ input, blind: pending.blinds[i], blinded: pending.blinded[i], evaluated: evaluated[i] })),
      publicKey,
      proof,
    );
  } catch {
    throw new ProofError("the escrow's proof does not verify against the organization's key");
  }
  return pending.inputs.map((input, i) => ({ organizationId: pending.organizationId, input, output: outputs[i] }));
}

/** "nmt1-" ‖ hex(O ‖ input ‖ output). */
export function tokenText(token) {
  return TOKEN_PREFIX + toHex(concat(token.organizationId, token.input, token.output));
}

/** Parse tokenText's form (white space around it allowed); EncodingError if it is not one. */
export function parseToken(text) {
  const body = typeof text === 'string' ? text.trim() : '';
  if (!TOKEN_HEX.test(body)) throw new EncodingError("a registration token is 'nmt1-' followed by 224 hex digits");
  const raw = fromHex(body.slice(TOKEN_PREFIX.length));
  return {
    organizationId: raw.slice(0, ORGANIZATION_ID_BYTES),
    input: raw.slice(ORGANIZATION_ID_BYTES, ORGANIZATION_ID_BYTES + TOKEN_INPUT_BYTES),
    output: raw.slice(ORGANIZATION_ID_BYTES + TOKEN_INPUT_BYTES),
  };
}

/** The JSON tokens file of one organization's tokens (the same text Python writes). */
export function tokensFile(tokens, issuerPublicKey) {
  if (!Array.isArray(tokens) || tokens.length === 0) throw new InputError('a tokens file holds at least one token');
  const organizationId = toHex(tokens[0].organizationId);
  if (tokens.some((t) => toHex(t.organizationId) !== organizationId)) {
    throw new InputError('a tokens file holds the tokens of one organization');
  }
  const document = {
    format: TOKENS_FILE_FORMAT,
    organization_id: organizationId,
    issuer_public_key: toHex(issuerPublicKey),
    tokens: tokens.map(tokenText),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** The tokens of a tokens file or of one token text; EncodingError if neither. */
export function parseTokens(text) {
  const body = typeof text === 'string' ? text.trim() : '';
  if (body.startsWith(TOKEN_PREFIX)) return [parseToken(body)];
  let document;
  try {
    document = JSON.parse(body);
  } catch {
    throw new EncodingError('this is neither a registration token nor a tokens file');
  }
  if (typeof document !== 'object' || document === null || document.format !== TOKENS_FILE_FORMAT) {
    throw new EncodingError(`a tokens file has format ${TOKENS_FILE_FORMAT}`);
  }
  const listed = document.tokens;
  if (!Array.isArray(listed) || listed.length === 0 || !listed.every((t) => typeof t === 'string')) {
    throw new EncodingError('a tokens file lists its tokens as texts');
  }
  return listed.map(parseToken);
}

/** The token as POST /v1/accounts takes it. */
export function tokenJson(token) {
  return { organization_id: toHex(token.organizationId), input: toHex(token.input), output: toHex(token.output) };
}
