"""XChaCha20-Poly1305 (libsodium's IETF variant) with a version marker and random nonce.

Wire format of a sealed box: ``0x01 ‖ nonce (24) ‖ ciphertext ‖ tag (16)``. The version
byte is authenticated as part of the associated data, so it cannot be swapped.
"""

from __future__ import annotations

import secrets

import pysodium

from notalone.errors import DecryptionError, EncodingError, VersionError

VERSION = b"\x01"
KEY_BYTES = 32
NONCE_BYTES = 24
TAG_BYTES = 16
OVERHEAD = len(VERSION) + NONCE_BYTES + TAG_BYTES


def seal(key: bytes, plaintext: bytes, ad: bytes, nonce: bytes | None = None) -> bytes:
    """Encrypt and authenticate; `nonce` is drawn at random unless a test vector fixes it."""
    _check_key(key)
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_BYTES)
    elif len(nonce) != NONCE_BYTES:
        raise EncodingError(f"XChaCha20-Poly1305 nonce must be {NONCE_BYTES} bytes")
    ct: bytes = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, VERSION + ad, nonce, key
    )
    return VERSION + nonce + ct


def open_(key: bytes, box: bytes, ad: bytes) -> bytes:
    """Check and decrypt a sealed box; raises DecryptionError if anything was altered."""
    _check_key(key)
    if len(box) < OVERHEAD:
        raise EncodingError(f"sealed box is shorter than its {OVERHEAD}-byte overhead")
    if box[:1] != VERSION:
        raise VersionError(f"unknown AEAD box version {box[0]:#04x}; this version reads 0x01")
    nonce = box[1 : 1 + NONCE_BYTES]
    try:
        pt: bytes = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            box[1 + NONCE_BYTES :], VERSION + ad, nonce, key
        )
    except ValueError as e:
        raise DecryptionError("ciphertext does not open under this key and context") from e
    return pt


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise EncodingError(f"XChaCha20-Poly1305 key must be {KEY_BYTES} bytes")
