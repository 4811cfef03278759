"""The organization service's own rules: totals per quarter with every count under 5
hidden (boundaries 0, 1, 4, 5, 6 for entries and matches), codes and tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest

from notalone.errors import EncodingError, InputError, VerificationError
from notalone.services.escrow import NotFoundError
from notalone.services.organizations import (
    FEWER_THAN_5,
    Activity,
    AdminRecord,
    OrganizationInfo,
    OrganizationService,
    OrganizationStore,
    admin_token_hash,
    enrollment_code_hash,
    hide_small,
    quarter_of,
    quarters_between,
)

ORG = bytes(16)


def _ms(year: int, month: int, day: int = 1) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


class _Store:
    """Just enough of a store for totals, enrollment codes and authentication."""

    def __init__(self, created_at_ms: int, activity: Activity) -> None:
        self.created_at_ms = created_at_ms
        self._activity = activity
        self.enrollments: list[tuple[bytes, int]] = []

    def organization(self, organization_id: bytes) -> OrganizationInfo | None:
        if organization_id != ORG:
            return None
        return OrganizationInfo(ORG, "Acme", None, self.created_at_ms)

    def activity(self, organization_id: bytes) -> Activity:
        return self._activity

    def add_enrollment(
        self, code_hash: bytes, organization_id: bytes, name: str, expires: int, now: int
    ) -> None:
        self.enrollments.append((code_hash, expires))

    def admin_for_token(self, token_hash: bytes, now_ms: int) -> AdminRecord | None:
        if token_hash == admin_token_hash("ab" * 32):
            return AdminRecord(bytes(16), ORG, "Dana", 0)
        return None


def _service(store: _Store, now_ms: int) -> OrganizationService:
    return OrganizationService(cast(OrganizationStore, store), lambda: now_ms)


@pytest.mark.parametrize("count", [0, 1, 4, 5, 6])
def test_hide_small_at_the_boundaries(count: int) -> None:
    assert hide_small(count) == (count if count >= 5 else FEWER_THAN_5)


def test_totals_by_quarter_hide_small_counts_of_entries_and_matches() -> None:
    # 2026-Q1 .. 2027-Q1 with 0, 1, 4, 5, 6 entries and 6, 5, 4, 1, 0 matches.
    counts = (0, 1, 4, 5, 6)
    entries: list[int] = []
    matches: list[int] = []
    for i, count in enumerate(counts):
        moment = _ms(2026 + i // 4, 3 * (i % 4) + 1, 2)
        entries += [moment + k for k in range(count)]
        matches += [moment + k for k in range(counts[-1 - i])]
    store = _Store(_ms(2026, 1, 1), Activity(entries, matches))
    totals = _service(store, _ms(2027, 2, 1)).totals(ORG)
    assert [(t.quarter, t.entries, t.matches) for t in totals] == [
        ("2027-Q1", 6, FEWER_THAN_5),
        ("2026-Q4", 5, FEWER_THAN_5),
        ("2026-Q3", FEWER_THAN_5, FEWER_THAN_5),
        ("2026-Q2", FEWER_THAN_5, 5),
        ("2026-Q1", FEWER_THAN_5, 6),
    ]
    with pytest.raises(NotFoundError):
        _service(store, _ms(2027, 2, 1)).totals(bytes(range(16)))


def test_quarters() -> None:
    assert quarter_of(_ms(2026, 12, 31)) == "2026-Q4"
    assert quarter_of(_ms(2027, 1, 1)) == "2027-Q1"
    assert quarter_of(_ms(2026, 4, 1) - 1) == "2026-Q1"
    assert quarters_between(_ms(2026, 11, 5), _ms(2027, 4, 1)) == ["2026-Q4", "2027-Q1", "2027-Q2"]
    # A clock behind the creation time still gives the creation quarter, never nothing.
    assert quarters_between(_ms(2026, 11, 5), _ms(2026, 1, 1)) == ["2026-Q4"]


def test_enrollment_codes_are_hashed_normalized_and_bounded() -> None:
    store = _Store(0, Activity([], []))
    service = _service(store, 1000)
    made = service.create_admin_enrollment(ORG, "  Dana ", 5000)
    assert made.expires_at_ms == 6000
    [(code_hash, expires)] = store.enrollments
    assert expires == 6000
    assert code_hash == enrollment_code_hash(made.code)
    assert code_hash == enrollment_code_hash(made.code.lower().replace("-", " "))
    assert made.code not in repr(made)
    assert enrollment_code_hash("0O1IL") == enrollment_code_hash("00111")
    assert enrollment_code_hash("x" * 65) == enrollment_code_hash("")
    for name, ttl in (("", None), ("x" * 201, None), ("Dana", 0), ("Dana", 91 * 86_400_000)):
        with pytest.raises(InputError):
            service.create_admin_enrollment(ORG, name, ttl)
    with pytest.raises(EncodingError):
        service.create_admin_enrollment(b"short", "Dana")
    with pytest.raises(EncodingError):
        service.enroll(made.code, b"\x01" * 31)


def test_admin_tokens() -> None:
    service = _service(_Store(0, Activity([], [])), 0)
    assert service.authenticate("ab" * 32).organization_id == ORG
    for wrong in ("ab" * 31 + "ac", "ab" * 32 + "a", "", "é" * 64):
        with pytest.raises(VerificationError):
            service.authenticate(wrong)
