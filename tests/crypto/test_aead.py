"""The versioned XChaCha20-Poly1305 box: round trips, context binding, every rejection."""

from __future__ import annotations

import pysodium
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notalone.crypto import aead
from notalone.errors import DecryptionError, EncodingError, VersionError

KEY = bytes(range(32))


@given(st.binary(max_size=256), st.binary(max_size=64))
def test_round_trip(plaintext: bytes, ad: bytes) -> None:
    box = aead.seal(KEY, plaintext, ad)
    assert len(box) == len(plaintext) + aead.OVERHEAD
    assert aead.open_(KEY, box, ad) == plaintext


def test_layout_matches_libsodium_with_the_version_in_the_ad() -> None:
    nonce = bytes(24)
    box = aead.seal(KEY, b"text", b"ad", nonce)
    assert box[:1] == b"\x01"
    assert box[1:25] == nonce
    expected = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(b"text", b"\x01ad", nonce, KEY)
    assert box[25:] == expected


def test_random_nonces_differ() -> None:
    assert aead.seal(KEY, b"same", b"") != aead.seal(KEY, b"same", b"")


@given(st.integers(0, 8 * (len(b"secret") + aead.OVERHEAD) - 1))
def test_every_flipped_bit_is_rejected(bit: int) -> None:
    box = bytearray(aead.seal(KEY, b"secret", b"ad"))
    box[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises((DecryptionError, VersionError)):
        aead.open_(KEY, bytes(box), b"ad")


def test_wrong_key_or_context_is_rejected() -> None:
    box = aead.seal(KEY, b"secret", b"ad")
    with pytest.raises(DecryptionError, match="does not open"):
        aead.open_(bytes(32), box, b"ad")
    with pytest.raises(DecryptionError):
        aead.open_(KEY, box, b"other ad")


def test_malformed_inputs_are_rejected() -> None:
    with pytest.raises(EncodingError, match="key must be 32"):
        aead.seal(KEY[:16], b"", b"")
    with pytest.raises(EncodingError, match="nonce must be 24"):
        aead.seal(KEY, b"", b"", b"short")
    with pytest.raises(EncodingError, match="shorter than"):
        aead.open_(KEY, b"\x01" * 40, b"")
    with pytest.raises(VersionError, match="0x02"):
        aead.open_(KEY, b"\x02" + bytes(40), b"")
