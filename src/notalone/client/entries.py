"""Preparing a survivor's escrow entry on their device (docs/protocol.md §4, §6, §8, §10.1).

An entry names one person by one or more identifiers, for one counselor. Preparing it:

1. canonicalizes every identifier (an IdentifierError says what to fix, before anything
   leaves the device), and merges those that are the same identifier written twice:
   two spellings of one identifier must not become two slots;
2. builds one counselor package holding every identifier as entered, with its canonical
   form, the survivor's contact and message;
3. asks the OPRF for every distinct identifier in one call (one batch to the key
   servers, so their quota counts the entry once and they see one request);
4. builds one slot per distinct identifier under a fresh random slot id;
5. returns the slots, a random entry id and the plaintext of the survivor's own entry
   copy (for `records.encrypt_entry_copy`).

Nothing here does I/O: the OPRF is passed in (FederationClient.evaluator(ticket) in
practice), and so is the randomness.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from notalone.crypto import hpke
from notalone.errors import EncodingError, InputError
from notalone.protocol.identifiers import CanonicalIdentifier, IdentifierKind, canonicalize
from notalone.protocol.records import ENTRY_ID_BYTES
from notalone.protocol.slots import (
    ACCOUNT_ID_BYTES,
    DEPLOYMENT_ID_BYTES,
    MAX_THRESHOLD,
    MIN_THRESHOLD,
    OPRF_OUTPUT_BYTES,
    SLOT_ID_BYTES,
    Package,
    Slot,
    build_slot,
)

__all__ = [
    "ENTRY_COPY_VERSION",
    "MAX_IDENTIFIERS",
    "IdentifierSpec",
    "PreparedEntry",
    "prepare_entry",
]

#: The `v` of the entry-copy JSON that prepare_entry writes.
ENTRY_COPY_VERSION = 1
#: One entry is one OPRF batch, and a key server evaluates at most 64 elements at once.
MAX_IDENTIFIERS = 64

#: (kind, value as the survivor typed it, region for a phone number or None).
IdentifierSpec = tuple[IdentifierKind | str, str, str | None]
OPRF = Callable[[list[bytes]], list[bytes]]
RNG = Callable[[int], bytes]


@dataclass(frozen=True, repr=False)
class PreparedEntry:
    """An entry ready to upload: its slots, and the survivor's own copy to encrypt.

    `copy` is the entry-copy plaintext (identifiers as entered, contact, counselor, slot
    ids); it and the slots are kept out of repr, which shows the entry id and counts only.
    """

    entry_id: bytes
    slots: tuple[Slot, ...] = field(repr=False)
    copy: dict[str, Any] = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return f"PreparedEntry(entry_id={self.entry_id.hex()}, slots={len(self.slots)})"

    @property
    def slot_ids(self) -> tuple[bytes, ...]:
        """The ids of the entry's slots, in the order of the distinct identifiers."""
        return tuple(slot.slot_id for slot in self.slots)


def prepare_entry(
    identifiers: Sequence[IdentifierSpec],
    *,
    contact: str,
    message: str = "",
    counselor_id: str,
    counselor_public_key: bytes,
    account_id: bytes,
    deployment_id: bytes,
    threshold: int,
    oprf: OPRF,
    rng: RNG = secrets.token_bytes,
) -> PreparedEntry:
    """Canonicalize, evaluate in one batch and build one slot per distinct identifier.

    Every check that can fail on the caller's input runs before `oprf` is called, so a
    typo never costs a key-server request or quota.
    """
    _check_arguments(
        contact=contact,
        counselor_id=counselor_id,
        counselor_public_key=counselor_public_key,
        account_id=account_id,
        deployment_id=deployment_id,
        threshold=threshold,
    )
    if not identifiers:
        raise InputError("an entry names at least one identifier")
    if len(identifiers) > MAX_IDENTIFIERS:
        raise InputError(f"an entry holds at most {MAX_IDENTIFIERS} identifiers")

    # Canonicalize everything first; IdentifierError carries its own what-to-fix message.
    canonical = [canonicalize(kind, value, region=region) for kind, value, region in identifiers]
    distinct: list[CanonicalIdentifier] = []
    position_of: dict[bytes, int] = {}
    slot_of_entered: list[int] = []
    for identifier in canonical:
        key = identifier.oprf_input()
        if key not in position_of:
            position_of[key] = len(distinct)
            distinct.append(identifier)
        slot_of_entered.append(position_of[key])

    package_identifiers: list[tuple[str, str, str]] = []
    for identifier, (_, value, _) in zip(canonical, identifiers, strict=True):
        triple = (identifier.kind.value, value, identifier.canonical)
        if triple not in package_identifiers:  # the very same text twice adds nothing
            package_identifiers.append(triple)
    package = Package(contact=contact, identifiers=tuple(package_identifiers), message=message)
    package.to_bytes()  # Too large a package is refused now, before any request.

    outputs = oprf([identifier.oprf_input() for identifier in distinct])
    if len(outputs) != len(distinct) or any(
        not isinstance(y, bytes) or len(y) != OPRF_OUTPUT_BYTES for y in outputs
    ):
        raise EncodingError(
            f"the OPRF must return one {OPRF_OUTPUT_BYTES}-byte output per identifier"
        )

    entry_id = _random(rng, ENTRY_ID_BYTES, "entry id")
    slot_ids = [_random(rng, SLOT_ID_BYTES, "slot id") for _ in distinct]
    if len(set(slot_ids)) != len(slot_ids):
        raise InputError("the random source repeated a slot id; it is not random")
    slots = tuple(
        build_slot(
            y,
            package,
            threshold=threshold,
            account_id=account_id,
            slot_id=slot_id,
            deployment_id=deployment_id,
            counselor_id=counselor_id,
            counselor_public_key=counselor_public_key,
        )
        for y, slot_id in zip(outputs, slot_ids, strict=True)
    )
    copy: dict[str, Any] = {
        "v": ENTRY_COPY_VERSION,
        "entry_id": entry_id.hex(),
        "identifiers": [
            {
                "kind": identifier.kind.value,
                "entered": value,
                "region": region,
                "slot_id": slot_ids[slot].hex(),
            }
            for identifier, (_, value, region), slot in zip(
                canonical, identifiers, slot_of_entered, strict=True
            )
        ],
        "counselor_id": counselor_id,
        "contact": contact,
        "message": message,
        "slot_ids": [slot_id.hex() for slot_id in slot_ids],
    }
    return PreparedEntry(entry_id=entry_id, slots=slots, copy=copy)


def _check_arguments(
    *,
    contact: str,
    counselor_id: str,
    counselor_public_key: bytes,
    account_id: bytes,
    deployment_id: bytes,
    threshold: int,
) -> None:
    if not isinstance(contact, str) or not contact.strip():
        raise InputError("say how your counselor can reach you (contact is empty)")
    if not isinstance(counselor_id, str) or not counselor_id:
        raise InputError("an entry must name the counselor who will read it")
    if not isinstance(counselor_public_key, bytes) or len(counselor_public_key) != hpke.KEY_BYTES:
        raise EncodingError(f"a counselor's public key is {hpke.KEY_BYTES} bytes")
    if not isinstance(account_id, bytes) or len(account_id) != ACCOUNT_ID_BYTES:
        raise EncodingError(f"an account id is {ACCOUNT_ID_BYTES} bytes")
    if not isinstance(deployment_id, bytes) or len(deployment_id) != DEPLOYMENT_ID_BYTES:
        raise EncodingError(f"a deployment id is {DEPLOYMENT_ID_BYTES} bytes")
    if not MIN_THRESHOLD <= threshold <= MAX_THRESHOLD:
        raise InputError(f"the match threshold must be {MIN_THRESHOLD}..{MAX_THRESHOLD}")


def _random(rng: RNG, size: int, what: str) -> bytes:
    value = rng(size)
    if not isinstance(value, bytes) or len(value) != size:
        raise EncodingError(f"the random source gave a {what} of the wrong length")
    return value
