"""HPKE base mode (RFC 9180) to a counselor's X25519 key, through `cryptography`.

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 — the same suite
@hpke/core uses in the browser. `cryptography`'s HPKE is single-shot with `info` and no
AAD, so every piece of context goes into `info`. A sealed message is `enc (32) ‖ ct`.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from notalone.errors import DecryptionError, EncodingError

KEY_BYTES = 32
ENC_BYTES = 32
TAG_BYTES = 16
OVERHEAD = ENC_BYTES + TAG_BYTES
SUITE_NAME = "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305"

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)


def generate_key_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as raw bytes: (private, public)."""
    private = X25519PrivateKey.generate()
    return (
        private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def public_key_of(private_key: bytes) -> bytes:
    """The X25519 public key of a raw private key."""
    return _private(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def seal(public_key: bytes, plaintext: bytes, info: bytes) -> bytes:
    """Encrypt `plaintext` to `public_key`, bound to `info`; returns enc ‖ ciphertext."""
    if len(public_key) != KEY_BYTES:
        raise EncodingError(f"an X25519 public key has {KEY_BYTES} bytes")
    try:
        recipient = X25519PublicKey.from_public_bytes(public_key)
        return _SUITE.encrypt(plaintext, recipient, info)
    except ValueError as e:
        # An all-zero or low-order key makes the Diffie-Hellman result zero.
        raise EncodingError("the recipient's X25519 public key is not usable") from e


def open_(private_key: bytes, sealed: bytes, info: bytes) -> bytes:
    """Decrypt a message sealed to our key with the same `info`; DecryptionError if not."""
    if len(sealed) < OVERHEAD:
        raise EncodingError(f"an HPKE message is at least {OVERHEAD} bytes")
    try:
        return _SUITE.decrypt(sealed, _private(private_key), info)
    except (InvalidTag, ValueError) as e:
        raise DecryptionError("the package does not open with this key and context") from e


def _private(private_key: bytes) -> X25519PrivateKey:
    if len(private_key) != KEY_BYTES:
        raise EncodingError(f"an X25519 private key has {KEY_BYTES} bytes")
    return X25519PrivateKey.from_private_bytes(private_key)
