"""The outbox on SQLite and PostgreSQL: rows written by matching, in its transaction, and
claimed so that no two claimers get the same row.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from sqlalchemy import text, update

from notalone.errors import InputError
from notalone.services import notifications
from notalone.storage import models
from notalone.storage.engine import Database
from notalone.storage.models import Counselor
from notalone.storage.outbox import SqlOutbox, claim, enqueue_new_match
from tests.storage.conftest import NOW_MS, DatabaseFactory, World

LEASE_MS = 60_000


def _y() -> bytes:
    return secrets.token_bytes(64)


def _notify(database: Database, counselor_id: str, address: str | None) -> None:
    with database.transaction() as session:
        session.execute(
            update(Counselor).where(Counselor.id == counselor_id).values(notify_email=address)
        )


@pytest.fixture
def outbox(world: World) -> SqlOutbox:
    _notify(world.database, "c-ana", "ana@counsel.example")
    _notify(world.database, "c-ben", "ben@counsel.example")
    world.counselor("c-cy")  # no notify_email: never gets a row
    return SqlOutbox(world.database)


def _owed(outbox: SqlOutbox) -> list[str]:
    return [row.counselor_id for row in outbox.rows()]


# -- written by matching ---------------------------------------------------------------------


def test_a_match_owes_each_of_its_counselors_one_notification(
    world: World, outbox: SqlOutbox
) -> None:
    y = _y()
    world.submit(y, "c-ana")
    assert outbox.rows() == []  # one survivor: nothing matched, nothing owed
    world.submit(y, "c-ben")
    rows = outbox.rows()
    assert sorted(_owed(outbox)) == ["c-ana", "c-ben"]
    for row in rows:
        assert (row.kind, row.created_at_ms, row.attempts) == ("new-match", NOW_MS, 0)
        assert (row.next_attempt_at_ms, row.delivered_at_ms, row.last_error_kind) == (
            NOW_MS,
            None,
            None,
        )


def test_a_counselor_without_notify_email_gets_no_row(world: World, outbox: SqlOutbox) -> None:
    y = _y()
    world.submit(y, "c-cy")
    world.submit(y, "c-ana")
    assert len(world.repository.inbox("c-cy")) == 1  # the package arrived all the same
    assert _owed(outbox) == ["c-ana"]


def test_one_row_per_counselor_even_with_several_new_packages(
    world: World, outbox: SqlOutbox
) -> None:
    # Threshold 3: the third insert opens three slots at once, two of them for c-ana.
    y = _y()
    for counselor_id in ("c-ana", "c-ana", "c-ben"):
        world.submit(y, counselor_id, threshold=3)
    assert len(world.repository.inbox("c-ana")) == 2
    assert sorted(_owed(outbox)) == ["c-ana", "c-ben"]


def test_a_survivor_joining_later_owes_only_their_counselor(
    world: World, outbox: SqlOutbox
) -> None:
    y = _y()
    world.submit(y, "c-ana")
    world.submit(y, "c-ben")
    world.submit(y, "c-ana")
    # The joiner's package is new for c-ana only; c-ben's inbox did not change.
    assert sorted(_owed(outbox)) == ["c-ana", "c-ana", "c-ben"]


def test_no_match_and_repeated_inserts_owe_nothing_more(world: World, outbox: SqlOutbox) -> None:
    y = _y()
    world.submit(y, "c-ana")
    world.submit(y, "c-ben")
    world.submit(_y(), "c-ana")  # someone else entirely
    assert len(outbox.rows()) == 2


def test_the_rows_commit_or_roll_back_with_the_packages(world: World, outbox: SqlOutbox) -> None:
    y = _y()
    world.submit(y, "c-ana")
    account = world.account()
    completing = world.slot(y, account, "c-ben")
    refused = world.slot(_y(), account, "c-ben")
    refused = replace(refused, counselor_id="c-nobody")
    # The first slot completes the match inside the transaction; the second is refused,
    # so the whole entry rolls back: no package and no notification.
    with pytest.raises(InputError, match="unknown counselor"):
        world.repository.create_entry_with_slots(
            secrets.token_bytes(16),
            account,
            b"\x01" + secrets.token_bytes(40),
            [completing, refused],
            2,
            NOW_MS,
        )
    assert world.repository.inbox("c-ben") == []
    assert outbox.rows() == []


def test_enqueue_ignores_an_empty_set(database: Database) -> None:
    with database.transaction() as session:
        enqueue_new_match(session, [], NOW_MS)
    assert SqlOutbox(database).rows() == []


# -- claimed and settled ----------------------------------------------------------------------


def _owe(world: World, outbox: SqlOutbox, count: int) -> None:
    with world.database.transaction() as session:
        for _ in range(count):
            enqueue_new_match(session, ["c-ana"], NOW_MS)
    assert len(outbox.rows()) == count


def test_a_claim_leases_rows_until_settled_or_the_lease_ends(
    world: World, outbox: SqlOutbox
) -> None:
    _owe(world, outbox, 2)
    assert outbox.claim_due(NOW_MS - 1, 10, LEASE_MS) == []  # not yet due
    first = outbox.claim_due(NOW_MS, 1, LEASE_MS)
    assert [(n.counselor_id, n.kind, n.attempts, n.address) for n in first] == [
        ("c-ana", "new-match", 0, "ana@counsel.example")
    ]
    assert "ana@" not in repr(first)
    (second,) = outbox.claim_due(NOW_MS, 10, LEASE_MS)
    assert second.id != first[0].id
    assert outbox.claim_due(NOW_MS + LEASE_MS - 1, 10, LEASE_MS) == []
    # A claimer that died mid-send: its rows come back when the lease ends.
    assert len(outbox.claim_due(NOW_MS + LEASE_MS, 10, LEASE_MS)) == 2


def test_failures_are_kept_with_a_fixed_word_and_delivery_is_final(
    world: World, outbox: SqlOutbox
) -> None:
    _owe(world, outbox, 1)
    (claimed,) = outbox.claim_due(NOW_MS, 1, LEASE_MS)
    outbox.mark_failed(claimed.id, "refused", NOW_MS + 10_000)
    (row,) = outbox.rows()
    assert (row.attempts, row.next_attempt_at_ms, row.last_error_kind) == (
        1,
        NOW_MS + 10_000,
        "refused",
    )
    assert outbox.claim_due(NOW_MS + 9_999, 1, LEASE_MS) == []
    (again,) = outbox.claim_due(NOW_MS + 10_000, 1, LEASE_MS)
    assert again.attempts == 1
    # Anything but a known word is stored as "other".
    outbox.mark_failed(again.id, "550 ana@counsel.example", NOW_MS + 30_000)
    assert outbox.rows()[0].last_error_kind == "other"
    (third,) = outbox.claim_due(NOW_MS + 30_000, 1, LEASE_MS)
    outbox.mark_delivered(third.id, NOW_MS + 31_000)
    (row,) = outbox.rows()
    assert (row.attempts, row.delivered_at_ms) == (3, NOW_MS + 31_000)
    # Settled is settled: a late duplicate report changes nothing, and no claim returns it.
    outbox.mark_failed(third.id, "timeout", NOW_MS)
    outbox.mark_delivered(third.id, NOW_MS + 99_000)
    assert outbox.rows() == [row]
    assert outbox.claim_due(NOW_MS + 10**9, 10, LEASE_MS) == []


def test_a_claim_reports_a_removed_address_as_none(world: World, outbox: SqlOutbox) -> None:
    _owe(world, outbox, 1)
    _notify(world.database, "c-ana", None)
    (claimed,) = outbox.claim_due(NOW_MS, 1, LEASE_MS)
    assert claimed.address is None


def test_a_claim_needs_a_positive_limit_and_lease(outbox: SqlOutbox) -> None:
    with pytest.raises(InputError):
        outbox.claim_due(NOW_MS, 0, LEASE_MS)
    with pytest.raises(InputError):
        outbox.claim_due(NOW_MS, 1, 0)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_processes_claiming_at_once_get_disjoint_rows(
    make_database: DatabaseFactory, world: World, outbox: SqlOutbox
) -> None:
    # Two escrow processes: two Databases (two pools) on one PostgreSQL database. The
    # first holds its claim open (uncommitted) while the second claims.
    _owe(world, outbox, 5)
    first_process, second_process = make_database(), make_database()
    with first_process.transaction() as first:
        mine = claim(first, NOW_MS, 3, LEASE_MS)
        with second_process.transaction() as second:
            # Without SKIP LOCKED the second claim would wait for the first: fail instead.
            second.execute(text("SET LOCAL lock_timeout = '5s'"))
            theirs = claim(second, NOW_MS, 10, LEASE_MS)
    assert len(mine) == 3
    assert len(theirs) == 2
    assert {n.id for n in mine}.isdisjoint({n.id for n in theirs})
    # Both leases committed: nothing is due again before they end.
    assert outbox.claim_due(NOW_MS, 10, LEASE_MS) == []


def test_the_error_words_of_the_schema_and_the_service_agree() -> None:
    assert models.OUTBOX_ERROR_KINDS == notifications.ERROR_KINDS
    assert models.OUTBOX_NEW_MATCH == notifications.NEW_MATCH
