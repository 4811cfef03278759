"""A counselor's use cases: a key pair, the inbox of matched slots, opening a package.

    keygen()                                       → CounselorKeys (X25519)
    fingerprint(public_key)                        → "1a2b-3c4d-…" for comparing out of band
    inbox(escrow)                                  → the matched slots for this counselor
    open_item(private_key, deployment_id, item)    → Package (contact, identifiers, message)

The private key never leaves the counselor's device; the escrow holds only sealed inner
packages, which open with it alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from notalone.client.escrow import EscrowClient, InboxItem
from notalone.crypto import hpke
from notalone.protocol.slots import Package, open_package

__all__ = ["FINGERPRINT_DOMAIN", "CounselorKeys", "fingerprint", "inbox", "keygen", "open_item"]

FINGERPRINT_DOMAIN = b"notalone/v1/counselor-fingerprint"
FINGERPRINT_BYTES = 16


@dataclass(frozen=True, eq=False)
class CounselorKeys:
    """A counselor's X25519 key pair; repr shows the public key's fingerprint only."""

    private_key: bytes = field(repr=False)
    public_key: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"CounselorKeys(fingerprint={fingerprint(self.public_key)})"


def keygen() -> CounselorKeys:
    """A fresh X25519 key pair for HPKE."""
    private_key, public_key = hpke.generate_key_pair()
    return CounselorKeys(private_key=private_key, public_key=public_key)


def fingerprint(public_key: bytes) -> str:
    """First 16 bytes of SHA-256(domain ‖ public key), hex in groups of four."""
    digest = hashlib.sha256(FINGERPRINT_DOMAIN + public_key).digest()[:FINGERPRINT_BYTES].hex()
    return "-".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def inbox(escrow: EscrowClient) -> list[InboxItem]:
    """The counselor's matched slots (`escrow` carries the counselor's token)."""
    return escrow.inbox()


def open_item(private_key: bytes, deployment_id: bytes, item: InboxItem) -> Package:
    """Open a matched slot's inner package; DecryptionError if it is not for this key."""
    return open_package(private_key, deployment_id, item.slot_id, item.inner)
