// Threshold VOPRF client (§3, §5): blind, check the federation, verify every key
// server's batch DLEQ proof against its share public key, combine τ answers by Lagrange
// interpolation in the exponent, unblind and finalize. With one key server this is
// exactly RFC 9497 VOPRF (mode 1), ristretto255-SHA512.
import { ristretto255_oprf } from '@noble/curves/ed25519.js';
import { ascii, concat, defaultRng, draw, equalBytes, fromHex, u16 } from './bytes.js';
import { EncodingError, InvalidElementError, ProofError, ThresholdError } from './errors.js';
import {
  ELEMENT_BYTES,
  Point,
  decodeElement,
  decodeScalar,
  hashToGroup,
  inv,
  lagrangeCoefficients,
  mul,
  multiply,
  reduce,
  scalarBytes,
} from './group.js';
import { sha512 } from './primitives.js';

export const MODE = 1;
export const MAX_SERVERS = 255;
export const MAX_INPUT_BYTES = 0xffff;
export const PROOF_BYTES = 64;
const CONTEXT = concat(ascii('OPRFV1-'), Uint8Array.of(MODE), ascii('-ristretto255-SHA512'));
const HASH_TO_GROUP_DST = concat(ascii('HashToGroup-'), CONTEXT);

/**
 * (r, B) = Blind(x) in mode 1. `blind` (32-byte scalar) is injectable for vectors;
 * otherwise r is drawn from `rng` (64 bytes reduced mod ℓ, never zero).
 */
export function blind(input, { blind: fixed, rng = defaultRng } = {}) {
  checkInput(input);
  let r;
  if (fixed !== undefined) {
    r = decodeScalar(fixed, 'a blind');
  } else {
    do r = reduce(draw(rng, 64));
    while (r === 0n);
  }
  if (r === 0n) throw new EncodingError('a blind must not be zero');
  const p = hashToGroup(input, HASH_TO_GROUP_DST);
  if (p.equals(Point.ZERO)) throw new InvalidElementError('the input hashes to the identity');
  return { blind: scalarBytes(r), blinded: p.multiply(r).toBytes() };
}

function checkInput(input) {
  if (!(input instanceof Uint8Array) || input.length > MAX_INPUT_BYTES) {
    throw new EncodingError('an OPRF input is at most 65535 bytes');
  }
}

/** RFC 9497 Finalize hash: SHA-512(u16 len x ‖ x ‖ u16 32 ‖ N ‖ "Finalize"). */
export function hashOutput(input, unblindedBytes) {
  return sha512(concat(u16(input.length), input, u16(ELEMENT_BYTES), unblindedBytes, ascii('Finalize')));
}

/**
 * Parse the federation object of a key server's /v1/keys (or the deployment) and check
 * it (§5 "Federation check"). Returns {threshold, publicKey, shares: [{index, publicKey}]}
 * sorted by index; EncodingError if malformed, ThresholdError if inconsistent.
 */
export function parseFederation(value) {
  if (!isObject(value)) throw new EncodingError("'federation' must be an object");
  const shares = value.shares;
  if (!Array.isArray(shares) || shares.length === 0) {
    throw new EncodingError("'federation.shares' must be a non-empty list");
  }
  const entries = shares.map((entry) => {
    if (!isObject(entry)) throw new EncodingError("each entry of 'federation.shares' must be an object");
    return { index: serverIndex(entry.index, 'index'), publicKey: fromHex(entry.public_key, 32, "'public_key'") };
  });
  entries.sort((a, b) => a.index - b.index);
  const federation = {
    threshold: serverIndex(value.threshold, 'threshold'),
    publicKey: fromHex(value.public_key, 32, "'public_key'"),
    shares: entries,
  };
  verifyFederation(federation);
  return federation;
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function serverIndex(v, name) {
  if (!Number.isInteger(v) || v < 1 || v > MAX_SERVERS) {
    throw new EncodingError(`'${name}' must be an integer from 1 to ${MAX_SERVERS}`);
  }
  return v;
}

/** The pk_i lie on one polynomial of degree < τ whose value at 0 is pk, else ThresholdError. */
export function verifyFederation({ threshold: t, publicKey, shares }) {
  const indices = shares.map((s) => s.index);
  if (!(t >= 1 && t <= shares.length) || new Set(indices).size !== indices.length) {
    throw new ThresholdError('a federation needs τ <= n distinct key-server indices');
  }
  if (indices.some((i) => i < 1 || i > MAX_SERVERS)) {
    throw new ThresholdError(`key-server indices run from 1 to ${MAX_SERVERS}`);
  }
  const points = shares.map((s) => decodeElement(s.publicKey, 'a key-server public key'));
  const basis = shares.slice(0, t);
  const xs = basis.map((s) => BigInt(s.index));
  const targets = [{ index: 0, publicKey }, ...shares.slice(t)];
  for (const target of targets) {
    const lambdas = lagrangeCoefficients(xs, BigInt(target.index));
    let combined = Point.ZERO;
    lambdas.forEach((lam, k) => {
      combined = combined.add(multiply(points[k], lam));
    });
    if (!equalBytes(combined.toBytes(), target.publicKey)) {
      throw new ThresholdError(`key-server public keys are inconsistent (checked at index ${target.index})`);
    }
  }
}

export function sharePublicKey(federation, index) {
  const share = federation.shares.find((s) => s.index === index);
  if (!share) throw new ThresholdError(`no key server with index ${index} in this federation`);
  return share.publicKey;
}

/**
 * Check one key server's answer {index, evaluatedElements, proof} for the batch
 * `blindedElements` (bytes). Raises ProofError / InvalidElementError naming the server
 * by its index; returns the decoded answer. This is what lets a client ask another key
 * server in place of a wrong one before anything is combined.
 */
export function verifyEvaluation(federation, blindedElements, evaluation) {
  const { index } = evaluation;
  const pk = sharePublicKey(federation, index);
  if (!Array.isArray(evaluation.evaluatedElements) || evaluation.evaluatedElements.length !== blindedElements.length) {
    throw new ProofError(`key server ${index} answered the wrong number of elements`);
  }
  evaluation.evaluatedElements.forEach((e) => decodeElement(e, `an element from key server ${index}`));
  blindedElements.forEach((b) => decodeElement(b, 'a blinded element'));
  if (!(evaluation.proof instanceof Uint8Array) || evaluation.proof.length !== PROOF_BYTES) {
    throw new ProofError(`key server ${index}'s proof is not ${PROOF_BYTES} bytes`);
  }
  // noble's finalizeBatch runs RFC 9497 VerifyProof(G, pk_i, [B…], [Z_i…], proof) in
  // mode 1 (canonical c and s included) and throws if it fails; its per-server outputs
  // are discarded, only the verification is wanted here.
  const dummyInput = new Uint8Array(0);
  const one = scalarBytes(1n);
  try {
    ristretto255_oprf.voprf.finalizeBatch(
      blindedElements.map((b, k) => ({ input: dummyInput, blind: one, blinded: b, evaluated: evaluation.evaluatedElements[k] })),
      pk,
      evaluation.proof,
    );
  } catch {
    throw new ProofError(`key server ${index}'s proof does not verify`);
  }
  return evaluation;
}

/**
 * Combine verified answers (§5 "Combination"): reject duplicates or too few answers,
 * verify every answer, use the first τ by index, N = Σ (λ_i·r⁻¹)·Z_i, y = Finalize.
 */
export function finalizeThreshold(federation, inputs, blinds, blindedElements, evaluations) {
  if (!(inputs.length === blinds.length && blinds.length === blindedElements.length) || inputs.length === 0) {
    throw new EncodingError('inputs, blinds and blinded elements must be equal, non-empty lists');
  }
  const indices = evaluations.map((e) => e.index);
  if (new Set(indices).size !== indices.length) {
    throw new ThresholdError('two answers claim to come from the same key server');
  }
  if (evaluations.length < federation.threshold) {
    throw new ThresholdError(`${evaluations.length} key server(s) answered; ${federation.threshold} are needed`);
  }
  for (const e of evaluations) verifyEvaluation(federation, blindedElements, e);
  const used = [...evaluations].sort((a, b) => a.index - b.index).slice(0, federation.threshold);
  const lambdas = lagrangeCoefficients(used.map((e) => BigInt(e.index)));
  return inputs.map((input, position) => {
    const rInv = inv(decodeScalar(blinds[position], 'a blind'));
    let n = Point.ZERO;
    used.forEach((e, k) => {
      n = n.add(multiply(decodeElement(e.evaluatedElements[position]), mul(lambdas[k], rInv)));
    });
    return hashOutput(input, n.toBytes());
  });
}
