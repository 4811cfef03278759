"""RFC 9497 ristretto255-SHA512: every official vector, in all three modes, and rejections."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notalone.crypto import group, oprf
from notalone.crypto.oprf import Mode
from notalone.errors import EncodingError, InvalidElementError, ProofError
from tests.conftest import load_shared_vectors

SUITES = {s["mode"]: s for s in load_shared_vectors("rfc9497_ristretto255_sha512.json")["suites"]}


def _cases() -> list[Any]:
    return [
        pytest.param(mode, i, vector, id=f"mode{mode}-{i}-batch{vector['batch']}")
        for mode, suite in SUITES.items()
        for i, vector in enumerate(suite["vectors"])
    ]


def _hex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_every_mode_and_batch_is_covered() -> None:
    assert sorted(SUITES) == [0, 1, 2]
    assert [v["batch"] for v in SUITES[1]["vectors"]] == [1, 1, 2]
    assert [v["batch"] for v in SUITES[2]["vectors"]] == [1, 1, 2]


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_context_and_key_derivation(mode: int) -> None:
    suite = SUITES[mode]
    assert oprf.context_string(Mode(mode)).hex() == suite["context_string_hex"]
    sk, pk = oprf.derive_key_pair(
        bytes.fromhex(suite["seed"]), bytes.fromhex(suite["key_info"]), Mode(mode)
    )
    assert sk.hex() == suite["skSm"]
    if "pkSm" in suite:
        assert pk.hex() == suite["pkSm"]
        assert oprf.public_key(sk).hex() == suite["pkSm"]


@pytest.mark.parametrize(("mode", "index", "vector"), _cases())
def test_rfc9497_vector(mode: int, index: int, vector: dict[str, Any]) -> None:
    m = Mode(mode)
    suite = SUITES[mode]
    sk = bytes.fromhex(suite["skSm"])
    pk = bytes.fromhex(suite["pkSm"]) if "pkSm" in suite else None
    info = bytes.fromhex(vector.get("info", ""))
    inputs, blinds = _hex(vector["input"]), _hex(vector["blind"])

    # Client: Blind reproduces the blinded elements from the vector's blinds.
    blinded = [oprf.blind(x, m, blind_scalar=r)[1] for x, r in zip(inputs, blinds, strict=True)]
    assert [b.hex() for b in blinded] == vector["blinded_element"]

    # Server: BlindEvaluate reproduces the evaluated elements and, with r fixed, the proof.
    proof_random = bytes.fromhex(vector["proof_random_scalar"]) if mode else None
    evaluated, proof = oprf.blind_evaluate_batch(
        sk, blinded, m, info=info, public_key=pk, proof_random=proof_random
    )
    assert [e.hex() for e in evaluated] == vector["evaluation_element"]
    if mode == Mode.OPRF:
        assert proof is None
    else:
        assert proof is not None
        assert proof.hex() == vector["proof"]

    # Client: Finalize verifies the proof and reproduces the outputs.
    outputs = oprf.finalize_batch(
        inputs,
        blinds,
        evaluated,
        m,
        blinded_elements=blinded,
        proof=proof,
        public_key=pk,
        info=info,
    )
    assert [o.hex() for o in outputs] == vector["output"]

    # Evaluate (the key holder's direct computation) agrees.
    assert [oprf.evaluate(sk, x, m, info).hex() for x in inputs] == vector["output"]

    if len(inputs) == 1:
        element, single_proof = oprf.blind_evaluate(
            sk, blinded[0], m, info=info, public_key=pk, proof_random=proof_random
        )
        assert element == evaluated[0]
        assert single_proof == proof
        out = oprf.finalize(
            inputs[0], blinds[0], element, m,
            blinded_element=blinded[0], proof=proof, public_key=pk, info=info,
        )  # fmt: skip
        assert out.hex() == vector["output"][0]


@pytest.mark.parametrize("mode", [Mode.VOPRF, Mode.POPRF])
def test_proof_generated_without_public_key_or_randomness(mode: Mode) -> None:
    sk, pk = oprf.derive_key_pair(bytes(32), b"k", mode)
    r, b = oprf.blind(b"input", mode)
    e, proof = oprf.blind_evaluate(sk, b, mode, info=b"i")
    assert proof is not None
    out = oprf.finalize(
        b"input", r, e, mode, blinded_element=b, proof=proof, public_key=pk, info=b"i"
    )
    assert out == oprf.evaluate(sk, b"input", mode, b"i")


# ------------------------------------------------------------------ rejections

VOPRF_SK, VOPRF_PK = oprf.derive_key_pair(bytes(range(32)), b"test", Mode.VOPRF)


def _voprf_round(data: bytes = b"x") -> tuple[bytes, bytes, bytes, bytes]:
    r, b = oprf.blind(data, Mode.VOPRF)
    e, proof = oprf.blind_evaluate(VOPRF_SK, b, Mode.VOPRF, public_key=VOPRF_PK)
    assert proof is not None
    return r, b, e, proof


def test_server_rejects_identity_and_non_canonical_blinded_elements() -> None:
    with pytest.raises(InvalidElementError, match="identity"):
        oprf.blind_evaluate(VOPRF_SK, group.IDENTITY, Mode.VOPRF)
    non_canonical = bytes.fromhex(
        "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    )
    with pytest.raises(InvalidElementError, match="canonical"):
        oprf.blind_evaluate(VOPRF_SK, non_canonical, Mode.VOPRF)
    with pytest.raises(InvalidElementError):
        oprf.blind_evaluate(VOPRF_SK, b"\x01" * 31, Mode.OPRF)
    with pytest.raises(EncodingError, match="empty"):
        oprf.blind_evaluate_batch(VOPRF_SK, [], Mode.VOPRF)


def test_client_rejects_identity_evaluation() -> None:
    r, b, _, proof = _voprf_round()
    with pytest.raises(InvalidElementError, match="identity"):
        oprf.finalize(b"x", r, group.IDENTITY, Mode.VOPRF, blinded_element=b, proof=proof,
                      public_key=VOPRF_PK)  # fmt: skip


def test_client_rejects_wrong_key_proof() -> None:
    r, b, e, proof = _voprf_round()
    _, other_pk = oprf.derive_key_pair(bytes(32), b"other", Mode.VOPRF)
    with pytest.raises(ProofError, match="does not verify"):
        oprf.finalize(b"x", r, e, Mode.VOPRF, blinded_element=b, proof=proof, public_key=other_pk)


@given(st.integers(0, 8 * oprf.PROOF_BYTES - 1))
def test_every_flipped_proof_bit_is_rejected(bit: int) -> None:
    r, b, e, proof = _voprf_round()
    tampered = bytearray(proof)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(ProofError):
        oprf.finalize(b"x", r, e, Mode.VOPRF, blinded_element=b, proof=bytes(tampered),
                      public_key=VOPRF_PK)  # fmt: skip


@given(st.integers(0, 255))
def test_every_flipped_evaluation_bit_is_rejected(bit: int) -> None:
    r, b, e, proof = _voprf_round()
    tampered = bytearray(e)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises((ProofError, InvalidElementError)):
        oprf.finalize(b"x", r, bytes(tampered), Mode.VOPRF, blinded_element=b, proof=proof,
                      public_key=VOPRF_PK)  # fmt: skip


def test_proof_for_other_element_is_rejected() -> None:
    r, b, _, _ = _voprf_round(b"x")
    _, _, e2, proof2 = _voprf_round(b"y")
    with pytest.raises(ProofError):
        oprf.finalize(b"x", r, e2, Mode.VOPRF, blinded_element=b, proof=proof2, public_key=VOPRF_PK)


def test_malformed_proofs_are_rejected() -> None:
    r, b, e, proof = _voprf_round()
    for bad, reason in [
        (proof[:-1], "64 bytes"),
        (group.ORDER.to_bytes(32, "little") + proof[32:], "canonical"),
        (bytes(64), "does not verify"),
    ]:
        with pytest.raises(ProofError, match=reason):
            oprf.finalize(b"x", r, e, Mode.VOPRF, blinded_element=b, proof=bad, public_key=VOPRF_PK)
    with pytest.raises(ProofError, match="non-empty"):
        oprf.verify_proof(group.GENERATOR, VOPRF_PK, [], [], proof, Mode.VOPRF)


def test_verifiable_modes_need_proof_material() -> None:
    r, b, e, _ = _voprf_round()
    with pytest.raises(EncodingError, match="needs the blinded elements"):
        oprf.finalize(b"x", r, e, Mode.VOPRF)
    with pytest.raises(EncodingError, match="one blinded element"):
        oprf.finalize_batch([b"x"], [r], [e], Mode.VOPRF, blinded_elements=[b, b], proof=bytes(64),
                            public_key=VOPRF_PK)  # fmt: skip
    with pytest.raises(EncodingError, match="equal, non-empty"):
        oprf.finalize_batch([], [], [], Mode.OPRF)
    with pytest.raises(EncodingError, match="equal, non-empty"):
        oprf.generate_proof(VOPRF_SK, group.GENERATOR, VOPRF_PK, [b], [], Mode.VOPRF)


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(EncodingError, match="seed"):
        oprf.derive_key_pair(b"short", b"", Mode.OPRF)
    with pytest.raises(EncodingError, match="longer than"):
        oprf.blind(b"x" * 65536, Mode.OPRF)
    with pytest.raises(EncodingError, match="zero"):
        oprf.blind(b"x", Mode.OPRF, blind_scalar=bytes(32))
    with pytest.raises(EncodingError, match="not reduced"):
        oprf.public_key(b"\xff" * 32)


def test_poprf_zero_tweak_is_an_inverse_error() -> None:
    # Choose skS = -HashToScalar(framedInfo) so that skS + m = 0 for this info.
    m = oprf.hash_to_scalar(b"Info" + group.i2osp(4, 2) + b"info", Mode.POPRF)
    sk = group.scalar_sub(group.ZERO_SCALAR, m)
    with pytest.raises(EncodingError, match="InverseError"):
        oprf.evaluate(sk, b"x", Mode.POPRF, b"info")
    with pytest.raises(InvalidElementError, match="tweaked public key"):
        oprf.tweaked_public_key(group.mult_base(sk), b"info")


@given(st.binary(max_size=64), st.binary(max_size=16), st.sampled_from(list(Mode)))
def test_round_trip_equals_evaluate(data: bytes, info: bytes, mode: Mode) -> None:
    sk, pk = oprf.derive_key_pair(bytes(32), b"prop", mode)
    r, b = oprf.blind(data, mode)
    e, proof = oprf.blind_evaluate(sk, b, mode, info=info, public_key=pk)
    out = oprf.finalize(data, r, e, mode, blinded_element=b, proof=proof, public_key=pk, info=info)
    assert out == oprf.evaluate(sk, data, mode, info if mode == Mode.POPRF else b"")


def test_input_hashing_to_the_identity_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Probability 2^-252 for a real hash; RFC 9497 still requires the check.
    monkeypatch.setattr(group, "hash_to_group", lambda data, dst: group.IDENTITY)
    with pytest.raises(InvalidElementError, match="hashes to the identity"):
        oprf.blind(b"x", Mode.VOPRF)


def test_derive_key_pair_retries_a_zero_key(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[bytes] = []
    real = group.hash_to_scalar

    def zero_first(data: bytes, dst: bytes) -> bytes:
        attempts.append(data[-1:])
        return group.ZERO_SCALAR if len(attempts) == 1 else real(data, dst)

    monkeypatch.setattr(group, "hash_to_scalar", zero_first)
    sk, pk = oprf.derive_key_pair(bytes(32), b"info", Mode.OPRF)
    assert attempts == [b"\x00", b"\x01"]  # the counter byte moved on
    assert pk == group.mult_base(sk)
