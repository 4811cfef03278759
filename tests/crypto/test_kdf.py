"""HKDF-SHA-512 against RFC 5869's construction, and Argon2id's parameter checks."""

from __future__ import annotations

import hashlib
import hmac

import pysodium
import pytest

from notalone.crypto import kdf
from notalone.errors import EncodingError


def _rfc5869(ikm: bytes, info: bytes, length: int, salt: bytes) -> bytes:
    # RFC 5869 written out with hmac, as an independent reference.
    prk = hmac.new(salt or bytes(64), ikm, hashlib.sha512).digest()
    out, block = b"", b""
    for counter in range(1, -(-length // 64) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha512).digest()
        out += block
    return out[:length]


@pytest.mark.parametrize("length", [1, 32, 64, 65, 200])
@pytest.mark.parametrize("salt", [b"", b"salt"])
def test_hkdf_sha512_matches_rfc5869(length: int, salt: bytes) -> None:
    ikm, info = b"\x0b" * 22, b"notalone/v1/test"
    assert kdf.hkdf_sha512(ikm, info, length, salt) == _rfc5869(ikm, info, length, salt)


def test_hkdf_length_limits() -> None:
    with pytest.raises(EncodingError, match="output length"):
        kdf.hkdf_sha512(b"k", b"", 0)
    with pytest.raises(EncodingError, match="output length"):
        kdf.hkdf_sha512(b"k", b"", kdf.HKDF_SHA512_MAX_LENGTH + 1)


def test_argon2id_agrees_with_libsodium() -> None:
    params = kdf.Argon2Params(time_cost=2, memory_kib=64)
    salt = bytes(range(16))
    ours = kdf.argon2id(b"passphrase", salt, params, 32)
    # libsodium takes memory in bytes, argon2-cffi in KiB.
    theirs = pysodium.crypto_pwhash(
        32, b"passphrase", salt, 2, 64 * 1024, pysodium.crypto_pwhash_ALG_ARGON2ID13
    )
    assert ours == theirs


def test_argon2id_parameter_checks() -> None:
    with pytest.raises(EncodingError, match="parallelism must be 1"):
        kdf.Argon2Params(parallelism=2)
    with pytest.raises(EncodingError, match="time_cost >= 1"):
        kdf.Argon2Params(time_cost=0)
    with pytest.raises(EncodingError, match="memory_kib >= 8"):
        kdf.Argon2Params(memory_kib=4)
    with pytest.raises(EncodingError, match="salt must be 16"):
        kdf.argon2id(b"p", b"short", kdf.Argon2Params(time_cost=1, memory_kib=8), 32)
