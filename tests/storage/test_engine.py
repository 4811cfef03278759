"""The Database handle: SQLite pragmas and its single writer, PostgreSQL locks, URLs."""

from __future__ import annotations

import secrets
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from notalone.errors import InputError, LimitError
from notalone.storage.engine import Database, lock_key
from notalone.storage.models import Organization
from tests.storage.conftest import NOW_MS, PostgresServer, pg_url


def _organization(name: str | None = None) -> Organization:
    return Organization(
        id=secrets.token_bytes(16), name=name or secrets.token_hex(8), created_at_ms=NOW_MS
    )


def _names(database: Database) -> set[str]:
    with database.read() as session:
        return set(session.scalars(text("SELECT name FROM organizations")))


# -- SQLite -----------------------------------------------------------------------------


def _pragma(session: object, name: str) -> object:
    return session.execute(text(f"PRAGMA {name}")).scalar()  # type: ignore[attr-defined]


def test_sqlite_connections_are_durable_and_scrub_deleted_data(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'a.db'}", busy_timeout_s=7) as database:
        with database.transaction() as session:
            writer = {n: _pragma(session, n) for n in ("journal_mode", "query_only")}
            common = [_pragma(session, n) for n in ("synchronous", "foreign_keys")]
            more = [_pragma(session, n) for n in ("secure_delete", "busy_timeout")]
        assert writer == {"journal_mode": "wal", "query_only": 0}
        assert common == [2, 1]  # FULL, ON
        assert more == [1, 7000]
        with database.read() as session:
            assert _pragma(session, "journal_mode") == "wal"
            assert _pragma(session, "query_only") == 1
            assert [_pragma(session, n) for n in ("synchronous", "foreign_keys")] == [2, 1]
            assert [_pragma(session, n) for n in ("secure_delete", "busy_timeout")] == [1, 7000]


def test_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'a.db'}") as database:
        database.upgrade()
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.name


def test_sqlite_reads_cannot_write(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'a.db'}") as database:
        database.upgrade()
        with database.read() as session:
            session.add(_organization())
            with pytest.raises(OperationalError, match="readonly"):
                session.flush()
        assert _names(database) == set()


def test_sqlite_deleted_rows_leave_no_trace_in_the_file(tmp_path: Path) -> None:
    canary = "canary-" + secrets.token_hex(16)
    path = tmp_path / "a.db"
    with Database(f"sqlite:///{path}") as database:
        database.upgrade()
        with database.transaction() as session:
            session.add(_organization(canary))
        with database.transaction() as session:
            session.execute(text("DELETE FROM organizations"))
        database.checkpoint()
        assert (tmp_path / "a.db-wal").stat().st_size == 0
        for file in tmp_path.iterdir():
            assert canary.encode() not in file.read_bytes(), file.name


def test_sqlite_writes_go_through_one_connection_one_at_a_time(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'a.db'}") as database:
        database.upgrade()
        connections: set[int] = set()
        inside, most = 0, 0
        guard = threading.Lock()

        def write() -> None:
            nonlocal inside, most
            for _ in range(5):
                with database.transaction() as session:
                    with guard:
                        inside += 1
                        most = max(most, inside)
                        connections.add(id(session.connection().connection.dbapi_connection))
                    session.add(_organization())
                    time.sleep(0.001)
                    with guard:
                        inside -= 1

        threads = [threading.Thread(target=write) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert most == 1
        assert len(connections) == 1
        assert len(_names(database)) == 40


def test_sqlite_a_busy_writer_gives_a_limit_error(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'a.db'}", busy_timeout_s=0.1) as database:
        database.upgrade()
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with database.transaction():
                holding.set()
                release.wait(5)

        thread = threading.Thread(target=hold)
        thread.start()
        holding.wait(5)
        try:
            with pytest.raises(LimitError, match="busy"), database.transaction():
                pass
        finally:
            release.set()
            thread.join()


def test_sqlite_two_handles_on_one_file_take_turns(tmp_path: Path) -> None:
    # Two Database objects stand for two escrow processes on one file: BEGIN IMMEDIATE
    # makes the second wait for the file's write lock instead of failing.
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with Database(url) as first, Database(url) as second:
        first.upgrade()
        holding = threading.Event()

        def hold() -> None:
            with first.transaction() as session:
                session.add(_organization("first"))
                session.flush()  # the ORM begins lazily: this is when BEGIN IMMEDIATE runs
                holding.set()
                time.sleep(0.2)

        thread = threading.Thread(target=hold)
        thread.start()
        holding.wait(5)
        started = time.monotonic()
        with second.transaction() as session:
            session.add(_organization("second"))
        waited = time.monotonic() - started
        thread.join()
        assert waited > 0.1
        assert _names(second) == {"first", "second"}


def test_sqlite_in_memory_serves_reads_from_the_writer() -> None:
    with Database("sqlite://") as database:
        database.upgrade()
        with database.transaction() as session:
            session.add(_organization("only"))
        assert _names(database) == {"only"}


# -- both -------------------------------------------------------------------------------


def test_a_transaction_commits_or_rolls_back_as_a_whole(database: Database) -> None:
    with database.transaction() as session:
        session.add(_organization("kept"))

    def fail_half_way() -> None:
        with database.transaction() as session:
            session.add(_organization("lost"))
            session.flush()
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        fail_half_way()
    assert _names(database) == {"kept"}


def test_write_transactions_do_not_nest(database: Database) -> None:
    with database.transaction(), pytest.raises(RuntimeError, match="do not nest"):  # noqa: SIM117 - the inner block is what fails
        with database.transaction():
            pass
    # The refusal left the writer usable.
    with database.transaction() as session:
        session.add(_organization("after"))
    assert _names(database) == {"after"}


def test_reads_see_committed_writes_only(database: Database) -> None:
    with database.transaction() as session:
        session.add(_organization("pending"))
        session.flush()
        assert _names(database) == set()
    assert _names(database) == {"pending"}


def test_upgrade_is_idempotent(database: Database) -> None:
    assert database.current_revision() == "0004"
    database.upgrade()
    assert database.current_revision() == "0004"


def test_repr_names_the_dialect_only(database: Database, backend: str) -> None:
    assert repr(database) == f"Database({backend})"


# -- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture
def pg_database(pg_server: PostgresServer, pg_template: str) -> Iterator[Database]:
    name = pg_server.create(pg_template)
    database = Database(pg_url(name))
    yield database
    database.dispose()
    pg_server.drop(name)


def test_postgresql_runs_at_read_committed(pg_database: Database) -> None:
    with pg_database.transaction() as session:
        level = session.execute(text("SHOW transaction_isolation")).scalar()
    assert level == "read committed"


def test_postgresql_serializes_writers_of_one_scope_only(pg_database: Database) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with pg_database.transaction() as session:
            pg_database.serialize(session, b"tag-a")
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(5)
    try:
        with pg_database.transaction() as session:
            session.execute(text("SET LOCAL lock_timeout = '50ms'"))
            pg_database.serialize(session, b"tag-b")  # another scope: no wait
        with pg_database.transaction() as session:
            session.execute(text("SET LOCAL lock_timeout = '50ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                pg_database.serialize(session, b"tag-a")
    finally:
        release.set()
        thread.join()
    # Released at commit: the scope is free again.
    with pg_database.transaction() as session:
        session.execute(text("SET LOCAL lock_timeout = '50ms'"))
        pg_database.serialize(session, b"tag-a")


def test_plain_postgresql_urls_use_psycopg(pg_database: Database) -> None:
    url = pg_database.engine.url.set(drivername="postgresql", password="hunter2")
    database = Database(url.render_as_string(hide_password=False))
    try:
        assert database.engine.dialect.driver == "psycopg"
        assert "hunter2" not in repr(database)
    finally:
        database.dispose()


def test_lock_keys_are_signed_64_bit_and_distinct() -> None:
    keys = {lock_key(bytes([i]) * 32) for i in range(256)}
    assert len(keys) == 256
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert lock_key(b"x") == lock_key(b"x")


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/notalone", "postgresql+asyncpg://u:secret@h/db", "::"]
)
def test_unsupported_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(InputError) as refused:
        Database(url)
    assert "secret" not in str(refused.value)
    assert url not in str(refused.value)
