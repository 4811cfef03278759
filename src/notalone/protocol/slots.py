"""Escrow slots: what a survivor's client uploads for one identifier (docs/protocol.md §6).

From the OPRF output y of an identifier, every survivor who names the same identifier
derives the same Shamir secret s, and from s alone the tag, the polynomial coefficients and
the entry key; only the share abscissa x depends on the account. Because the tag and the
whole polynomial follow from s, the server can recognise the genuine secret once it has t
shares (its tag matches) and check every share against the genuine polynomial: slots on a
polynomial of someone else's making can neither block nor redefine a match.

The package for the counselor is sealed with HPKE to the counselor's key (inner layer) and
then with the entry key (outer layer), so the server can open the outer layer only after t
accounts' shares reveal s.

    s     = reduce(HKDF-SHA-512(y, "notalone/v1/secret", 64))
    tag   = HKDF-SHA-512(s, "notalone/v1/tag", 32)
    a_j   = reduce(HKDF-SHA-512(s, "notalone/v1/coef/" ‖ ASCII(j), 64))   j = 1 .. t-1
    x     = reduce(SHA-512("notalone/v1/x" ‖ account_id ‖ tag))
    share = s + Σ a_j·x^j (mod ℓ)
    k_ent = HKDF-SHA-512(s, "notalone/v1/entry-key", 32)
    inner = 0x01 ‖ HPKE.Seal(pk_counselor,
                             info = "notalone/v1/package" ‖ deployment_id ‖ slot_id)
    outer = AEAD(k_ent, inner, ad = "notalone/v1/outer" ‖ tag ‖ account_id ‖ slot_id)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from notalone.crypto import aead, group, hpke, shamir
from notalone.crypto.ct import bytes_eq
from notalone.crypto.kdf import hkdf_sha512
from notalone.errors import EncodingError, InputError, VersionError

TAG_BYTES = 32
ACCOUNT_ID_BYTES = 16
SLOT_ID_BYTES = 16
DEPLOYMENT_ID_BYTES = 16
OPRF_OUTPUT_BYTES = 64
MIN_THRESHOLD = 2
MAX_THRESHOLD = 16
#: A package carries identifiers and a contact, never a whole record.
MAX_PACKAGE_BYTES = 64 * 1024
INNER_VERSION = b"\x01"
PACKAGE_VERSION = 1

INFO_TAG = b"notalone/v1/tag"
INFO_SECRET = b"notalone/v1/secret"
INFO_COEFFICIENT = b"notalone/v1/coef/"
INFO_ENTRY_KEY = b"notalone/v1/entry-key"
DST_ABSCISSA = b"notalone/v1/x"
INFO_PACKAGE = b"notalone/v1/package"
AD_OUTER = b"notalone/v1/outer"

Sealer = Callable[[bytes, bytes, bytes], bytes]


@dataclass(frozen=True)
class SlotSecrets:
    """Everything derived from one identifier's OPRF output; never leaves the client."""

    tag: bytes
    secret: bytes = field(repr=False)
    coefficients: tuple[bytes, ...] = field(repr=False)
    entry_key: bytes = field(repr=False)


@dataclass(frozen=True)
class Slot:
    """One escrow slot as the server stores it: all public except to t accounts together."""

    slot_id: bytes
    account_id: bytes
    tag: bytes
    x: bytes
    share: bytes
    outer: bytes
    counselor_id: str


@dataclass(frozen=True)
class Package:
    """What the survivor's counselor reads after a match: how to reach the survivor and
    the identifiers exactly as entered (with their canonical forms)."""

    contact: str = field(repr=False)
    identifiers: tuple[tuple[str, str, str], ...] = field(repr=False)
    message: str = field(default="", repr=False)

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, UTF-8) with a version field."""
        body = {
            "v": PACKAGE_VERSION,
            "contact": self.contact,
            "identifiers": [
                {"kind": kind, "entered": entered, "canonical": canonical}
                for kind, entered, canonical in self.identifiers
            ],
            "message": self.message,
        }
        data = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        encoded = data.encode()
        if len(encoded) > MAX_PACKAGE_BYTES:
            raise InputError(
                f"the package is larger than {MAX_PACKAGE_BYTES // 1024} KiB; shorten the message"
            )
        return encoded

    @classmethod
    def from_bytes(cls, data: bytes) -> Package:
        """Parse a package; EncodingError or VersionError if it is not one."""
        try:
            body: Any = json.loads(data.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise EncodingError("the package is not valid UTF-8 JSON") from e
        if not isinstance(body, dict):
            raise EncodingError("the package is not a JSON object")
        if body.get("v") != PACKAGE_VERSION:
            raise VersionError(f"unknown package version; this version reads {PACKAGE_VERSION}")
        try:
            identifiers = tuple(
                (str(i["kind"]), str(i["entered"]), str(i["canonical"]))
                for i in body["identifiers"]
            )
            return cls(str(body["contact"]), identifiers, str(body.get("message", "")))
        except (KeyError, TypeError) as e:
            raise EncodingError("the package lacks its contact or identifiers") from e


def _check_threshold(threshold: int) -> None:
    if not MIN_THRESHOLD <= threshold <= MAX_THRESHOLD:
        raise InputError(f"the match threshold must be {MIN_THRESHOLD}..{MAX_THRESHOLD}")


def _check_length(value: bytes, length: int, what: str) -> None:
    if len(value) != length:
        raise EncodingError(f"{what} must be {length} bytes, got {len(value)}")


def derive_slot_secrets(oprf_output: bytes, threshold: int) -> SlotSecrets:
    """Derive the Shamir secret from y, and from it the tag, t - 1 coefficients and the
    entry key."""
    _check_length(oprf_output, OPRF_OUTPUT_BYTES, "the OPRF output")
    _check_threshold(threshold)
    secret = group.reduce_scalar(hkdf_sha512(oprf_output, INFO_SECRET, 64))
    return SlotSecrets(
        tag=tag_of(secret),
        secret=secret,
        coefficients=coefficients_of(secret, threshold),
        entry_key=entry_key(secret),
    )


def tag_of(secret: bytes) -> bytes:
    """tag = HKDF-SHA-512(s, "notalone/v1/tag", 32): public, and a check on a candidate s."""
    return hkdf_sha512(secret, INFO_TAG, TAG_BYTES)


def coefficients_of(secret: bytes, threshold: int) -> tuple[bytes, ...]:
    """a_j = reduce(HKDF-SHA-512(s, "notalone/v1/coef/" ‖ ASCII(j), 64)) for j = 1..t-1.

    Unknowable without s, as Shamir needs, yet fixed by s, so the server can rebuild the
    genuine polynomial from a recovered secret.
    """
    _check_threshold(threshold)
    return tuple(
        group.reduce_scalar(hkdf_sha512(secret, INFO_COEFFICIENT + str(j).encode(), 64))
        for j in range(1, threshold)
    )


def entry_key(secret: bytes) -> bytes:
    """k_ent = HKDF-SHA-512(s, "notalone/v1/entry-key", 32), from the 32-byte scalar s."""
    return hkdf_sha512(secret, INFO_ENTRY_KEY, aead.KEY_BYTES)


def share_abscissa(account_id: bytes, tag: bytes) -> bytes:
    """x = reduce(SHA-512("notalone/v1/x" ‖ account_id ‖ tag)); fixed lengths keep the
    concatenation unambiguous. Bound to the account, so one account has one share."""
    _check_length(account_id, ACCOUNT_ID_BYTES, "an account id")
    _check_length(tag, TAG_BYTES, "a tag")
    return group.reduce_scalar(hashlib.sha512(DST_ABSCISSA + account_id + tag).digest())


def package_info(deployment_id: bytes, slot_id: bytes) -> bytes:
    """HPKE info binding the inner package to its deployment and slot."""
    _check_length(deployment_id, DEPLOYMENT_ID_BYTES, "a deployment id")
    _check_length(slot_id, SLOT_ID_BYTES, "a slot id")
    return INFO_PACKAGE + deployment_id + slot_id


def outer_ad(tag: bytes, account_id: bytes, slot_id: bytes) -> bytes:
    """Associated data of the outer layer: a slot's box cannot move to another slot."""
    return AD_OUTER + tag + account_id + slot_id


def build_slot(
    oprf_output: bytes,
    package: Package,
    *,
    threshold: int,
    account_id: bytes,
    slot_id: bytes,
    deployment_id: bytes,
    counselor_id: str,
    counselor_public_key: bytes,
    outer_nonce: bytes | None = None,
    seal: Sealer = hpke.seal,
) -> Slot:
    """Client: the slot to upload for one identifier's OPRF output.

    `outer_nonce` and `seal` are injectable only so cross-language vectors are repeatable.
    """
    secrets_ = derive_slot_secrets(oprf_output, threshold)
    x = share_abscissa(account_id, secrets_.tag)
    share = shamir.evaluate_polynomial([secrets_.secret, *secrets_.coefficients], x)
    inner = INNER_VERSION + seal(
        counselor_public_key, package.to_bytes(), package_info(deployment_id, slot_id)
    )
    outer = aead.seal(
        secrets_.entry_key, inner, outer_ad(secrets_.tag, account_id, slot_id), outer_nonce
    )
    return Slot(slot_id, account_id, secrets_.tag, x, share, outer, counselor_id)


def check_slot(slot: Slot) -> None:
    """Server: reject a slot whose sizes are wrong or whose x is not bound to its account.

    Raises EncodingError or InputError; a slot that passes may still carry a forged share
    or ciphertext, which only matching can tell (protocol.matching).
    """
    _check_length(slot.slot_id, SLOT_ID_BYTES, "a slot id")
    group.decode_scalar(slot.share, "share")
    expected_x = share_abscissa(slot.account_id, slot.tag)
    if not bytes_eq(slot.x, expected_x):
        raise InputError("the share abscissa is not the one bound to this account and tag")
    if len(slot.outer) < aead.OVERHEAD + len(INNER_VERSION) + hpke.OVERHEAD:
        raise EncodingError("the sealed package is too short to hold anything")
    if len(slot.outer) > MAX_PACKAGE_BYTES + 1024:
        raise EncodingError("the sealed package is larger than a package can be")
    if not slot.counselor_id:
        raise InputError("a slot must name the counselor who will read it")


def open_package(
    counselor_private_key: bytes, deployment_id: bytes, slot_id: bytes, inner: bytes
) -> Package:
    """Counselor: open the inner layer of a matched slot with their own X25519 key."""
    if inner[:1] != INNER_VERSION:
        raise VersionError("unknown inner package version; this version reads 0x01")
    plaintext = hpke.open_(counselor_private_key, inner[1:], package_info(deployment_id, slot_id))
    return Package.from_bytes(plaintext)
