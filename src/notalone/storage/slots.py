"""Escrow entries, slots and matches: inserting a slot and matching its tag in one step.

`SlotRepository.insert_and_match` is docs/protocol.md §7 in storage: in ONE write
transaction, serialized per tag, it checks the slot (§6), inserts it, loads the tag's live
slots in storage order, runs `protocol.matching.open_tag`, and persists the outcome:
forged slots are marked, the tag's match is created or joined, each newly opened
slot's inner package goes to its counselor's inbox, and each counselor with a new package
and a notify_email is owed one "new-match" notification (`notalone.storage.outbox`).

The escrow must not be an oracle. Nothing a survivor's client can call here says whether
a slot matched: the insert returns None whatever happened, and `list_for_account` shows
"sealed" or "withdrawn", never "matched" or "forged". The outcome is visible only through
`inbox` (to counselors) and `matches_for_tag` (to operators and tests).

Serialization per tag: on PostgreSQL an advisory transaction lock on a hash of the tag
(`Database.serialize`), so any number of escrow processes produce exactly one match; on
SQLite the single writer connection already runs one transaction at a time.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from notalone.crypto.ct import bytes_eq
from notalone.errors import InputError
from notalone.protocol import matching
from notalone.protocol.slots import MAX_THRESHOLD, MIN_THRESHOLD, Slot, check_slot
from notalone.storage.engine import Database
from notalone.storage.models import (
    ID_BYTES,
    SLOT_FORGED,
    SLOT_LIVE,
    SLOT_WITHDRAWN,
    Counselor,
    Entry,
    InboxItem,
    Match,
    MatchMember,
    SlotRow,
)
from notalone.storage.outbox import enqueue_new_match

logger = logging.getLogger(__name__)

MATCH_ID_BYTES = ID_BYTES
# PostgreSQL's FOR NO KEY UPDATE: excludes other writers of the entry row, but not the
# foreign-key checks of its slots. SQLite ignores it (its single writer is enough).
_ENTRY_LOCK = {"key_share": True}

#: What a survivor may see of a slot: never whether it matched or was found forged.
SurvivorState = Literal["sealed", "withdrawn"]


@dataclass(frozen=True)
class SlotSummary:
    """One of a survivor's slots, as their client may see it."""

    slot_id: bytes
    entry_id: bytes
    counselor_id: str
    created_at_ms: int
    state: SurvivorState
    withdrawn_at_ms: int | None = None


@dataclass(frozen=True)
class EntrySummary:
    """One of a survivor's entries: their own encrypted copy and whether it is withdrawn."""

    entry_id: bytes
    entry_copy: bytes = field(repr=False)
    created_at_ms: int
    withdrawn_at_ms: int | None = None


@dataclass(frozen=True)
class InboxEntry:
    """A sealed package for a counselor: one matched slot and who else is in its match.

    `other_counselors` are the counselors of the match's other slots (distinct, sorted);
    it contains the reader's own id only if another survivor in the match chose them too.
    """

    match_id: bytes
    slot_id: bytes
    inner: bytes = field(repr=False)
    created_at_ms: int
    other_counselors: tuple[str, ...]


@dataclass(frozen=True)
class MatchSummary:
    """A tag's match and its members (slot id, counselor id) in the order they joined."""

    match_id: bytes
    tag: bytes
    created_at_ms: int
    members: tuple[tuple[bytes, str], ...]


class SlotRepository:
    """Entries, slots, matches and counselor inboxes in one `Database`."""

    def __init__(self, database: Database, *, max_attempts: int = matching.DEFAULT_MAX_ATTEMPTS):
        self._db = database
        self._max_attempts = max_attempts

    # -- entries -----------------------------------------------------------------------

    def create_entry(
        self, entry_id: bytes, account_id: bytes, entry_copy: bytes, now_ms: int
    ) -> None:
        """Store a new entry (the survivor's encrypted copy); its slots follow one by one."""
        _check_id(entry_id, "an entry id")
        _check_id(account_id, "an account id")
        if not entry_copy:
            raise InputError("an entry needs the survivor's encrypted copy")
        with self._db.transaction() as session:
            if session.get(Entry, entry_id) is not None:
                raise InputError("this entry id is already in use; choose a new random one")
            session.add(
                Entry(
                    id=entry_id,
                    account_id=account_id,
                    entry_copy=entry_copy,
                    created_at_ms=now_ms,
                    withdrawn_at_ms=None,
                )
            )

    def list_entries(self, account_id: bytes) -> list[EntrySummary]:
        """The account's entries, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(Entry)
                .where(Entry.account_id == account_id)
                .order_by(Entry.created_at_ms, Entry.id)
            )
            return [
                EntrySummary(row.id, row.entry_copy, row.created_at_ms, row.withdrawn_at_ms)
                for row in rows
            ]

    def withdraw_entry(self, account_id: bytes, entry_id: bytes, now_ms: int) -> None:
        """Withdraw an entry and all its slots; only its owner can, and again is a no-op."""
        with self._db.transaction() as session:
            # Lock order (everywhere): the entry's row, then tags in sorted order. Holding
            # the entry keeps its inserts out, so the slots read next are all of them.
            entry = session.get(Entry, entry_id, with_for_update=_ENTRY_LOCK)
            if entry is None or entry.account_id != account_id:
                raise InputError("this account has no such entry")
            tags = session.scalars(
                select(SlotRow.tag).where(SlotRow.entry_id == entry_id).distinct()
            ).all()
            # Each tag's insert in progress finishes first, so none can match these slots
            # after this withdrawal commits.
            for tag in sorted(tags):
                self._db.serialize(session, tag)
            if entry.withdrawn_at_ms is None:
                entry.withdrawn_at_ms = now_ms
            session.execute(
                update(SlotRow)
                .where(SlotRow.entry_id == entry_id, SlotRow.state != SLOT_WITHDRAWN)
                .values(state=SLOT_WITHDRAWN, withdrawn_at_ms=now_ms)
            )

    # -- slots -------------------------------------------------------------------------

    def create_entry_with_slots(
        self,
        entry_id: bytes,
        account_id: bytes,
        entry_copy: bytes,
        slots: Sequence[Slot],
        threshold: int,
        now_ms: int,
    ) -> None:
        """Store a new entry and all its slots, matching each slot's tag, in ONE transaction.

        Either everything is stored or nothing is: a refused slot (see `insert_and_match`)
        rolls the entry back too, so no half entry is ever visible. Returns None whether
        or not anything matched.
        """
        _check_threshold(threshold)
        _check_id(entry_id, "an entry id")
        _check_id(account_id, "an account id")
        if not entry_copy:
            raise InputError("an entry needs the survivor's encrypted copy")
        if not slots:
            raise InputError("an entry needs at least one slot")
        for slot in slots:
            if slot.account_id != account_id:
                raise InputError("a slot must belong to the account that uploads it")
            check_slot(slot)  # EncodingError and InputError are both InputErrors.
        with self._db.transaction() as session:
            existing = session.execute(
                select(Entry.account_id, Entry.entry_copy).where(Entry.id == entry_id)
            ).first()
            if existing is not None:
                if self._is_stored_already(
                    session, existing, entry_id, account_id, entry_copy, slots
                ):
                    return
                raise InputError("this entry id is already in use; choose a new random one")
            entry = Entry(
                id=entry_id,
                account_id=account_id,
                entry_copy=entry_copy,
                created_at_ms=now_ms,
                withdrawn_at_ms=None,
            )
            # A Core insert: the entry object stays out of the session (see _insert_slot).
            session.execute(
                insert(Entry).values(
                    id=entry_id,
                    account_id=account_id,
                    entry_copy=entry_copy,
                    created_at_ms=now_ms,
                    withdrawn_at_ms=None,
                )
            )
            # Every tag is locked before the first insert, in sorted order: two entries
            # naming overlapping people then queue instead of deadlocking. (The new entry's
            # row needs no lock: no other transaction can see it before this one commits.)
            for tag in sorted({slot.tag for slot in slots}):
                self._db.serialize(session, tag)
            for slot in slots:
                self._insert_slot(session, slot, entry, threshold, now_ms)

    @staticmethod
    def _is_stored_already(
        session: Session,
        existing: Any,
        entry_id: bytes,
        account_id: bytes,
        entry_copy: bytes,
        slots: Sequence[Slot],
    ) -> bool:
        """True if this very entry is stored: a client retrying a request whose answer it
        never got (the server was killed after the commit). Only the same account, the
        same encrypted copy (it carries a fresh random nonce) and the same slots, field for
        field, are the same request; the retry then succeeds without writing anything."""
        if not (
            bytes_eq(existing.account_id, account_id) and bytes_eq(existing.entry_copy, entry_copy)
        ):
            return False
        stored = {
            row.id: (row.tag, row.x, row.share, row.outer_box, row.counselor_id)
            for row in session.execute(
                select(
                    SlotRow.id,
                    SlotRow.tag,
                    SlotRow.x,
                    SlotRow.share,
                    SlotRow.outer_box,
                    SlotRow.counselor_id,
                ).where(SlotRow.entry_id == entry_id)
            )
        }
        sent = {s.slot_id: (s.tag, s.x, s.share, s.outer, s.counselor_id) for s in slots}
        return stored == sent

    def insert_and_match(self, slot: Slot, entry_id: bytes, threshold: int, now_ms: int) -> None:
        """Store one slot of an existing entry and match its tag, all in one transaction.

        Raises InputError (nothing written) if the slot fails the checks of §6, if the
        entry is not an open entry of the slot's account, if the counselor is unknown, if
        the slot id is taken, or if the account already has a live slot of this tag.
        Returns None whether or not a match happened: the caller must not learn it.
        """
        _check_threshold(threshold)
        check_slot(slot)  # EncodingError and InputError are both InputErrors.
        with self._db.transaction() as session:
            # Lock order: the entry's row first (a concurrent withdraw_entry either sees
            # this slot or makes this insert fail), then the tag. No transaction holds a
            # tag while waiting for an entry, so the two kinds of lock cannot deadlock.
            entry = session.get(Entry, entry_id, with_for_update=_ENTRY_LOCK)
            self._db.serialize(session, slot.tag)
            self._insert_slot(session, slot, entry, threshold, now_ms)

    def _insert_slot(
        self, session: Session, slot: Slot, entry: Entry | None, threshold: int, now_ms: int
    ) -> None:
        # The caller holds the tag's lock (Database.serialize) for the whole transaction.
        # This is every insert's path, so it reads the tag's slots once (for the
        # duplicate check, the next position and the matching) and writes with Core
        # statements rather than through the ORM's unit of work: measured, about half
        # the time of the ORM version.
        if entry is None or entry.account_id != slot.account_id:
            raise InputError("this account has no such entry")
        if entry.withdrawn_at_ms is not None:
            raise InputError("this entry was withdrawn; create a new entry instead")
        if session.scalar(select(Counselor.id).where(Counselor.id == slot.counselor_id)) is None:
            raise InputError("unknown counselor; choose one from the counselor list")
        if session.scalar(select(SlotRow.id).where(SlotRow.id == slot.slot_id)) is not None:
            raise InputError("this slot id is already in use; choose a new random one")
        rows = session.execute(
            select(
                SlotRow.id,
                SlotRow.account_id,
                SlotRow.position,
                SlotRow.state,
                SlotRow.x,
                SlotRow.share,
                SlotRow.outer_box,
                SlotRow.counselor_id,
            )
            .where(SlotRow.tag == slot.tag)
            .order_by(SlotRow.position)
        ).all()
        if any(r.account_id == slot.account_id and r.state != SLOT_WITHDRAWN for r in rows):
            # Only the account's own slots decide this: it says nothing about others.
            raise InputError(
                "this account already holds a slot for this identifier; withdraw it first"
            )
        session.execute(
            insert(SlotRow).values(
                id=slot.slot_id,
                entry_id=entry.id,
                account_id=slot.account_id,
                tag=slot.tag,
                position=max((r.position for r in rows), default=0) + 1,
                x=slot.x,
                share=slot.share,
                outer_box=slot.outer,
                counselor_id=slot.counselor_id,
                state=SLOT_LIVE,
                created_at_ms=now_ms,
                withdrawn_at_ms=None,
            )
        )
        live = [
            Slot(r.id, r.account_id, slot.tag, r.x, r.share, r.outer_box, r.counselor_id)
            for r in rows
            if r.state == SLOT_LIVE
        ]
        self._match(session, [*live, slot], threshold, now_ms)

    def _match(self, session: Session, live: list[Slot], threshold: int, now_ms: int) -> None:
        """Open the tag's live slots (in storage order) and persist the outcome."""
        tag = live[0].tag
        outcome = matching.open_tag(live, threshold, max_attempts=self._max_attempts)
        if outcome.undecided:
            # §7: only many forged slots of one tag exhaust the budget. No tag or id is
            # logged: the log must not link anyone to anything.
            logger.warning("matching undecided: the attempt budget ran out for one tag")
        if outcome.forged:
            session.execute(
                update(SlotRow)
                .where(SlotRow.id.in_(outcome.forged), SlotRow.state == SLOT_LIVE)
                .values(state=SLOT_FORGED)
            )
        if not outcome.matched:
            return
        match = session.scalar(select(Match).where(Match.tag == tag))
        if match is None:
            match = Match(id=secrets.token_bytes(MATCH_ID_BYTES), tag=tag, created_at_ms=now_ms)
            session.add(match)
            members: set[bytes] = set()
        else:
            members = set(
                session.scalars(select(MatchMember.slot_id).where(MatchMember.match_id == match.id))
            )
        new = [opened for opened in outcome.opened if opened.slot_id not in members]
        session.add_all(
            MatchMember(
                match_id=match.id,
                slot_id=opened.slot_id,
                tag=tag,
                counselor_id=opened.counselor_id,
                created_at_ms=now_ms,
            )
            for opened in new
        )
        # Members first: each inbox item's composite key points at its member row.
        session.flush()
        session.add_all(
            InboxItem(
                slot_id=opened.slot_id,
                match_id=match.id,
                counselor_id=opened.counselor_id,
                inner_box=opened.inner,
                created_at_ms=now_ms,
            )
            for opened in new
        )
        # Notifications (revision 0003): in THIS transaction, so a package and the note
        # that it arrived commit or roll back together. One "new-match" row per counselor
        # who just got at least one package, if that counselor gave a notify_email; the
        # row names the counselor only (notalone.storage.outbox delivers it).
        enqueue_new_match(session, {opened.counselor_id for opened in new}, now_ms)

    def withdraw(self, account_id: bytes, slot_id: bytes, now_ms: int) -> None:
        """Withdraw one slot: it is never matched afterwards. Only its owner can withdraw
        it; withdrawing it again changes nothing.

        A slot that already matched stays in its match: its package may have been read,
        and the survivor's view must not differ between matched and unmatched slots.
        """
        with self._db.transaction() as session:
            row = session.get(SlotRow, slot_id)
            # One message for "no such slot" and "someone else's": ids are not probed.
            if row is None or row.account_id != account_id:
                raise InputError("this account has no such slot")
            # Waits for an insert of the same tag in progress, so that the slot cannot be
            # matched by a transaction that read it as live after this one commits.
            self._db.serialize(session, row.tag)
            session.refresh(row)
            if row.state != SLOT_WITHDRAWN:
                row.state = SLOT_WITHDRAWN
                row.withdrawn_at_ms = now_ms

    def list_for_account(self, account_id: bytes) -> list[SlotSummary]:
        """The account's slots, oldest first, each "sealed" or "withdrawn" only."""
        with self._db.read() as session:
            rows = session.execute(
                select(
                    SlotRow.id,
                    SlotRow.entry_id,
                    SlotRow.counselor_id,
                    SlotRow.created_at_ms,
                    SlotRow.state,
                    SlotRow.withdrawn_at_ms,
                )
                .where(SlotRow.account_id == account_id)
                .order_by(SlotRow.created_at_ms, SlotRow.id)
            ).all()
        return [
            SlotSummary(
                slot_id=r.id,
                entry_id=r.entry_id,
                counselor_id=r.counselor_id,
                created_at_ms=r.created_at_ms,
                # Live and forged both read "sealed": "forged" would reveal that matching
                # ran, that is, that t accounts named the same person.
                state="withdrawn" if r.state == SLOT_WITHDRAWN else "sealed",
                withdrawn_at_ms=r.withdrawn_at_ms,
            )
            for r in rows
        ]

    # -- counselors and operators --------------------------------------------------------

    def inbox(self, counselor_id: str) -> list[InboxEntry]:
        """The sealed packages waiting for a counselor, oldest first."""
        with self._db.read() as session:
            items = session.scalars(
                select(InboxItem)
                .where(InboxItem.counselor_id == counselor_id)
                .order_by(InboxItem.created_at_ms, InboxItem.slot_id)
            ).all()
            match_ids = {item.match_id for item in items}
            members = session.execute(
                select(MatchMember.match_id, MatchMember.slot_id, MatchMember.counselor_id).where(
                    MatchMember.match_id.in_(match_ids)
                )
            ).all()
        return [
            InboxEntry(
                match_id=item.match_id,
                slot_id=item.slot_id,
                inner=item.inner_box,
                created_at_ms=item.created_at_ms,
                other_counselors=tuple(
                    sorted(
                        {
                            m.counselor_id
                            for m in members
                            if m.match_id == item.match_id and m.slot_id != item.slot_id
                        }
                    )
                ),
            )
            for item in items
        ]

    def matches_for_tag(self, tag: bytes) -> list[MatchSummary]:
        """The tag's match (at most one), for operators and tests; never for survivors."""
        with self._db.read() as session:
            found = session.scalars(select(Match).where(Match.tag == tag)).all()
            result = []
            for match in found:
                members = session.execute(
                    select(MatchMember.slot_id, MatchMember.counselor_id)
                    .join(SlotRow, SlotRow.id == MatchMember.slot_id)
                    .where(MatchMember.match_id == match.id)
                    .order_by(MatchMember.created_at_ms, SlotRow.position)
                ).all()
                result.append(
                    MatchSummary(
                        match.id,
                        match.tag,
                        match.created_at_ms,
                        tuple((m.slot_id, m.counselor_id) for m in members),
                    )
                )
            return result


def _check_threshold(threshold: int) -> None:
    if not MIN_THRESHOLD <= threshold <= MAX_THRESHOLD:
        raise InputError(f"the match threshold must be {MIN_THRESHOLD}..{MAX_THRESHOLD}")


def _check_id(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != ID_BYTES:
        raise InputError(f"{what} must be {ID_BYTES} bytes")
