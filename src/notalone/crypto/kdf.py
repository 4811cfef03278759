"""Key derivation: HKDF-SHA-512 (RFC 5869) and Argon2id (RFC 9106).

HKDF comes from `cryptography`; Argon2id from argon2-cffi, whose output is byte-identical
to hash-wasm's in the browser when parallelism is 1 (memory is given in KiB in both).
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from notalone.errors import EncodingError

HKDF_SHA512_MAX_LENGTH = 255 * 64
ARGON2_SALT_BYTES = 16


def hkdf_sha512(ikm: bytes, info: bytes, length: int, salt: bytes = b"") -> bytes:
    """HKDF-SHA-512 extract-then-expand; an empty salt means RFC 5869's zero salt."""
    if not 1 <= length <= HKDF_SHA512_MAX_LENGTH:
        raise EncodingError(f"HKDF-SHA-512 output length must be 1..{HKDF_SHA512_MAX_LENGTH}")
    return HKDF(algorithm=hashes.SHA512(), length=length, salt=salt or None, info=info).derive(ikm)


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters, recorded per account so they can be raised later."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1

    def __post_init__(self) -> None:
        if self.parallelism != 1:
            # hash-wasm in the browser must produce the same bytes; p = 1 is what both share.
            raise EncodingError("Argon2id parallelism must be 1")
        if self.time_cost < 1 or self.memory_kib < 8:
            raise EncodingError("Argon2id needs time_cost >= 1 and memory_kib >= 8")


def argon2id(secret: bytes, salt: bytes, params: Argon2Params, length: int) -> bytes:
    """Argon2id raw output of `length` bytes."""
    if len(salt) != ARGON2_SALT_BYTES:
        raise EncodingError(f"Argon2id salt must be {ARGON2_SALT_BYTES} bytes")
    return hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=length,
        type=Type.ID,
    )
