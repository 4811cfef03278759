"""Server-side matching: open the slots of one tag once t accounts hold valid shares.

The server cannot open anything before t shares of the same tag exist: the entry key is
derived from the Shamir secret. Plain Shamir does not protect share integrity, so each
candidate secret s' interpolated from t shares is checked against the public tag
(tag = HKDF(s', "notalone/v1/tag")): only the genuine secret passes, and since the whole
polynomial follows from it, every slot is then checked against the genuine polynomial.
A slot whose share is off that polynomial or whose ciphertext does not open is named as
forged and skipped: it can neither block honest slots nor, even in the hands of someone
who knows the identifier's OPRF output, put a polynomial of its own in place of the
genuine one. One account contributes at most one slot.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from notalone.crypto import aead, shamir
from notalone.crypto.ct import bytes_eq
from notalone.errors import DecryptionError, EncodingError, InputError, VersionError
from notalone.protocol.slots import Slot, check_slot, coefficients_of, entry_key, outer_ad, tag_of

#: Subsets of t slots tried before giving up; forged slots force extra attempts.
DEFAULT_MAX_ATTEMPTS = 2000


@dataclass(frozen=True)
class OpenedSlot:
    """A matched slot's inner package, ready for its counselor's inbox."""

    slot_id: bytes
    account_id: bytes
    counselor_id: str
    inner: bytes = field(repr=False)


@dataclass(frozen=True)
class MatchOutcome:
    """The result of trying to open one tag's slots.

    `matched` is true when at least t distinct accounts hold valid slots; then `opened`
    lists every valid slot. `forged` names slots that are malformed, off the polynomial or
    do not open; `duplicates` names later slots of an account that already has one.
    `undecided` is true when the attempt budget ran out before a valid subset was found.
    """

    matched: bool
    opened: tuple[OpenedSlot, ...] = ()
    forged: tuple[bytes, ...] = ()
    duplicates: tuple[bytes, ...] = ()
    undecided: bool = False


def open_tag(
    slots: Sequence[Slot], threshold: int, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> MatchOutcome:
    """Try to open the live slots of one tag, given in the order they were stored.

    All slots must carry the same tag. Returns a MatchOutcome; the secret and entry key
    exist only inside this call.
    """
    if threshold < 2:
        raise InputError("the match threshold must be at least 2")
    if len({s.tag for s in slots}) > 1:
        raise InputError("open_tag needs the slots of a single tag")
    candidates, forged, duplicates = _one_valid_slot_per_account(slots)
    if len(candidates) < threshold:
        return MatchOutcome(False, forged=tuple(forged), duplicates=tuple(duplicates))

    tag = candidates[0].tag
    for attempt, subset in enumerate(itertools.combinations(candidates, threshold)):
        if attempt >= max_attempts:
            return MatchOutcome(
                False, forged=tuple(forged), duplicates=tuple(duplicates), undecided=True
            )
        secret = shamir.interpolate([(s.x, s.share) for s in subset])
        if not bytes_eq(tag_of(secret), tag):
            continue
        # The genuine secret: rebuild the genuine polynomial and test every slot on it.
        polynomial = [secret, *coefficients_of(secret, threshold)]
        key = entry_key(secret)
        opened: list[OpenedSlot] = []
        for slot in candidates:
            on_curve = bytes_eq(shamir.evaluate_polynomial(polynomial, slot.x), slot.share)
            inner = _open_one(slot, key) if on_curve else None
            if inner is None:
                forged.append(slot.slot_id)
            else:
                opened.append(OpenedSlot(slot.slot_id, slot.account_id, slot.counselor_id, inner))
        if len(opened) < threshold:
            # Shares on the genuine polynomial whose ciphertexts do not open are forged too.
            return MatchOutcome(False, forged=tuple(forged), duplicates=tuple(duplicates))
        return MatchOutcome(True, tuple(opened), tuple(forged), tuple(duplicates))
    # No t slots hold genuine shares together: some slots are forged, but which is unknowable.
    return MatchOutcome(False, forged=tuple(forged), duplicates=tuple(duplicates))


def _one_valid_slot_per_account(
    slots: Sequence[Slot],
) -> tuple[list[Slot], list[bytes], list[bytes]]:
    """Split slots into candidates (first well-formed slot of each account), forged slot
    ids (malformed) and duplicate slot ids (an account's later slots)."""
    candidates: list[Slot] = []
    forged: list[bytes] = []
    duplicates: list[bytes] = []
    accounts: set[bytes] = set()
    for slot in slots:
        try:
            check_slot(slot)
        except (EncodingError, InputError):
            forged.append(slot.slot_id)
            continue
        if slot.account_id in accounts:
            duplicates.append(slot.slot_id)
            continue
        accounts.add(slot.account_id)
        candidates.append(slot)
    return candidates, forged, duplicates


def _open_one(slot: Slot, key: bytes) -> bytes | None:
    try:
        return aead.open_(key, slot.outer, outer_ad(slot.tag, slot.account_id, slot.slot_id))
    except (DecryptionError, EncodingError, VersionError):
        return None
