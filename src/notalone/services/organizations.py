"""Organizations seen by their own administrators: admins, invites, the counselor pool,
totals and the intake of formal reports (docs/protocol.md §14, docs/org-admin-guide.md).

- The operator gives an organization's admin a one-time enrollment code
  (`create_admin_enrollment`); only SHA-256("notalone/v1/escrow/org-admin-enrollment|" ‖
  code) is stored. The admin's browser makes an X25519 key pair, the organization's intake
  key, and redeems the code with its public half (`enroll`): one transaction marks the
  code used, creates the admin and their bearer token, and records the intake key if the
  organization has none. A second admin must send the same key (imported from the first
  admin's backup); another key is a ConflictError and nothing changes.
- Admin tokens are 32 random bytes as hex; only SHA-256("notalone/v1/escrow/
  org-admin-token|" ‖ token) is stored. The label differs from survivors' sessions and
  counselors' tokens, so no kind of token passes as another.
- Totals are per calendar quarter (UTC), from the organization's creation to now; every
  count below `SMALL_COUNT` (zero included) leaves this module as `FEWER_THAN_5`, so the
  exact small number never reaches a page, a log or a response. Zero is hidden too: "none
  this quarter" against "fewer than 5" would tell an admin that one of a handful of people
  they may know filed.
- The counselor pool only narrows the survivors' choice; `EscrowService.submit_entry`
  asks `pool_of_account` and refuses an entry naming a counselor outside a non-empty pool
  (the check reads counselor ids only, never tags).

Nothing here logs, and no error message holds a code, token, key or name.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from notalone.crypto.ct import bytes_eq
from notalone.errors import EncodingError, InputError, VerificationError
from notalone.services import enrollment
from notalone.services.escrow import (
    MAX_DISPLAY_NAME_CHARS,
    CounselorRecord,
    EscrowService,
    NotFoundError,
    check_counselor_id,
)

ADMIN_ID_BYTES = 16
ADMIN_TOKEN_BYTES = 32
PUBLIC_KEY_BYTES = 32
ORGANIZATION_ID_BYTES = 16
#: Invites are listed by the first bytes of their code's hash (never the code).
INVITE_ID_BYTES = 8
#: Counts below this leave the server as FEWER_THAN_5.
SMALL_COUNT = 5
FEWER_THAN_5 = "fewer than 5"

DEFAULT_ENROLLMENT_TTL_MS = enrollment.DEFAULT_ENROLLMENT_TTL_MS
MAX_ENROLLMENT_TTL_MS = enrollment.MAX_ENROLLMENT_TTL_MS
ENROLLMENT_REFUSED = enrollment.ENROLLMENT_REFUSED

_ADMIN_TOKEN_LABEL = b"notalone/v1/escrow/org-admin-token|"
_ENROLLMENT_LABEL = b"notalone/v1/escrow/org-admin-enrollment|"

Clock = Callable[[], int]

INTAKE_KEY_DIFFERS = (
    "this organization already has another intake key; import the backup of an existing "
    "admin of the organization and enroll with its key"
)
INVITE_REVOKED = "this invite code has been revoked; ask the organization for a new one"
NO_ORGANIZATION = "there is no such organization"
NO_INVITE = "this organization has no such invite"
NO_COUNSELOR = "there is no such counselor"
_ADMIN_REFUSED = "this route needs a valid organization admin token"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class OrganizationInfo:
    """An organization as anyone may see it."""

    id: bytes
    name: str
    intake_public_key: bytes | None
    created_at_ms: int


@dataclass(frozen=True)
class AdminRecord:
    """An organization's admin as stored."""

    id: bytes
    organization_id: bytes
    display_name: str
    created_at_ms: int


@dataclass(frozen=True)
class NewEnrollment:
    """A one-time enrollment code, shown once to the operator."""

    code: str = field(repr=False)
    organization_id: bytes
    expires_at_ms: int


@dataclass(frozen=True)
class NewAdmin:
    """An enrolled admin and their token (given to their browser once)."""

    admin_id: bytes
    organization_id: bytes
    token: str = field(repr=False)


@dataclass(frozen=True)
class InviteInfo:
    """An invite as its organization's admin sees it: never the code."""

    id: str
    uses: int
    max_uses: int
    created_at_ms: int
    expires_at_ms: int | None
    revoked: bool


@dataclass(frozen=True)
class PoolCounselor:
    """A counselor, and whether the organization's pool holds them."""

    counselor: CounselorRecord
    in_pool: bool


@dataclass(frozen=True)
class ReportInfo:
    """A sealed formal report addressed to the organization."""

    id: bytes
    match_id: bytes
    counselor_id: str
    counselor_name: str
    sealed: bytes
    created_at_ms: int


@dataclass(frozen=True)
class Activity:
    """What totals are made of: when each entry was made and each match first included one
    of the organization's survivors (ms since the epoch)."""

    entry_times_ms: Sequence[int]
    match_times_ms: Sequence[int]


@dataclass(frozen=True)
class QuarterTotals:
    """One quarter's totals; each count is a number of at least 5 or FEWER_THAN_5."""

    quarter: str
    entries: int | str
    matches: int | str


# --------------------------------------------------------------------------- port


class OrganizationStore(Protocol):
    """Persistence of admins, enrollments, pools, invites' state, totals and reports."""

    def organizations(self) -> list[OrganizationInfo]:
        """Every organization, by name."""

    def organization(self, organization_id: bytes) -> OrganizationInfo | None:
        """One organization, or None."""

    def add_enrollment(
        self,
        code_hash: bytes,
        organization_id: bytes,
        display_name: str,
        expires_at_ms: int,
        now_ms: int,
    ) -> None:
        """Store an enrollment code's hash; NotFoundError without the organization."""

    def enroll(
        self,
        code_hash: bytes,
        intake_public_key: bytes,
        admin_id: bytes,
        token_hash: bytes,
        now_ms: int,
    ) -> bytes:
        """In one transaction: use the code (unused, unexpired; else InputError
        ENROLLMENT_REFUSED), record the intake key if the organization has none
        (ConflictError INTAKE_KEY_DIFFERS if it has another), create the admin and their
        token. Return the organization id."""

    def admin_for_token(self, token_hash: bytes, now_ms: int) -> AdminRecord | None:
        """The admin whose unexpired token hashes to `token_hash`, or None."""

    def admins(self, organization_id: bytes) -> list[AdminRecord]:
        """The organization's admins, oldest first."""

    def invites(self, organization_id: bytes) -> list[tuple[bytes, InviteInfo]]:
        """The organization's invites with their code hashes, oldest first."""

    def revoke_invite(self, organization_id: bytes, code_hash: bytes, now_ms: int) -> None:
        """Set the invite's revocation time (kept if set); NotFoundError if the
        organization has no such invite."""

    def counselors(self) -> list[CounselorRecord]:
        """Every counselor, by id."""

    def pool(self, organization_id: bytes) -> frozenset[str]:
        """The ids of the counselors in the organization's pool."""

    def add_to_pool(self, organization_id: bytes, counselor_id: str, now_ms: int) -> None:
        """Add a counselor to the pool (again: no-op); NotFoundError if none has the id."""

    def remove_from_pool(self, organization_id: bytes, counselor_id: str) -> None:
        """Remove a counselor from the pool (absent: no-op)."""

    def pool_of_account(self, account_id: bytes) -> frozenset[str]:
        """The pool of the account's organization (empty: every counselor)."""

    def activity(self, organization_id: bytes) -> Activity:
        """The times totals are counted from."""

    def reports(self, organization_id: bytes) -> list[ReportInfo]:
        """The reports sent to the organization, oldest first."""


# --------------------------------------------------------------------------- service


class OrganizationService:
    """Admins and what they manage; every admin method is scoped to the admin's own
    organization id, which comes from their token, never from the request."""

    def __init__(
        self, store: OrganizationStore, clock: Clock, escrow: EscrowService | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        if escrow is not None:
            # Entries are checked against the pool where they are written (submit_entry).
            escrow.use_counselor_pool(store)

    # -- public --------------------------------------------------------------------------

    def organizations(self) -> list[OrganizationInfo]:
        """Every organization with its intake key (None until an admin enrolled)."""
        return self._store.organizations()

    # -- operator ------------------------------------------------------------------------

    def create_admin_enrollment(
        self, organization_id: bytes, display_name: str, ttl_ms: int | None = None
    ) -> NewEnrollment:
        """A one-time code with which the admin named `display_name` enrolls."""
        _check_organization_id(organization_id)
        name = _display_name(display_name)
        now_ms = self._clock()
        expires_at_ms = enrollment.expiry_ms(now_ms, ttl_ms)
        code = enrollment.new_code()
        self._store.add_enrollment(
            enrollment_code_hash(code), organization_id, name, expires_at_ms, now_ms
        )
        return NewEnrollment(code, organization_id, expires_at_ms)

    # -- admins --------------------------------------------------------------------------

    def enroll(self, code: str, intake_public_key: bytes) -> NewAdmin:
        """Redeem an enrollment code with the organization's intake key (see the module)."""
        if not isinstance(intake_public_key, bytes) or len(intake_public_key) != PUBLIC_KEY_BYTES:
            raise EncodingError(f"an intake key is {PUBLIC_KEY_BYTES} bytes (X25519)")
        if not any(intake_public_key):
            raise EncodingError("an intake key cannot be all zero")
        admin_id = secrets.token_bytes(ADMIN_ID_BYTES)
        token = secrets.token_hex(ADMIN_TOKEN_BYTES)
        organization_id = self._store.enroll(
            enrollment_code_hash(code),
            intake_public_key,
            admin_id,
            admin_token_hash(token),
            self._clock(),
        )
        return NewAdmin(admin_id, organization_id, token)

    def authenticate(self, token: str) -> AdminRecord:
        """The admin holding `token`, or VerificationError."""
        if not isinstance(token, str) or len(token) != 2 * ADMIN_TOKEN_BYTES:
            raise VerificationError(_ADMIN_REFUSED)
        admin = self._store.admin_for_token(admin_token_hash(token), self._clock())
        if admin is None:
            raise VerificationError(_ADMIN_REFUSED)
        return admin

    def organization(self, organization_id: bytes) -> tuple[OrganizationInfo, list[AdminRecord]]:
        """The admin's organization and its admins."""
        found = self._store.organization(organization_id)
        if found is None:
            raise NotFoundError(NO_ORGANIZATION)
        return found, self._store.admins(organization_id)

    # -- invites -------------------------------------------------------------------------

    def invites(self, organization_id: bytes) -> list[InviteInfo]:
        """The organization's invites (codes are never shown again)."""
        return [info for _, info in self._store.invites(organization_id)]

    def revoke_invite(self, organization_id: bytes, invite_id: str) -> None:
        """Revoke the organization's invite `invite_id` (again: no-op)."""
        for code_hash, info in self._store.invites(organization_id):
            if info.id == invite_id:
                self._store.revoke_invite(organization_id, code_hash, self._clock())
                return
        raise NotFoundError(NO_INVITE)

    # -- counselor pool ------------------------------------------------------------------

    def counselors(self, organization_id: bytes) -> list[PoolCounselor]:
        """Every counselor, each marked in or out of the organization's pool."""
        pool = self._store.pool(organization_id)
        return [PoolCounselor(c, c.id in pool) for c in self._store.counselors()]

    def add_to_pool(self, organization_id: bytes, counselor_id: str) -> None:
        """Add a counselor to the organization's pool."""
        check_counselor_id(counselor_id)
        self._store.add_to_pool(organization_id, counselor_id, self._clock())

    def remove_from_pool(self, organization_id: bytes, counselor_id: str) -> None:
        """Remove a counselor from the organization's pool."""
        check_counselor_id(counselor_id)
        self._store.remove_from_pool(organization_id, counselor_id)

    def counselors_for_survivor(self, organization_id: bytes) -> list[CounselorRecord]:
        """The counselors a survivor of the organization may choose: the pool, or every
        counselor when the pool is empty."""
        pool = self._store.pool(organization_id)
        everyone = self._store.counselors()
        return everyone if not pool else [c for c in everyone if c.id in pool]

    # -- totals and reports --------------------------------------------------------------

    def totals(self, organization_id: bytes) -> list[QuarterTotals]:
        """Per quarter since the organization's creation, newest first: entries made by its
        survivors and matches that include one of their slots, small counts hidden."""
        found = self._store.organization(organization_id)
        if found is None:
            raise NotFoundError(NO_ORGANIZATION)
        activity = self._store.activity(organization_id)
        entries = _count_by_quarter(activity.entry_times_ms)
        matches = _count_by_quarter(activity.match_times_ms)
        return [
            QuarterTotals(q, hide_small(entries.get(q, 0)), hide_small(matches.get(q, 0)))
            for q in reversed(quarters_between(found.created_at_ms, self._clock()))
        ]

    def reports(self, organization_id: bytes) -> list[ReportInfo]:
        """The sealed reports sent to the organization (opened in an admin's browser)."""
        return self._store.reports(organization_id)


# --------------------------------------------------------------------------- helpers


def admin_token_hash(token: str) -> bytes:
    """The SHA-256 under which an admin token is stored."""
    return hashlib.sha256(_ADMIN_TOKEN_LABEL + token.encode("ascii", "replace")).digest()


def enrollment_code_hash(code: str) -> bytes:
    """The SHA-256 under which an enrollment code is stored (of its normalized form)."""
    return enrollment.code_hash(_ENROLLMENT_LABEL, code)


def invite_id(code_hash: bytes) -> str:
    """An invite's public handle: the first bytes of its code's hash, as hex."""
    return code_hash[:INVITE_ID_BYTES].hex()


def hide_small(count: int) -> int | str:
    """`count` if it is at least SMALL_COUNT, else FEWER_THAN_5 (zero included)."""
    return count if count >= SMALL_COUNT else FEWER_THAN_5


def quarter_of(ms: int) -> str:
    """The calendar quarter (UTC) of a time in ms, as "2026-Q4"."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def quarters_between(start_ms: int, end_ms: int) -> list[str]:
    """Every quarter from the one of `start_ms` to the one of `end_ms`, oldest first."""
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    end = datetime.fromtimestamp(max(start_ms, end_ms) / 1000, tz=UTC)
    index = start.year * 4 + (start.month - 1) // 3
    last = end.year * 4 + (end.month - 1) // 3
    return [f"{i // 4}-Q{i % 4 + 1}" for i in range(index, last + 1)]


def _count_by_quarter(times_ms: Sequence[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ms in times_ms:
        quarter = quarter_of(ms)
        counts[quarter] = counts.get(quarter, 0) + 1
    return counts


def _display_name(value: str) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(name) <= MAX_DISPLAY_NAME_CHARS:
        raise InputError(f"a display name is 1 to {MAX_DISPLAY_NAME_CHARS} characters")
    return name


def _check_organization_id(value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != ORGANIZATION_ID_BYTES:
        raise EncodingError(f"an organization id is {ORGANIZATION_ID_BYTES} bytes")


def same_key(a: bytes, b: bytes) -> bool:
    """Constant-time equality of two public keys (they are public, but cheap to do right)."""
    return bytes_eq(a, b)
