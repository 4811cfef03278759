// ristretto255 elements and scalars (§1, §3), through @noble/curves.
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { InvalidElementError, EncodingError } from './errors.js';

export const Point = ristretto255.Point;
const Fn = Point.Fn;
export const ORDER = Fn.ORDER;
export const ELEMENT_BYTES = 32;
export const SCALAR_BYTES = 32;

/**
 * Decode a peer's element: canonical encoding and not the identity (§3), else
 * InvalidElementError. `what` is a fixed description, never the value.
 */
export function decodeElement(bytes, what = 'a group element') {
  if (!(bytes instanceof Uint8Array) || bytes.length !== ELEMENT_BYTES) {
    throw new InvalidElementError(`${what} must be ${ELEMENT_BYTES} bytes`);
  }
  let point;
  try {
    point = Point.fromBytes(bytes);
  } catch {
    throw new InvalidElementError(`${what} is not a canonical ristretto255 encoding`);
  }
  if (point.equals(Point.ZERO)) throw new InvalidElementError(`${what} is the identity element`);
  return point;
}

/** reduce(b): a little-endian byte string (64 bytes in §1) modulo ℓ. */
export function reduce(bytes) {
  return Fn.create(bytesToNumberLE(bytes));
}

/** A 32-byte little-endian scalar below ℓ, else EncodingError. */
export function decodeScalar(bytes, what = 'a scalar') {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SCALAR_BYTES) {
    throw new EncodingError(`${what} must be ${SCALAR_BYTES} bytes`);
  }
  const n = bytesToNumberLE(bytes);
  if (n >= ORDER) throw new EncodingError(`${what} is not a canonical scalar`);
  return n;
}

export function scalarBytes(n) {
  return numberToBytesLE(Fn.create(n), SCALAR_BYTES);
}

export const mod = (n) => Fn.create(n);
export const mul = (a, b) => Fn.mul(a, b);
export const add = (a, b) => Fn.add(a, b);
export const sub = (a, b) => Fn.sub(a, b);
export const inv = (a) => Fn.inv(a);

/** a·P where a may be zero (noble's multiply refuses 0; the identity is the answer). */
export function multiply(point, scalar) {
  const s = Fn.create(scalar);
  return s === 0n ? Point.ZERO : point.multiply(s);
}

/** Horner evaluation of Σ c_j x^j mod ℓ; coefficients lowest degree first. */
export function evaluatePolynomial(coefficients, x) {
  let acc = 0n;
  for (let j = coefficients.length - 1; j >= 0; j--) acc = Fn.add(Fn.mul(acc, x), coefficients[j]);
  return acc;
}

/** Lagrange coefficients λ_i(at) for the abscissas xs (distinct), mod ℓ. */
export function lagrangeCoefficients(xs, at = 0n) {
  return xs.map((xi, i) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      num = Fn.mul(num, Fn.sub(xj, at));
      den = Fn.mul(den, Fn.sub(xj, xi));
    });
    return Fn.mul(num, Fn.inv(den));
  });
}

/** RFC 9497 HashToGroup: expand_message_xmd(SHA-512) to 64 bytes, then the RFC 9496 map. */
export function hashToGroup(input, dst) {
  return ristretto255_hasher.hashToCurve(input, { DST: dst });
}
