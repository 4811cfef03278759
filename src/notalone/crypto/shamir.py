"""Shamir secret sharing over the ristretto255 scalar field (integers modulo ℓ).

Secrets, coefficients, abscissae and shares are 32-byte canonical scalars. All arithmetic
on them goes through libsodium's constant-time scalar functions. A Shamir secret must be
a scalar: share a scalar and derive keys from it, never a raw 256-bit key.

Plain Shamir does not protect a share's integrity; whoever uses a reconstructed secret
must check it (NotAlone's escrow slots do so with the outer AEAD).
"""

from __future__ import annotations

from collections.abc import Sequence

from notalone.crypto import group
from notalone.errors import ThresholdError

MAX_THRESHOLD = 255


def evaluate_polynomial(coefficients: Sequence[bytes], x: bytes) -> bytes:
    """f(x) = c0 + c1·x + … + c_{t-1}·x^{t-1} (mod ℓ), by Horner's rule."""
    if not coefficients:
        raise ThresholdError("a polynomial needs at least one coefficient")
    result = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        result = group.scalar_add(group.scalar_mul(result, x), c)
    return result


def split(secret: bytes, coefficients: Sequence[bytes], xs: Sequence[bytes]) -> list[bytes]:
    """Shares f(x) for each abscissa, where f(0) = secret and the rest are `coefficients`.

    The threshold is `len(coefficients) + 1`; coefficients must be uniformly random (or,
    for escrow slots, derived from the same secret source by every party).
    """
    if len(coefficients) + 1 > MAX_THRESHOLD:
        raise ThresholdError(f"thresholds above {MAX_THRESHOLD} are not supported")
    _check_abscissae(xs)
    polynomial = [group.decode_scalar(secret, "secret"), *coefficients]
    return [evaluate_polynomial(polynomial, x) for x in xs]


def lagrange_coefficients(xs: Sequence[bytes], at: bytes = group.ZERO_SCALAR) -> list[bytes]:
    """λ_i such that f(at) = Σ λ_i·f(x_i) for every polynomial of degree < len(xs)."""
    _check_abscissae(xs, allow_zero=at != group.ZERO_SCALAR)
    coefficients = []
    for i, xi in enumerate(xs):
        numerator = group.scalar_from_int(1)
        denominator = group.scalar_from_int(1)
        for j, xj in enumerate(xs):
            if i != j:
                numerator = group.scalar_mul(numerator, group.scalar_sub(xj, at))
                denominator = group.scalar_mul(denominator, group.scalar_sub(xj, xi))
        coefficients.append(group.scalar_mul(numerator, group.scalar_invert(denominator)))
    return coefficients


def interpolate(points: Sequence[tuple[bytes, bytes]], at: bytes = group.ZERO_SCALAR) -> bytes:
    """f(at) from points (x_i, f(x_i)) of a polynomial of degree < len(points)."""
    if not points:
        raise ThresholdError("interpolation needs at least one share")
    xs = [x for x, _ in points]
    result = group.ZERO_SCALAR
    for lam, (_, y) in zip(lagrange_coefficients(xs, at), points, strict=True):
        result = group.scalar_add(result, group.scalar_mul(lam, y))
    return result


def _check_abscissae(xs: Sequence[bytes], *, allow_zero: bool = False) -> None:
    for x in xs:
        group.decode_scalar(x, "share abscissa")
        if not allow_zero and group.scalar_is_zero(x):
            raise ThresholdError("a share abscissa of zero would reveal the secret")
    if len(set(xs)) != len(xs):
        raise ThresholdError("two shares have the same abscissa")
