"""Escrow use cases: evaluation tickets, entries and their slots, counselors and inboxes.

docs/protocol.md §5.1 (tickets), §6–§8 (slots, matching, packages) as thin use cases over
two ports:

- `SlotStore`: entries, slots, matching and inboxes. `notalone.storage.slots.SlotRepository`
  satisfies it; matching itself runs there, in the insert's transaction.
- `CounselorStore`: the counselor registry and counselor tokens
  (`notalone.storage.counselors.SqlCounselorStore`, `InMemoryCounselorStore` below).

The escrow must not be an oracle: `submit_entry` returns nothing, whatever matched, and
`list_entries` shows each slot only as "sealed" or "withdrawn". Nothing here logs, and no
error message holds an identifier, tag, contact, token or account id.

Counselors. The operator vouches for a counselor's X25519 key by signing, with the
deployment's Ed25519 vouching key,

    "notalone/v1/counselor" ‖ u8 len(id) ‖ id (ASCII) ‖ public_key (32)

and hands the counselor a bearer token (32 random bytes as hex) that reads their inbox;
only SHA-256("notalone/v1/escrow/counselor-token|" ‖ token) is stored. The label differs
from the survivors' session label, so neither kind of token passes as the other.
A counselor's fingerprint, for comparing keys out of band, is the first 16 bytes of
SHA-256("notalone/v1/counselor-fingerprint" ‖ public_key) as hex in groups of four.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from email_validator import EmailNotValidError, validate_email

from notalone.errors import ConflictError, EncodingError, InputError, VerificationError
from notalone.protocol.slots import (
    MAX_THRESHOLD,
    MIN_THRESHOLD,
    TAG_BYTES,
    Slot,
    check_slot,
)
from notalone.protocol.tickets import MAX_U16, Ticket, TicketIssuer

ID_BYTES = 16
PUBLIC_KEY_BYTES = 32
COUNSELOR_TOKEN_BYTES = 32
#: An entry names a person by a few identifiers (email, phone, profiles), one slot each.
MAX_SLOTS_PER_ENTRY = 16
MAX_DISPLAY_NAME_CHARS = 200
#: RFC 5321's limit on a forward path (the column `counselors.notify_email` is as wide).
MAX_NOTIFY_EMAIL_CHARS = 254
#: Counselor ids are short public names chosen by the operator; ASCII keeps the signed
#: length byte equal to the character count.
COUNSELOR_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

VOUCH_DOMAIN = b"notalone/v1/counselor"
FINGERPRINT_DOMAIN = b"notalone/v1/counselor-fingerprint"
_TOKEN_LABEL = b"notalone/v1/escrow/counselor-token|"

Clock = Callable[[], int]
SurvivorState = Literal["sealed", "withdrawn"]


#: An entry names a counselor outside the pool of the survivor's organization.
OUTSIDE_POOL = (
    "your organization asks its members to choose among its own counselors; "
    "choose a counselor from the list your organization offers"
)


class NotFoundError(InputError):
    """The caller has no such thing: missing and someone else's get this one answer (404)."""


# --------------------------------------------------------------------------- ports


class EntryRow(Protocol):
    """An entry as a `SlotStore` returns it."""

    @property
    def entry_id(self) -> bytes: ...
    @property
    def entry_copy(self) -> bytes: ...
    @property
    def created_at_ms(self) -> int: ...
    @property
    def withdrawn_at_ms(self) -> int | None: ...


class SlotRowView(Protocol):
    """A survivor's slot as a `SlotStore` returns it: "sealed" or "withdrawn" only."""

    @property
    def slot_id(self) -> bytes: ...
    @property
    def entry_id(self) -> bytes: ...
    @property
    def state(self) -> SurvivorState: ...


class InboxRow(Protocol):
    """A sealed package for a counselor as a `SlotStore` returns it."""

    @property
    def match_id(self) -> bytes: ...
    @property
    def slot_id(self) -> bytes: ...
    @property
    def inner(self) -> bytes: ...
    @property
    def created_at_ms(self) -> int: ...
    @property
    def other_counselors(self) -> tuple[str, ...]: ...


class SlotStore(Protocol):
    """Entries, slots, matching and inboxes (`notalone.storage.slots.SlotRepository`)."""

    def create_entry_with_slots(
        self,
        entry_id: bytes,
        account_id: bytes,
        entry_copy: bytes,
        slots: Sequence[Slot],
        threshold: int,
        now_ms: int,
    ) -> None:
        """Store an entry and all its slots, matching each tag, in one transaction:
        all or nothing (InputError if any slot is refused); returns None either way."""
        ...

    def list_entries(self, account_id: bytes) -> Sequence[EntryRow]:
        """The account's entries, oldest first."""
        ...

    def list_for_account(self, account_id: bytes) -> Sequence[SlotRowView]:
        """The account's slots, oldest first."""
        ...

    def withdraw_entry(self, account_id: bytes, entry_id: bytes, now_ms: int) -> None:
        """Withdraw an entry and its slots; InputError if the account has no such entry."""
        ...

    def inbox(self, counselor_id: str) -> Sequence[InboxRow]:
        """The sealed packages waiting for a counselor, oldest first."""
        ...


@dataclass(frozen=True)
class CounselorRecord:
    """A counselor as the registry holds it."""

    id: str
    display_name: str
    public_key: bytes
    vouching_signature: bytes
    created_at_ms: int


class CounselorPool(Protocol):
    """Which counselors an account's organization lets its survivors choose
    (`notalone.storage.organizations.SqlOrganizationStore`)."""

    def pool_of_account(self, account_id: bytes) -> frozenset[str]:
        """The ids in the pool of the account's organization; empty: every counselor."""


class CounselorStore(Protocol):
    """The counselor registry and the hashes of counselor tokens."""

    def add(
        self, counselor: CounselorRecord, token_hash: bytes, notify_email: str | None = None
    ) -> None:
        """Store the counselor, its first token and its notification address (or None)
        in one transaction; ConflictError if the id or the public key is already
        registered. The address is write-only: `list_counselors` never returns it."""
        ...

    def list_counselors(self) -> list[CounselorRecord]:
        """Every counselor, by id."""
        ...

    def counselor_for_token(self, token_hash: bytes, now_ms: int) -> str | None:
        """The id of the counselor whose unexpired token hashes to `token_hash`."""
        ...


class InMemoryCounselorStore:
    """`CounselorStore` in memory, for unit tests."""

    def __init__(self) -> None:
        self.counselors: dict[str, CounselorRecord] = {}
        self.tokens: dict[bytes, str] = {}
        self.notify_emails: dict[str, str] = {}

    def add(
        self, counselor: CounselorRecord, token_hash: bytes, notify_email: str | None = None
    ) -> None:
        """See `CounselorStore.add`."""
        if counselor.id in self.counselors or any(
            c.public_key == counselor.public_key for c in self.counselors.values()
        ):
            raise ConflictError(COUNSELOR_TAKEN)
        self.counselors[counselor.id] = counselor
        self.tokens[token_hash] = counselor.id
        if notify_email is not None:
            self.notify_emails[counselor.id] = notify_email

    def list_counselors(self) -> list[CounselorRecord]:
        """See `CounselorStore.list_counselors`."""
        return [self.counselors[k] for k in sorted(self.counselors)]

    def counselor_for_token(self, token_hash: bytes, now_ms: int) -> str | None:
        """See `CounselorStore.counselor_for_token` (tokens here never expire)."""
        return self.tokens.get(token_hash)


COUNSELOR_TAKEN = "a counselor with this id or public key is already registered"
_COUNSELOR_REFUSED = "this route needs a valid counselor token"


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class EntryView:
    """One of the caller's entries as their client may see it: never whether it matched."""

    entry_id: bytes
    entry_copy: bytes = field(repr=False)
    created_at_ms: int
    withdrawn_at_ms: int | None
    slots: tuple[tuple[bytes, SurvivorState], ...]


@dataclass(frozen=True)
class NewCounselor:
    """A counselor just registered, with its token (shown once; only its hash is stored)."""

    counselor: CounselorRecord
    token: str = field(repr=False)


@dataclass(frozen=True)
class EscrowPolicy:
    """The deployment's escrow rules."""

    match_threshold: int = MIN_THRESHOLD
    ticket_quota: int = 256

    def __post_init__(self) -> None:
        if not MIN_THRESHOLD <= self.match_threshold <= MAX_THRESHOLD:
            raise InputError(f"the match threshold must be {MIN_THRESHOLD}..{MAX_THRESHOLD}")
        if isinstance(self.ticket_quota, bool) or not 1 <= self.ticket_quota <= MAX_U16:
            raise InputError(f"the ticket quota must be 1..{MAX_U16}")


# --------------------------------------------------------------------------- service


class EscrowService:
    """Tickets, entries, counselors and inboxes."""

    def __init__(
        self,
        slots: SlotStore,
        counselors: CounselorStore,
        issuer: TicketIssuer,
        vouching_key: Ed25519PrivateKey,
        policy: EscrowPolicy,
        clock: Clock,
    ) -> None:
        self._slots = slots
        self._counselors = counselors
        self._issuer = issuer
        self._vouching_key = vouching_key
        self.policy = policy
        self._clock = clock
        self._pool: CounselorPool | None = None

    def use_counselor_pool(self, pool: CounselorPool) -> None:
        """Refuse, from now on, entries naming a counselor outside the survivor's
        organization's pool (`OrganizationService` sets this when it is built)."""
        self._pool = pool

    @property
    def vouching_public_key(self) -> bytes:
        """The raw Ed25519 key clients check counselor vouchings with."""
        return self._vouching_key.public_key().public_bytes_raw()

    # -- tickets -------------------------------------------------------------------------

    def issue_ticket(self, account_id: bytes) -> Ticket:
        """A ticket for the account's current period, with the deployment's quota."""
        _check_id(account_id, "an account id")
        return self._issuer.issue(account_id, self._clock(), self.policy.ticket_quota)

    # -- entries -------------------------------------------------------------------------

    def submit_entry(
        self, account_id: bytes, entry_id: bytes, entry_copy: bytes, slots: Sequence[Slot]
    ) -> None:
        """Store an entry and its slots, matching each slot's tag as it is stored.

        Every slot is checked first (§6: sizes, and x bound to the caller's account and
        the tag), as are distinct slot ids and tags; the store checks, inside its
        transaction, that each counselor is registered. A refused entry writes nothing.
        Returns None whether or not anything matched.

        The store writes the entry and its slots in one transaction, so a slot it refuses
        (the account already holds a live slot of that identifier in another entry, or a
        slot id collides) leaves nothing behind either. With a counselor pool
        (`use_counselor_pool`), an entry naming a counselor outside the survivor's
        organization's non-empty pool is refused (OUTSIDE_POOL) before anything is stored.
        """
        _check_id(account_id, "an account id")
        _check_id(entry_id, "an entry id")
        if not entry_copy:
            raise InputError("an entry needs the survivor's encrypted copy")
        if not 1 <= len(slots) <= MAX_SLOTS_PER_ENTRY:
            raise InputError(f"an entry has 1 to {MAX_SLOTS_PER_ENTRY} slots")
        for slot in slots:
            if slot.account_id != account_id:
                raise InputError("a slot must belong to the account that uploads it")
            if len(slot.tag) != TAG_BYTES:
                raise EncodingError(f"a tag is {TAG_BYTES} bytes")
            check_slot(slot)
        if len({s.slot_id for s in slots}) != len(slots):
            raise InputError("two slots of the entry have the same slot id")
        if len({s.tag for s in slots}) != len(slots):
            raise InputError("two slots of the entry are for the same identifier")
        if self._pool is not None:
            # Only counselor ids are compared: the answer is the same whatever the tags.
            pool = self._pool.pool_of_account(account_id)
            if pool and any(s.counselor_id not in pool for s in slots):
                raise InputError(OUTSIDE_POOL)
        self._slots.create_entry_with_slots(
            entry_id, account_id, entry_copy, slots, self.policy.match_threshold, self._clock()
        )

    def list_entries(self, account_id: bytes) -> list[EntryView]:
        """The account's entries with their slots, each "sealed" or "withdrawn"."""
        _check_id(account_id, "an account id")
        by_entry: dict[bytes, list[tuple[bytes, SurvivorState]]] = {}
        for slot in self._slots.list_for_account(account_id):
            by_entry.setdefault(slot.entry_id, []).append((slot.slot_id, slot.state))
        return [
            EntryView(
                entry_id=e.entry_id,
                entry_copy=e.entry_copy,
                created_at_ms=e.created_at_ms,
                withdrawn_at_ms=e.withdrawn_at_ms,
                slots=tuple(by_entry.get(e.entry_id, ())),
            )
            for e in self._slots.list_entries(account_id)
        ]

    def withdraw_entry(self, account_id: bytes, entry_id: bytes) -> None:
        """Withdraw the account's entry; again is a no-op; NotFoundError if it has none."""
        _check_id(account_id, "an account id")
        _check_id(entry_id, "an entry id")
        try:
            self._slots.withdraw_entry(account_id, entry_id, self._clock())
        except InputError as e:
            raise NotFoundError("this account has no such entry") from e

    # -- counselors ----------------------------------------------------------------------

    def register_counselor(
        self,
        counselor_id: str,
        display_name: str,
        public_key: bytes,
        notify_email: str | None = None,
    ) -> NewCounselor:
        """Operator: vouch for a counselor's X25519 key and issue their inbox token.

        `notify_email`, if given, is the counselor's work address for "you have a new
        match" emails (`notalone.services.notifications`); it is checked for syntax only
        and stored normalized, never shown to survivors.
        """
        check_counselor_id(counselor_id)
        address = None if notify_email is None else normalize_notify_email(notify_email)
        name = display_name.strip() if isinstance(display_name, str) else ""
        if not 1 <= len(name) <= MAX_DISPLAY_NAME_CHARS:
            raise InputError(f"a display name is 1 to {MAX_DISPLAY_NAME_CHARS} characters")
        if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_BYTES:
            raise EncodingError(f"a counselor's public key is {PUBLIC_KEY_BYTES} bytes (X25519)")
        record = CounselorRecord(
            id=counselor_id,
            display_name=name,
            public_key=public_key,
            vouching_signature=self._vouching_key.sign(vouching_message(counselor_id, public_key)),
            created_at_ms=self._clock(),
        )
        token = secrets.token_hex(COUNSELOR_TOKEN_BYTES)
        self._counselors.add(record, counselor_token_hash(token), address)
        return NewCounselor(record, token)

    def counselors(self) -> list[CounselorRecord]:
        """Every counselor a survivor may choose, by id."""
        return self._counselors.list_counselors()

    def authenticate_counselor(self, token: str) -> str:
        """The id of the counselor holding `token`, or VerificationError."""
        if not isinstance(token, str) or len(token) != 2 * COUNSELOR_TOKEN_BYTES:
            raise VerificationError(_COUNSELOR_REFUSED)
        counselor_id = self._counselors.counselor_for_token(
            counselor_token_hash(token), self._clock()
        )
        if counselor_id is None:
            raise VerificationError(_COUNSELOR_REFUSED)
        return counselor_id

    def inbox(self, counselor_id: str) -> Sequence[InboxRow]:
        """The sealed packages waiting for the counselor."""
        return self._slots.inbox(counselor_id)


# --------------------------------------------------------------------------- helpers


def check_counselor_id(counselor_id: str) -> None:
    """InputError unless the id is 1 to 64 ASCII letters, digits, '.', '_' or '-'."""
    if not isinstance(counselor_id, str) or not COUNSELOR_ID_PATTERN.fullmatch(counselor_id):
        raise InputError(
            "a counselor id is 1 to 64 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def normalize_notify_email(address: str) -> str:
    """A counselor's notification address, normalized; InputError unless it is a plain
    ASCII address (syntax only: no DNS lookup, no display name, no quoted local part)."""
    if not isinstance(address, str) or not 3 <= len(address) <= MAX_NOTIFY_EMAIL_CHARS:
        raise InputError(f"a notify_email is 3 to {MAX_NOTIFY_EMAIL_CHARS} characters")
    try:
        validated = validate_email(
            address,
            check_deliverability=False,
            # ASCII only: every SMTP server can then carry it (no SMTPUTF8 needed).
            allow_smtputf8=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_empty_local=False,
        )
    except EmailNotValidError as e:
        # The address is not repeated: messages never hold contact data.
        raise InputError("notify_email is not a valid email address") from e
    return str(validated.normalized)


def vouching_message(counselor_id: str, public_key: bytes) -> bytes:
    """What the operator signs to vouch for a counselor's key."""
    check_counselor_id(counselor_id)
    encoded = counselor_id.encode("ascii")
    return VOUCH_DOMAIN + len(encoded).to_bytes(1) + encoded + public_key


def counselor_fingerprint(public_key: bytes) -> str:
    """The key's fingerprint: 16 bytes of a domain-separated SHA-256, hex in groups of 4."""
    digest = hashlib.sha256(FINGERPRINT_DOMAIN + public_key).hexdigest()[:32]
    return "-".join(digest[i : i + 4] for i in range(0, 32, 4))


def counselor_token_hash(token: str) -> bytes:
    """The SHA-256 under which a counselor token is stored."""
    return hashlib.sha256(_TOKEN_LABEL + token.encode("ascii", "replace")).digest()


def _check_id(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != ID_BYTES:
        raise EncodingError(f"{what} is {ID_BYTES} bytes")
