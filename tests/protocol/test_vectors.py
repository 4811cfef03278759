"""The committed cross-language vectors are current, and they follow docs/protocol.md.

The second half re-derives every slot value from the formulas in docs/protocol.md with
bare primitives (hashlib, cryptography, pysodium), not through notalone.protocol.slots,
so a disagreement between the specification and the code fails here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pysodium
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from notalone.crypto import hpke, oprf, threshold
from notalone.crypto.oprf import Mode
from notalone.protocol import vectors
from notalone.protocol.slots import Package
from tests.conftest import REPO

VECTOR_DIR = REPO / "vectors"


def _committed() -> dict[str, Any]:
    return {
        name: json.loads((VECTOR_DIR / name).read_text(encoding="utf-8"))
        for name in vectors.FILE_NAMES
    }


def test_committed_vectors_are_up_to_date() -> None:
    committed = _committed()
    sealer = vectors.replay_sealer_from(committed)
    rebuilt = vectors.build_all(sealer=sealer)
    assert sealer.resealed == 0, "a sealed package no longer opens to its package"
    for name in vectors.FILE_NAMES:
        assert rebuilt[name] == committed[name], f"{name} is stale: run `make vectors`"


def _hkdf(ikm: bytes, info: str, length: int) -> bytes:
    return HKDF(hashes.SHA512(), length, None, info.encode()).derive(ikm)


def _reduce(wide: bytes) -> int:
    return int.from_bytes(wide, "little") % ORDER


ORDER = 2**252 + 27742317777372353535851937790883648493
SLOTS = _committed()["slots.json"]


@pytest.mark.parametrize(
    "case", SLOTS["cases"], ids=lambda c: f"{c['canonical']}-t{c['threshold']}"
)
def test_slot_vector_follows_the_specification(case: dict[str, Any]) -> None:
    y = bytes.fromhex(case["oprf_output"])
    t = case["threshold"]
    tag = _hkdf(y, "notalone/v1/tag", 32)
    s = _reduce(_hkdf(y, "notalone/v1/secret", 64))
    coefficients = [_reduce(_hkdf(y, f"notalone/v1/coef/{j}", 64)) for j in range(1, t)]
    account = bytes.fromhex(case["account_id"])
    x = _reduce(hashlib.sha512(b"notalone/v1/x" + account + tag).digest())
    share = (s + sum(a * pow(x, j, ORDER) for j, a in enumerate(coefficients, 1))) % ORDER
    s_bytes = s.to_bytes(32, "little")
    entry_key = _hkdf(s_bytes, "notalone/v1/entry-key", 32)
    slot_id = bytes.fromhex(case["slot_id"])
    deployment = bytes.fromhex(SLOTS["deployment_id"])

    assert case["tag"] == tag.hex()
    assert case["secret"] == s_bytes.hex()
    assert case["coefficients"] == [a.to_bytes(32, "little").hex() for a in coefficients]
    assert case["x"] == x.to_bytes(32, "little").hex()
    assert case["share"] == share.to_bytes(32, "little").hex()
    assert case["entry_key"] == entry_key.hex()
    assert case["package_info"] == (b"notalone/v1/package" + deployment + slot_id).hex()
    outer_ad = b"notalone/v1/outer" + tag + account + slot_id
    assert case["outer_ad"] == outer_ad.hex()

    # outer = 0x01 ‖ nonce ‖ XChaCha20-Poly1305(entry_key, inner, ad = 0x01 ‖ outer_ad)
    outer = bytes.fromhex(case["outer"])
    assert outer[:1] == b"\x01"
    assert outer[1:25].hex() == case["outer_nonce"]
    inner = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        outer[25:], b"\x01" + outer_ad, outer[1:25], entry_key
    )
    assert inner.hex() == case["inner"]
    # inner = 0x01 ‖ HPKE(counselor key, info = package_info, package)
    assert inner[:1] == b"\x01"
    package = hpke.open_(
        bytes.fromhex(SLOTS["counselor_private_key"]),
        inner[1:],
        bytes.fromhex(case["package_info"]),
    )
    assert package.decode() == case["package"]
    assert Package.from_bytes(package).identifiers[0][2] == case["canonical"]


def test_threshold_vectors_verify_and_combine() -> None:
    data = _committed()["threshold-oprf.json"]
    sk = bytes.fromhex(data["secret_key"])
    assert oprf.derive_key_pair(
        bytes.fromhex(data["key_seed"]), bytes.fromhex(data["key_info"]), Mode.VOPRF
    ) == (sk, bytes.fromhex(data["public_key"]))
    federation = threshold.Federation(
        threshold=data["threshold"],
        public_key=bytes.fromhex(data["public_key"]),
        share_public_keys=tuple(
            (s["index"], bytes.fromhex(s["public_key"])) for s in data["shares"]
        ),
    )
    threshold.verify_federation(federation)
    for case in data["cases"]:
        input_ = bytes.fromhex(case["input"])
        assert input_ == f"notalone/v1/id|{case['kind']}|{case['canonical']}".encode()
        answers = [
            threshold.ShareEvaluation(
                e["index"], (bytes.fromhex(e["evaluated_element"]),), bytes.fromhex(e["proof"])
            )
            for e in case["evaluations"]
        ]
        output = threshold.finalize_threshold(
            federation,
            [input_],
            [bytes.fromhex(case["blind"])],
            [bytes.fromhex(case["blinded_element"])],
            answers[1:],
        )
        assert output[0].hex() == case["output"] == oprf.evaluate(sk, input_, Mode.VOPRF).hex()


def test_a_different_seed_gives_different_vectors() -> None:
    assert vectors.build_all(b"another seed") != vectors.build_all()
