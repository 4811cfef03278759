"""The counselor console (docs/protocol.md §13): enrollment in the browser, cases, case
notes and formal reports.

- Enrollment. The operator creates a one-time code for a counselor id and name
  (`create_enrollment`); only SHA-256("notalone/v1/escrow/counselor-enrollment|" ‖ code)
  is stored. The counselor's browser makes an X25519 key pair and redeems the code with
  the public half (`enroll`): one transaction marks the code used, creates the counselor
  with the operator's vouching signature over `vouching_message(id, key)` and their
  bearer token. By handing the code over in person the operator vouches for whoever
  holds it: the escrow signs on the operator's behalf what the code's holder sends. An
  unknown, used or expired code, or an id or key already registered, changes nothing.
- Cases. A counselor's case of a match exists as soon as they hold a package of it; its
  state moves only forward, new → contacted → closed (skipping ahead is allowed: a
  survivor who cannot be reached is closed without contact); anything else is a
  ConflictError. A counselor sees, for each case, the ids and names of the other
  counselors holding packages of the same match, never those packages.
- Notes and reports are sealed in the browser (`protocol.casework`, `protocol.reports`):
  the escrow stores bytes it cannot open. A match the counselor holds no package of is a
  NotFoundError, the same answer as a match that does not exist.

Nothing here logs, and no error message holds a code, token, key, note or report.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notalone.errors import ConflictError, EncodingError, InputError
from notalone.protocol.casework import MATCH_ID_BYTES, MAX_SEALED_BYTES
from notalone.services import enrollment
from notalone.services.escrow import (
    COUNSELOR_TOKEN_BYTES,
    MAX_DISPLAY_NAME_CHARS,
    PUBLIC_KEY_BYTES,
    CounselorRecord,
    check_counselor_id,
    counselor_fingerprint,
    counselor_token_hash,
    normalize_notify_email,
    vouching_message,
)

CASE_NEW = "new"
CASE_CONTACTED = "contacted"
CASE_CLOSED = "closed"
#: The order cases move in; a state can only be followed by a later one.
CASE_STATES = (CASE_NEW, CASE_CONTACTED, CASE_CLOSED)
ORGANIZATION_ID_BYTES = 16
NOTE_ID_BYTES = 16
DEFAULT_ENROLLMENT_TTL_MS = enrollment.DEFAULT_ENROLLMENT_TTL_MS
MAX_ENROLLMENT_TTL_MS = enrollment.MAX_ENROLLMENT_TTL_MS
ENROLLMENT_REFUSED = enrollment.ENROLLMENT_REFUSED

_ENROLLMENT_LABEL = b"notalone/v1/escrow/counselor-enrollment|"

Clock = Callable[[], int]
Signer = Callable[[str], bytes]

NO_SUCH_CASE = "you hold no package of this match"
STATE_NOT_FORWARD = "a case moves only forward: new, then contacted, then closed"
NO_INTAKE_KEY = "this organization cannot receive reports yet (it has no intake key)"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class NewEnrollment:
    """An enrollment code (shown once to the operator) and when it expires."""

    code: str = field(repr=False)
    counselor_id: str
    expires_at_ms: int


@dataclass(frozen=True)
class EnrolledCounselor:
    """A counselor just enrolled, with their bearer token (shown once)."""

    counselor: CounselorRecord
    token: str = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """The key's fingerprint, for comparing with what survivors see."""
        return counselor_fingerprint(self.counselor.public_key)


@dataclass(frozen=True)
class CasePackage:
    """A sealed package of the case (open it with `protocol.slots.open_package`)."""

    slot_id: bytes
    inner: bytes = field(repr=False)
    created_at_ms: int


@dataclass(frozen=True)
class CaseView:
    """One case as its counselor sees it."""

    match_id: bytes
    state: str
    updated_at_ms: int
    packages: tuple[CasePackage, ...]
    #: (id, display name) of the other counselors holding packages of the match.
    other_counselors: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SealedItem:
    """A sealed note as stored."""

    id: bytes
    sealed: bytes = field(repr=False)
    created_at_ms: int


# --------------------------------------------------------------------------- port


class CaseworkStore(Protocol):
    """Enrollments, cases, notes and reports (`notalone.storage.casework.SqlCaseworkStore`)."""

    def add_enrollment(
        self,
        code_hash: bytes,
        counselor_id: str,
        display_name: str,
        notify_email: str | None,
        expires_at_ms: int,
        now_ms: int,
    ) -> None:
        """Store a code's hash, replacing an unused code of the same id; ConflictError if
        a counselor has the id already."""
        ...

    def enroll(
        self, code_hash: bytes, public_key: bytes, vouch: Signer, token_hash: bytes, now_ms: int
    ) -> CounselorRecord:
        """In one transaction: use the code (InputError(ENROLLMENT_REFUSED) unless it is
        unused and unexpired), create the counselor signed by `vouch(id)` and their token;
        ConflictError if the id or key is taken. All or nothing."""
        ...

    def cases(self, counselor_id: str) -> list[CaseView]:
        """The counselor's cases, most recently updated first."""
        ...

    def set_state(self, counselor_id: str, match_id: bytes, state: str, now_ms: int) -> CaseView:
        """Move the case forward (NotFoundError, ConflictError); the case as it now is."""
        ...

    def add_note(
        self, counselor_id: str, match_id: bytes, note_id: bytes, sealed: bytes, now_ms: int
    ) -> None:
        """Store a sealed note of the counselor's case (NotFoundError)."""
        ...

    def notes(self, counselor_id: str, match_id: bytes) -> list[SealedItem]:
        """The case's notes, oldest first (NotFoundError)."""
        ...

    def add_report(
        self,
        counselor_id: str,
        match_id: bytes,
        organization_id: bytes,
        report_id: bytes,
        sealed: bytes,
        now_ms: int,
    ) -> None:
        """Store a sealed report (NotFoundError; InputError(NO_INTAKE_KEY) if the
        organization has no intake key)."""
        ...


# --------------------------------------------------------------------------- service


class CaseworkService:
    """Counselor enrollment and casework; every case method is scoped to the counselor
    id their token gave, never to an id in the request."""

    def __init__(self, store: CaseworkStore, vouching_key: Ed25519PrivateKey, clock: Clock) -> None:
        self._store = store
        self._vouching_key = vouching_key
        self._clock = clock

    # -- operator ------------------------------------------------------------------------

    def create_enrollment(
        self,
        counselor_id: str,
        display_name: str,
        notify_email: str | None = None,
        ttl_ms: int | None = None,
    ) -> NewEnrollment:
        """A one-time code with which the counselor enrolls the key made in their browser."""
        check_counselor_id(counselor_id)
        name = display_name.strip() if isinstance(display_name, str) else ""
        if not 1 <= len(name) <= MAX_DISPLAY_NAME_CHARS:
            raise InputError(f"a display name is 1 to {MAX_DISPLAY_NAME_CHARS} characters")
        address = None if notify_email is None else normalize_notify_email(notify_email)
        now_ms = self._clock()
        expires_at_ms = enrollment.expiry_ms(now_ms, ttl_ms)
        code = enrollment.new_code()
        self._store.add_enrollment(
            enrollment_code_hash(code), counselor_id, name, address, expires_at_ms, now_ms
        )
        return NewEnrollment(code, counselor_id, expires_at_ms)

    # -- counselor -----------------------------------------------------------------------

    def enroll(self, code: str, public_key: bytes) -> EnrolledCounselor:
        """Redeem an enrollment code with the public key made in the counselor's browser."""
        if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_BYTES:
            raise EncodingError(f"a counselor's public key is {PUBLIC_KEY_BYTES} bytes (X25519)")
        if not any(public_key):
            raise EncodingError("a counselor's public key cannot be all zero")
        token = secrets.token_hex(COUNSELOR_TOKEN_BYTES)

        def vouch(counselor_id: str) -> bytes:
            return self._vouching_key.sign(vouching_message(counselor_id, public_key))

        record = self._store.enroll(
            enrollment_code_hash(code),
            public_key,
            vouch,
            counselor_token_hash(token),
            self._clock(),
        )
        return EnrolledCounselor(record, token)

    def cases(self, counselor_id: str) -> list[CaseView]:
        """The counselor's cases, most recently updated first."""
        return self._store.cases(counselor_id)

    def set_state(self, counselor_id: str, match_id: bytes, state: str) -> CaseView:
        """Move a case forward to `state`."""
        _check_id(match_id, "a match id", MATCH_ID_BYTES)
        if state not in CASE_STATES:
            raise InputError("a case state is new, contacted or closed")
        return self._store.set_state(counselor_id, match_id, state, self._clock())

    def add_note(self, counselor_id: str, match_id: bytes, sealed: bytes) -> bytes:
        """Store a note sealed to the counselor's own key; returns its id."""
        _check_id(match_id, "a match id", MATCH_ID_BYTES)
        _check_sealed(sealed)
        note_id = secrets.token_bytes(NOTE_ID_BYTES)
        self._store.add_note(counselor_id, match_id, note_id, sealed, self._clock())
        return note_id

    def notes(self, counselor_id: str, match_id: bytes) -> list[SealedItem]:
        """The case's sealed notes, oldest first."""
        _check_id(match_id, "a match id", MATCH_ID_BYTES)
        return self._store.notes(counselor_id, match_id)

    def send_report(
        self, counselor_id: str, match_id: bytes, organization_id: bytes, sealed: bytes
    ) -> bytes:
        """Store a report sealed to the organization's intake key; returns its id."""
        _check_id(match_id, "a match id", MATCH_ID_BYTES)
        _check_id(organization_id, "an organization id", ORGANIZATION_ID_BYTES)
        _check_sealed(sealed)
        report_id = secrets.token_bytes(NOTE_ID_BYTES)
        self._store.add_report(
            counselor_id, match_id, organization_id, report_id, sealed, self._clock()
        )
        return report_id


# --------------------------------------------------------------------------- helpers


def enrollment_code_hash(code: str) -> bytes:
    """The SHA-256 under which an enrollment code is stored (of its normalized form)."""
    return enrollment.code_hash(_ENROLLMENT_LABEL, code)


def state_follows(current: str, wanted: str) -> bool:
    """Whether a case in `current` may move to `wanted` (strictly later)."""
    return CASE_STATES.index(wanted) > CASE_STATES.index(current)


def forward_or_conflict(current: str, wanted: str) -> None:
    """ConflictError unless `wanted` is later than `current`."""
    if not state_follows(current, wanted):
        raise ConflictError(STATE_NOT_FORWARD)


def _check_id(value: bytes, what: str, length: int) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise EncodingError(f"{what} is {length} bytes")


def _check_sealed(sealed: bytes) -> None:
    if not isinstance(sealed, bytes) or not 1 <= len(sealed) <= MAX_SEALED_BYTES:
        raise EncodingError(f"a sealed note or report is 1 to {MAX_SEALED_BYTES} bytes")
    if sealed[:1] != b"\x01":
        raise EncodingError("a sealed note or report starts with its version, 0x01")
