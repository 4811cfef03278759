"""Interoperability with an independent RFC 9497 implementation: the `voprf` package (Rust).

Both directions of the VOPRF protocol run between the two implementations: their client
verifies our proofs and finalizes to our output, and ours verifies theirs.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from voprf import ristretto as peer

from notalone.crypto import oprf
from notalone.crypto.oprf import Mode
from notalone.errors import ProofError

SEED, INFO = bytes(range(32)), b"interop"
PEER_SERVER = peer.Evaluator.from_seed(SEED, INFO)
SK, PK = oprf.derive_key_pair(SEED, INFO, Mode.VOPRF)


def test_same_key_from_same_seed() -> None:
    assert PEER_SERVER.public_key.serialize() == PK


@settings(max_examples=30)
@given(st.binary(min_size=1, max_size=64))
def test_peer_client_accepts_our_server(data: bytes) -> None:
    client, blinded = peer.Client.blind(list(data))
    element, proof = oprf.blind_evaluate(SK, blinded.serialize(), Mode.VOPRF, public_key=PK)
    assert proof is not None
    # voprf serializes a verifiable output as proof ‖ element.
    output = client.finalize(
        peer.VerifiableOutput.deserialize(list(proof + element)), PEER_SERVER.public_key
    )
    assert output == oprf.evaluate(SK, data, Mode.VOPRF)


@settings(max_examples=30)
@given(st.binary(min_size=1, max_size=64))
def test_our_client_accepts_peer_server(data: bytes) -> None:
    r, blinded = oprf.blind(data, Mode.VOPRF)
    answer = PEER_SERVER.evaluate(peer.BlindedInput.deserialize(blinded)).serialize()
    proof, element = answer[: oprf.PROOF_BYTES], answer[oprf.PROOF_BYTES :]
    output = oprf.finalize(
        data, r, element, Mode.VOPRF, blinded_element=blinded, proof=proof, public_key=PK
    )
    assert output == PEER_SERVER.evaluate_known_input(data)


def test_peer_answer_under_another_key_is_rejected() -> None:
    other = peer.Evaluator.from_seed(bytes(32), INFO)
    r, blinded = oprf.blind(b"x", Mode.VOPRF)
    answer = other.evaluate(peer.BlindedInput.deserialize(blinded)).serialize()
    with pytest.raises(ProofError):
        oprf.finalize(
            b"x", r, answer[64:], Mode.VOPRF, blinded_element=blinded, proof=answer[:64],
            public_key=PK,
        )  # fmt: skip
