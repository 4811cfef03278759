"""HPKE base mode against the RFC 9180 X25519 vectors, and our seal/open recipe."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from notalone.crypto import hpke
from notalone.errors import DecryptionError, EncodingError
from tests.conftest import load_shared_vectors

VECTORS = load_shared_vectors("rfc9180_hpke_x25519_subset.json")["vectors"]
AEADS = {1: AEAD.AES_128_GCM, 3: AEAD.CHACHA20_POLY1305}


def _vectors(aead_id: int) -> list[Any]:
    return [v for v in VECTORS if v["aead_id"] == aead_id and v["mode"] == 0]


def test_vector_file_holds_our_suite() -> None:
    assert _vectors(3), "no X25519/ChaCha20-Poly1305 base-mode vector"
    assert all(v["kem_id"] == 32 and v["kdf_id"] == 1 for v in VECTORS)


@pytest.mark.parametrize("vector", _vectors(3) + _vectors(1), ids=lambda v: f"aead{v['aead_id']}")
def test_rfc9180_first_encryption_opens(vector: dict[str, Any]) -> None:
    suite = hpke._SUITE if vector["aead_id"] == 3 else Suite(KEM.X25519, KDF.HKDF_SHA256, AEADS[1])
    sk = bytes.fromhex(vector["skRm"])
    assert hpke.public_key_of(sk).hex() == vector["pkRm"]
    first = vector["encryptions"][0]
    assert first["nonce"] == vector["base_nonce"]  # sequence 0: what single-shot HPKE uses
    sealed = bytes.fromhex(vector["enc"] + first["ct"])
    # cryptography's public HPKE has no AAD, but the vectors use one; its test hook does.
    plaintext = rust_openssl.hpke._decrypt_with_aad(
        suite,
        sealed,
        X25519PrivateKey.from_private_bytes(sk),
        info=bytes.fromhex(vector["info"]),
        aad=bytes.fromhex(first["aad"]),
    )
    assert plaintext.hex() == first["pt"]


def test_seal_open_round_trip_and_context_binding() -> None:
    sk, pk = hpke.generate_key_pair()
    sealed = hpke.seal(pk, b"package", b"notalone/v1/package|ctx")
    assert len(sealed) == len(b"package") + hpke.OVERHEAD
    assert hpke.open_(sk, sealed, b"notalone/v1/package|ctx") == b"package"
    with pytest.raises(DecryptionError):
        hpke.open_(sk, sealed, b"notalone/v1/package|other")
    other_sk, _ = hpke.generate_key_pair()
    with pytest.raises(DecryptionError):
        hpke.open_(other_sk, sealed, b"notalone/v1/package|ctx")
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        hpke.open_(sk, bytes(tampered), b"notalone/v1/package|ctx")


def test_bad_keys_and_lengths_are_rejected() -> None:
    sk, pk = hpke.generate_key_pair()
    with pytest.raises(EncodingError, match="not usable"):
        hpke.seal(bytes(32), b"x", b"")
    with pytest.raises(EncodingError, match="32 bytes"):
        hpke.seal(pk[:31], b"x", b"")
    with pytest.raises(EncodingError, match="at least 48"):
        hpke.open_(sk, b"short", b"")
    with pytest.raises(EncodingError, match="32 bytes"):
        hpke.open_(sk[:5], bytes(64), b"")
