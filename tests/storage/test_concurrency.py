"""Concurrent inserts of one tag produce exactly one match holding every slot.

PostgreSQL: two separate OS processes (spawned, each with its own `Database` and pool)
insert 50 slots of one tag from 50 accounts at once, with threads in each; the per-tag
advisory lock must serialize them into one match of 50, with no lost insert and no inbox
item twice. SQLite: the same with threads in one process (the single writer), and with
two processes on one file (BEGIN IMMEDIATE and the busy timeout).
"""

from __future__ import annotations

import multiprocessing
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from notalone.errors import InputError
from notalone.protocol.slots import Slot
from notalone.storage.engine import Database
from notalone.storage.models import InboxItem, SlotRow
from notalone.storage.slots import SlotRepository
from tests.storage.conftest import NOW_MS, DatabaseFactory, World

SURVIVORS = 50
COUNSELORS = ("c-ana", "c-ben", "c-cat")
Job = tuple[Slot, bytes]


def insert_concurrently(database: Database, jobs: list[Job]) -> list[str]:
    """Insert every job at once, one thread each; return the errors as text."""
    repository = SlotRepository(database)
    barrier = threading.Barrier(len(jobs))
    errors: list[str] = []

    def insert(job: Job) -> None:
        barrier.wait(timeout=30)
        try:
            repository.insert_and_match(job[0], job[1], 2, NOW_MS)
        except Exception as e:  # noqa: BLE001 - every failure is reported to the test
            errors.append(f"{type(e).__name__}: {e}")

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(insert, jobs))
    return errors


def _process_main(url: str, jobs: list[Job], start: Any, results: Any) -> None:
    """A second escrow process: its own Database, waiting for the common start signal."""
    database = Database(url)
    try:
        start.wait(60)
        results.put(insert_concurrently(database, jobs))
    finally:
        database.dispose()


def _jobs(world: World) -> tuple[bytes, list[Job]]:
    y = secrets.token_bytes(64)
    jobs = []
    for i in range(SURVIVORS):
        account = world.account()
        jobs.append((world.slot(y, account, COUNSELORS[i % 3]), world.entry(account)))
    return jobs[0][0].tag, jobs


def _check_one_match_of_all(world: World, tag: bytes, jobs: list[Job]) -> None:
    (match,) = world.repository.matches_for_tag(tag)
    members = [slot_id for slot_id, _ in match.members]
    assert len(members) == len(set(members)) == SURVIVORS
    assert set(members) == {slot.slot_id for slot, _ in jobs}
    inbox = [item for c in COUNSELORS for item in world.repository.inbox(c)]
    assert len(inbox) == SURVIVORS
    assert {item.slot_id for item in inbox} == set(members)
    assert {item.match_id for item in inbox} == {match.match_id}
    with world.database.read() as session:
        positions = session.scalars(select(SlotRow.position).where(SlotRow.tag == tag)).all()
        states = set(session.scalars(select(SlotRow.state).where(SlotRow.tag == tag)))
        items = session.scalar(select(func.count()).select_from(InboxItem))
    assert sorted(positions) == list(range(1, SURVIVORS + 1))
    assert states == {"live"}
    assert items == SURVIVORS


@pytest.fixture
def crowd(world: World) -> World:
    world.counselor("c-cat")
    return world


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_postgresql_processes_make_one_match_of_fifty(
    crowd: World, make_database: DatabaseFactory
) -> None:
    tag, jobs = _jobs(crowd)
    url = crowd.database.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    halves = [jobs[: SURVIVORS // 2], jobs[SURVIVORS // 2 :]]
    processes = [
        context.Process(target=_process_main, args=(url, half, start, results)) for half in halves
    ]
    for process in processes:
        process.start()
    try:
        start.set()
        errors = [results.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0, 0]
    assert errors == [[], []]
    _check_one_match_of_all(crowd, tag, jobs)


def test_withdrawing_an_entry_during_its_inserts_leaves_no_live_slot(crowd: World) -> None:
    # Inserts lock the entry, then the tag; withdraw_entry the same way round. Whatever
    # the interleaving: no deadlock, and afterwards no slot of the entry is live.
    account = crowd.account()
    entry_id = crowd.entry(account)
    jobs = [(crowd.slot(secrets.token_bytes(64), account, "c-ana"), entry_id) for _ in range(20)]
    repository = SlotRepository(crowd.database)
    barrier = threading.Barrier(len(jobs) + 1)

    def withdraw() -> list[str]:
        barrier.wait(timeout=30)
        repository.withdraw_entry(account, entry_id, NOW_MS + 1)
        return []

    def insert(job: Job) -> list[str]:
        barrier.wait(timeout=30)
        try:
            repository.insert_and_match(job[0], job[1], 2, NOW_MS)
        except InputError as e:
            return [str(e)]
        return []

    with ThreadPoolExecutor(max_workers=len(jobs) + 1) as pool:
        withdrawn = pool.submit(withdraw)
        refused = [message for messages in pool.map(insert, jobs) for message in messages]
        assert withdrawn.result() == []
    assert set(refused) <= {"this entry was withdrawn; create a new entry instead"}
    views = repository.list_for_account(account)
    assert {view.state for view in views} <= {"withdrawn"}
    assert len(views) + len(refused) == len(jobs)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_threads_make_one_match_of_fifty(crowd: World) -> None:
    tag, jobs = _jobs(crowd)
    assert insert_concurrently(crowd.database, jobs) == []
    _check_one_match_of_all(crowd, tag, jobs)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_two_sqlite_handles_on_one_file_make_one_match_of_fifty(
    crowd: World, make_database: DatabaseFactory
) -> None:
    # Two Database objects on one file behave like two processes: each has its own
    # writer, and BEGIN IMMEDIATE with the busy timeout makes them take turns.
    tag, jobs = _jobs(crowd)
    second = make_database()
    with ThreadPoolExecutor(max_workers=2) as pool:
        halves = pool.map(
            insert_concurrently,
            [crowd.database, second],
            [jobs[: SURVIVORS // 2], jobs[SURVIVORS // 2 :]],
        )
        assert list(halves) == [[], []]
    _check_one_match_of_all(crowd, tag, jobs)


def test_entries_naming_the_same_people_in_opposite_orders_do_not_deadlock(
    crowd: World,
) -> None:
    # Each entry locks its tags in sorted order whatever order its slots come in; were it
    # to lock them in slot order, half of these would wait for each other (PostgreSQL
    # would abort one with "deadlock detected").
    ys = [secrets.token_bytes(64) for _ in range(3)]
    entries = []
    for i in range(20):
        account = crowd.account()
        order = ys if i % 2 else list(reversed(ys))
        made = [crowd.slot(y, account, COUNSELORS[i % 3]) for y in order]
        entries.append((account, made))
    repository = SlotRepository(crowd.database)
    barrier = threading.Barrier(len(entries))

    def create(job: tuple[bytes, list[Slot]]) -> None:
        barrier.wait(timeout=30)
        repository.create_entry_with_slots(
            secrets.token_bytes(16), job[0], b"\x01copy", job[1], 2, NOW_MS
        )

    with ThreadPoolExecutor(max_workers=len(entries)) as pool:
        list(pool.map(create, entries))
    for slot in entries[0][1]:
        (match,) = crowd.repository.matches_for_tag(slot.tag)
        assert len(match.members) == len(entries)
