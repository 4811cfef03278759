"""Threshold VOPRF: every τ-subset equals single-key evaluation; tampering is rejected."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notalone.crypto import group, oprf, threshold
from notalone.crypto.oprf import Mode
from notalone.errors import EncodingError, InvalidElementError, ProofError, ThresholdError

configurations = st.sampled_from([(1, 1), (1, 3), (2, 2), (2, 3), (3, 5), (4, 5)])


def _client(inputs: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    blinds, blinded = [], []
    for x in inputs:
        r, b = oprf.blind(x, Mode.VOPRF)
        blinds.append(r)
        blinded.append(b)
    return blinds, blinded


@settings(max_examples=25)
@given(
    config=configurations,
    inputs=st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=3),
    seed=st.binary(min_size=32, max_size=32),
)
def test_every_subset_of_tau_servers_equals_single_key_evaluate(
    config: tuple[int, int], inputs: list[bytes], seed: bytes
) -> None:
    tau, n = config
    sk, _ = oprf.derive_key_pair(seed, b"federation", Mode.VOPRF)
    federation, shares = threshold.deal(sk, tau, n)
    threshold.verify_federation(federation)
    expected = [oprf.evaluate(sk, x, Mode.VOPRF) for x in inputs]
    blinds, blinded = _client(inputs)
    answers = [threshold.evaluate_share(s, blinded) for s in shares]
    for subset in itertools.combinations(answers, tau):
        got = threshold.finalize_threshold(federation, inputs, blinds, blinded, list(subset))
        assert got == expected


def test_single_server_federation_is_plain_rfc9497() -> None:
    sk, pk = oprf.derive_key_pair(bytes(32), b"one", Mode.VOPRF)
    federation, [share] = threshold.deal(sk, 1, 1)
    assert share.secret_key == sk
    assert federation.public_key == pk == share.public_key


# A shared 2-of-3 federation for the tampering tests.
SK, _ = oprf.derive_key_pair(bytes(range(32)), b"tamper", Mode.VOPRF)
FEDERATION, SHARES = threshold.deal(SK, 2, 3)
INPUTS = [b"notalone/v1/id|email|a@example.org", b"notalone/v1/id|phone|+14155550134"]


def _round() -> tuple[list[bytes], list[bytes], list[threshold.ShareEvaluation]]:
    blinds, blinded = _client(INPUTS)
    return blinds, blinded, [threshold.evaluate_share(s, blinded) for s in SHARES[:2]]


def _finalize(
    blinds: list[bytes], blinded: list[bytes], answers: list[threshold.ShareEvaluation]
) -> list[bytes]:
    return threshold.finalize_threshold(FEDERATION, INPUTS, blinds, blinded, answers)


def test_honest_round_succeeds() -> None:
    assert _finalize(*_round()) == [oprf.evaluate(SK, x, Mode.VOPRF) for x in INPUTS]


def test_wrong_key_is_rejected() -> None:
    blinds, blinded, answers = _round()
    rogue = threshold.KeyShare(2, group.random_scalar(), SHARES[1].public_key)
    answers[1] = threshold.evaluate_share(rogue, blinded)
    with pytest.raises(ProofError, match="key server 2"):
        _finalize(blinds, blinded, answers)


def test_answer_signed_with_another_servers_key_is_rejected() -> None:
    blinds, blinded, answers = _round()
    answers[1] = replace(threshold.evaluate_share(SHARES[2], blinded), index=2)
    with pytest.raises(ProofError, match="key server 2"):
        _finalize(blinds, blinded, answers)


@settings(max_examples=60)
@given(which=st.integers(0, 1), element=st.integers(0, 1), bit=st.integers(0, 255))
def test_flipped_element_bit_is_rejected(which: int, element: int, bit: int) -> None:
    blinds, blinded, answers = _round()
    flipped = bytearray(answers[which].evaluated_elements[element])
    flipped[bit // 8] ^= 1 << (bit % 8)
    elements = list(answers[which].evaluated_elements)
    elements[element] = bytes(flipped)
    answers[which] = replace(answers[which], evaluated_elements=tuple(elements))
    with pytest.raises((ProofError, InvalidElementError)):
        _finalize(blinds, blinded, answers)


@settings(max_examples=60)
@given(which=st.integers(0, 1), bit=st.integers(0, 8 * oprf.PROOF_BYTES - 1))
def test_flipped_proof_bit_is_rejected(which: int, bit: int) -> None:
    blinds, blinded, answers = _round()
    flipped = bytearray(answers[which].proof)
    flipped[bit // 8] ^= 1 << (bit % 8)
    answers[which] = replace(answers[which], proof=bytes(flipped))
    with pytest.raises(ProofError):
        _finalize(blinds, blinded, answers)


def test_identity_answer_is_rejected() -> None:
    blinds, blinded, answers = _round()
    answers[0] = replace(answers[0], evaluated_elements=(group.IDENTITY, group.IDENTITY))
    with pytest.raises(InvalidElementError, match="identity"):
        _finalize(blinds, blinded, answers)


def test_proof_from_another_round_is_rejected() -> None:
    blinds, blinded, answers = _round()
    _, _, other = _round()
    answers[0] = replace(answers[0], proof=other[0].proof)
    with pytest.raises(ProofError):
        _finalize(blinds, blinded, answers)


def test_structural_problems_are_rejected() -> None:
    blinds, blinded, answers = _round()
    with pytest.raises(ThresholdError, match="same key server"):
        _finalize(blinds, blinded, [answers[0], answers[0]])
    with pytest.raises(ThresholdError, match="2 are needed"):
        _finalize(blinds, blinded, answers[:1])
    with pytest.raises(ThresholdError, match="no key server with index 9"):
        _finalize(blinds, blinded, [answers[0], replace(answers[1], index=9)])
    short = replace(answers[1], evaluated_elements=answers[1].evaluated_elements[:1])
    with pytest.raises(ProofError, match="wrong number"):
        _finalize(blinds, blinded, [answers[0], short])
    with pytest.raises(EncodingError, match="non-empty"):
        threshold.finalize_threshold(FEDERATION, [], [], [], answers)


def test_inconsistent_federations_are_rejected() -> None:
    threshold.verify_federation(FEDERATION)
    entries = list(FEDERATION.share_public_keys)
    entries[2] = (3, group.mult_base(group.random_scalar()))
    with pytest.raises(ThresholdError, match="inconsistent"):
        threshold.verify_federation(replace(FEDERATION, share_public_keys=tuple(entries)))
    with pytest.raises(ThresholdError, match="inconsistent"):
        threshold.verify_federation(replace(FEDERATION, public_key=group.GENERATOR))
    with pytest.raises(ThresholdError, match="distinct"):
        threshold.verify_federation(replace(FEDERATION, threshold=4))
    with pytest.raises(ThresholdError, match="indices run"):
        threshold.verify_federation(
            replace(FEDERATION, share_public_keys=((0, entries[0][1]), *entries[1:]))
        )
    with pytest.raises(ThresholdError, match="threshold <= servers"):
        threshold.deal(SK, 3, 2)
    with pytest.raises(ThresholdError, match="τ - 1 coefficients"):
        threshold.deal(SK, 2, 3, coefficients=[])


def test_key_share_repr_hides_the_secret() -> None:
    assert SHARES[0].secret_key.hex() not in repr(SHARES[0])
    assert "secret_key" not in repr(SHARES[0])
