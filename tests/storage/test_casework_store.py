"""The SQL casework store on SQLite and PostgreSQL: enrollment, cases, notes, reports."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from notalone.errors import ConflictError, InputError
from notalone.services.casework import ENROLLMENT_REFUSED, NO_INTAKE_KEY
from notalone.services.escrow import NotFoundError
from notalone.storage.casework import SqlCaseworkStore
from notalone.storage.models import (
    Case,
    CaseNote,
    Counselor,
    CounselorEnrollment,
    CounselorToken,
    InboxItem,
    OrganizationKey,
    Report,
)
from tests.storage.conftest import NOW_MS, World

SIGNATURE = bytes(64)


def _vouch(counselor_id: str) -> bytes:
    return counselor_id.encode().ljust(64, b"\x00")


def _count(world: World, model: type) -> int:
    with world.database.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _match(world: World) -> bytes:
    """Two survivors name one person, through c-ana and c-ben: one match."""
    y = secrets.token_bytes(64)
    world.submit(y, "c-ana")
    world.submit(y, "c-ben")
    with world.database.read() as session:
        return bytes(session.scalars(select(InboxItem.match_id)).first() or b"")


# -- enrollment ----------------------------------------------------------------------------


def test_an_enrollment_code_works_once_and_creates_counselor_and_token(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    code_hash, token_hash, key = (
        secrets.token_bytes(32),
        secrets.token_bytes(32),
        secrets.token_bytes(32),
    )
    store.add_enrollment(code_hash, "c-new", "Dr New", "new@example.org", NOW_MS + 1000, NOW_MS)
    record = store.enroll(code_hash, key, _vouch, token_hash, NOW_MS + 10)
    assert (record.id, record.display_name, record.public_key) == ("c-new", "Dr New", key)
    assert record.vouching_signature == _vouch("c-new")
    with world.database.read() as session:
        row = session.get(Counselor, "c-new")
        assert row is not None
        assert row.notify_email == "new@example.org"
        token = session.get(CounselorToken, token_hash)
        assert token is not None
        assert token.counselor_id == "c-new"
        enrollment = session.get(CounselorEnrollment, code_hash)
        assert enrollment is not None
        assert enrollment.used_at_ms == NOW_MS + 10
    with pytest.raises(InputError, match="already used"):
        store.enroll(
            code_hash, secrets.token_bytes(32), _vouch, secrets.token_bytes(32), NOW_MS + 20
        )
    assert _count(world, CounselorToken) == 1


def test_unknown_and_expired_codes_change_nothing(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    code_hash = secrets.token_bytes(32)
    store.add_enrollment(code_hash, "c-late", "Dr Late", None, NOW_MS + 1000, NOW_MS)
    for attempt, now in ((secrets.token_bytes(32), NOW_MS), (code_hash, NOW_MS + 1000)):
        with pytest.raises(InputError) as refused:
            store.enroll(attempt, secrets.token_bytes(32), _vouch, secrets.token_bytes(32), now)
        assert str(refused.value) == ENROLLMENT_REFUSED
    with world.database.read() as session:
        enrollment = session.get(CounselorEnrollment, code_hash)
        assert enrollment is not None
        assert enrollment.used_at_ms is None
        assert session.get(Counselor, "c-late") is None


def test_a_taken_key_or_id_is_a_conflict_and_the_code_stays_unused(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    taken_key = world.counselor_keys["c-ana"][1]
    code_hash = secrets.token_bytes(32)
    store.add_enrollment(code_hash, "c-dup", "Dr Dup", None, NOW_MS + 1000, NOW_MS)
    with pytest.raises(ConflictError):
        store.enroll(code_hash, taken_key, _vouch, secrets.token_bytes(32), NOW_MS)
    with world.database.read() as session:
        enrollment = session.get(CounselorEnrollment, code_hash)
        assert enrollment is not None
        assert enrollment.used_at_ms is None
    # The code still works with a fresh key.
    assert (
        store.enroll(code_hash, secrets.token_bytes(32), _vouch, secrets.token_bytes(32), NOW_MS).id
        == "c-dup"
    )
    # An id that is registered already cannot get a code.
    with pytest.raises(ConflictError):
        store.add_enrollment(secrets.token_bytes(32), "c-ana", "Ana", None, NOW_MS + 1000, NOW_MS)


def test_a_new_code_for_the_same_id_replaces_the_unused_one(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    store.add_enrollment(old, "c-x", "X", None, NOW_MS + 1000, NOW_MS)
    store.add_enrollment(new, "c-x", "X", None, NOW_MS + 1000, NOW_MS)
    with pytest.raises(InputError):
        store.enroll(old, secrets.token_bytes(32), _vouch, secrets.token_bytes(32), NOW_MS)
    assert (
        store.enroll(new, secrets.token_bytes(32), _vouch, secrets.token_bytes(32), NOW_MS).id
        == "c-x"
    )


def test_parallel_redemptions_of_one_code_enroll_once(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    code_hash = secrets.token_bytes(32)
    store.add_enrollment(code_hash, "c-race", "Race", None, NOW_MS + 1000, NOW_MS)

    def redeem(_: int) -> str:
        try:
            return store.enroll(
                code_hash, secrets.token_bytes(32), _vouch, secrets.token_bytes(32), NOW_MS
            ).id
        except (InputError, ConflictError) as e:
            return type(e).__name__

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(redeem, range(8)))
    assert outcomes.count("c-race") == 1
    assert _count(world, CounselorToken) == 1


# -- cases ---------------------------------------------------------------------------------


def test_cases_show_own_packages_and_other_counselors_only(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    match_id = _match(world)
    [ana_case] = store.cases("c-ana")
    assert ana_case.match_id == match_id
    assert ana_case.state == "new"
    assert len(ana_case.packages) == 1
    assert ana_case.other_counselors == (("c-ben", "Counselor c-ben"),)
    [ben_case] = store.cases("c-ben")
    assert ben_case.other_counselors == (("c-ana", "Counselor c-ana"),)
    # Each sees only their own package (the inner boxes differ).
    assert ana_case.packages[0].slot_id != ben_case.packages[0].slot_id
    world.counselor("c-cy")
    assert store.cases("c-cy") == []


def test_states_move_only_forward(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    match_id = _match(world)
    with pytest.raises(ConflictError):
        store.set_state("c-ana", match_id, "new", NOW_MS)
    view = store.set_state("c-ana", match_id, "contacted", NOW_MS + 5)
    assert (view.state, view.updated_at_ms) == ("contacted", NOW_MS + 5)
    for back in ("new", "contacted"):
        with pytest.raises(ConflictError):
            store.set_state("c-ana", match_id, back, NOW_MS + 6)
    assert store.set_state("c-ana", match_id, "closed", NOW_MS + 7).state == "closed"
    with pytest.raises(ConflictError):
        store.set_state("c-ana", match_id, "closed", NOW_MS + 8)
    # The other counselor's case of the same match is their own.
    assert store.cases("c-ben")[0].state == "new"
    assert store.set_state("c-ben", match_id, "closed", NOW_MS).state == "closed"


def test_a_match_not_held_is_not_found_for_every_case_operation(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    match_id = _match(world)
    world.counselor("c-cy")
    with world.database.transaction() as session:
        session.add(
            OrganizationKey(
                organization_id=world.organization_id, public_key=bytes(32), created_at_ms=NOW_MS
            )
        )
    for match in (match_id, secrets.token_bytes(16)):
        with pytest.raises(NotFoundError):
            store.set_state("c-cy", match, "contacted", NOW_MS)
        with pytest.raises(NotFoundError):
            store.add_note("c-cy", match, secrets.token_bytes(16), b"\x01note", NOW_MS)
        with pytest.raises(NotFoundError):
            store.notes("c-cy", match)
        with pytest.raises(NotFoundError):
            store.add_report(
                "c-cy", match, world.organization_id, secrets.token_bytes(16), b"\x01r", NOW_MS
            )
    assert _count(world, Case) == 0
    assert _count(world, CaseNote) == 0
    assert _count(world, Report) == 0


def test_notes_are_the_counselors_own(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    match_id = _match(world)
    first, second = secrets.token_bytes(16), secrets.token_bytes(16)
    store.add_note("c-ana", match_id, first, b"\x01first", NOW_MS + 1)
    store.add_note("c-ana", match_id, second, b"\x01second", NOW_MS + 2)
    assert [(n.id, n.sealed) for n in store.notes("c-ana", match_id)] == [
        (first, b"\x01first"),
        (second, b"\x01second"),
    ]
    assert store.notes("c-ben", match_id) == []
    # The first note made the case row, still "new".
    assert store.cases("c-ana")[0].state == "new"


def test_a_report_needs_an_intake_key(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    match_id = _match(world)
    with pytest.raises(InputError) as refused:
        store.add_report(
            "c-ana", match_id, world.organization_id, secrets.token_bytes(16), b"\x01r", NOW_MS
        )
    assert str(refused.value) == NO_INTAKE_KEY
    assert _count(world, Report) == 0
    with world.database.transaction() as session:
        session.add(
            OrganizationKey(
                organization_id=world.organization_id, public_key=bytes(32), created_at_ms=NOW_MS
            )
        )
    report_id = secrets.token_bytes(16)
    store.add_report("c-ana", match_id, world.organization_id, report_id, b"\x01r", NOW_MS)
    with world.database.read() as session:
        row = session.get(Report, report_id)
        assert row is not None
        assert (row.counselor_id, row.match_id, row.sealed) == ("c-ana", match_id, b"\x01r")


def test_racing_first_writes_of_a_case_all_land(world: World) -> None:
    store = SqlCaseworkStore(world.database)
    match_id = _match(world)

    def note(i: int) -> None:
        store.add_note("c-ana", match_id, secrets.token_bytes(16), b"\x01" + bytes([i]), NOW_MS)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(note, range(6)))
    assert len(store.notes("c-ana", match_id)) == 6
    assert _count(world, Case) == 1
