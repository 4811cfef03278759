"""Shamir sharing over the scalar field: reconstruction from any t shares, and misuse."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notalone.crypto import group, shamir
from notalone.errors import ThresholdError

scalars = st.integers(0, group.ORDER - 1).map(group.scalar_from_int)


@given(secret=scalars, threshold=st.integers(1, 5), extra=st.integers(0, 2), data=st.data())
def test_any_t_shares_reconstruct_and_fewer_do_not(
    secret: bytes, threshold: int, extra: int, data: st.DataObject
) -> None:
    coefficients = [group.random_scalar() for _ in range(threshold - 1)]
    xs = [group.scalar_from_int(i) for i in range(1, threshold + extra + 1)]
    shares = shamir.split(secret, coefficients, xs)
    points = list(zip(xs, shares, strict=True))
    for subset in itertools.combinations(points, threshold):
        assert shamir.interpolate(list(subset)) == secret
    if threshold > 1:
        fewer = data.draw(st.permutations(points))[: threshold - 1]
        # With random coefficients, t - 1 shares interpolate to an unrelated value.
        assert shamir.interpolate(fewer) != secret


def test_interpolation_at_a_share_point_recovers_that_share() -> None:
    coefficients = [group.random_scalar(), group.random_scalar()]
    xs = [group.scalar_from_int(i) for i in (3, 5, 7, 11)]
    shares = shamir.split(group.random_scalar(), coefficients, xs)
    points = list(zip(xs[:3], shares[:3], strict=True))
    assert shamir.interpolate(points, at=xs[3]) == shares[3]


def test_misuse_is_rejected() -> None:
    one, two = group.scalar_from_int(1), group.scalar_from_int(2)
    with pytest.raises(ThresholdError, match="same abscissa"):
        shamir.split(one, [two], [one, one])
    with pytest.raises(ThresholdError, match="zero"):
        shamir.split(one, [two], [group.ZERO_SCALAR, one])
    with pytest.raises(ThresholdError, match="at least one share"):
        shamir.interpolate([])
    with pytest.raises(ThresholdError, match="at least one coefficient"):
        shamir.evaluate_polynomial([], one)
    with pytest.raises(ThresholdError, match="above 255"):
        shamir.split(one, [two] * 255, [one])
