"""Server-side matching: open the slots of one tag once t accounts hold valid shares.

The server cannot open anything before t shares of the same tag exist: the entry key is
derived from the Shamir secret. Plain Shamir does not protect share integrity, so each
candidate secret is checked by opening the outer AEAD layers; a slot whose share is off
the polynomial or whose ciphertext does not open is named as forged and skipped, never
allowed to block honest slots. One account contributes at most one slot.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from notalone.crypto import aead, shamir
from notalone.crypto.ct import bytes_eq
from notalone.errors import DecryptionError, EncodingError, InputError, VersionError
from notalone.protocol.slots import Slot, check_slot, entry_key, outer_ad

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
    if len(candidates) < threshold:
        return MatchOutcome(False, forged=tuple(forged), duplicates=tuple(duplicates))

    for attempt, subset in enumerate(itertools.combinations(candidates, threshold)):
        if attempt >= max_attempts:
            return MatchOutcome(
                False, forged=tuple(forged), duplicates=tuple(duplicates), undecided=True
            )
        points = [(s.x, s.share) for s in subset]
        key = entry_key(shamir.interpolate(points))
        if not all(_open_one(slot, key) is not None for slot in subset):
            continue
        # t slots that open under one key fix the polynomial; test every other slot on it.
        opened: list[OpenedSlot] = []
        for slot in candidates:
            on_curve = bytes_eq(shamir.interpolate(points, at=slot.x), slot.share)
            inner = _open_one(slot, key) if on_curve else None
            if inner is None:
                forged.append(slot.slot_id)
            else:
                opened.append(OpenedSlot(slot.slot_id, slot.account_id, slot.counselor_id, inner))
        return MatchOutcome(True, tuple(opened), tuple(forged), tuple(duplicates))
    # No subset of t slots opens together: some slots are forged, but which is unknowable.
    return MatchOutcome(False, forged=tuple(forged), duplicates=tuple(duplicates))


def _open_one(slot: Slot, key: bytes) -> bytes | None:
    try:
        return aead.open_(key, slot.outer, outer_ad(slot.tag, slot.account_id, slot.slot_id))
    except (DecryptionError, EncodingError, VersionError):
        return None
