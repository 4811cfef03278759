"""The hooks `Database` keeps for tests and fault injection: `dbapi_module`, `after_connect`."""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from notalone.storage.engine import Database
from tests.storage.conftest import pg_url

SYNCHRONOUS_FULL = 2
SYNCHRONOUS_NORMAL = 1


class RecordingSqlite3:
    """The stdlib `sqlite3` module, remembering every connection opened through it."""

    def __init__(self) -> None:
        self.opened: list[sqlite3.Connection] = []
        self.arguments: list[dict[str, Any]] = []

    def connect(self, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(*args, **kwargs)
        self.opened.append(connection)
        self.arguments.append(kwargs)
        return connection

    def __getattr__(self, name: str) -> Any:
        # Everything else SQLAlchemy's pysqlite dialect looks up (exception classes,
        # sqlite_version_info, paramstyle, …) is the real module's.
        return getattr(sqlite3, name)


def _dbapi_connection(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


def _pragma(session: Session, name: str) -> object:
    return session.execute(text(f"PRAGMA {name}")).scalar()


def test_every_connection_comes_from_the_given_module(tmp_path: Path) -> None:
    module = RecordingSqlite3()
    with Database(f"sqlite:///{tmp_path / 'a.db'}", dbapi_module=module) as database:
        database.upgrade()
        with ExitStack() as stack:
            writer = stack.enter_context(database.transaction())
            readers = [stack.enter_context(database.read()) for _ in range(2)]
            used = [_dbapi_connection(s) for s in (writer, *readers)]
            # The storage's own settings still apply on the module's connections.
            assert _pragma(writer, "journal_mode") == "wal"
            assert [_pragma(s, "query_only") for s in readers] == [1, 1]
            assert {_pragma(s, "synchronous") for s in (writer, *readers)} == {SYNCHRONOUS_FULL}
        assert len({id(c) for c in used}) == 3  # the writer and two distinct readers
        assert all(any(c is o for o in module.opened) for c in used)
        assert len(module.opened) == 3
        assert all(a == {"check_same_thread": False, "timeout": 10.0} for a in module.arguments)


def test_the_module_serves_an_in_memory_database_too() -> None:
    module = RecordingSqlite3()
    with Database("sqlite://", dbapi_module=module) as database:
        database.upgrade()
        with database.read() as session:
            assert _dbapi_connection(session) is module.opened[0]
        assert len(module.opened) == 1


def test_after_connect_runs_after_the_storage_settings(tmp_path: Path) -> None:
    seen: list[tuple[object, ...]] = []

    def weaken(connection: Any) -> None:
        pragmas = ("synchronous", "foreign_keys", "secure_delete", "query_only")
        seen.append(
            (
                connection.isolation_level,
                *(connection.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas),
            )
        )
        connection.execute("PRAGMA synchronous=NORMAL")

    with Database(f"sqlite:///{tmp_path / 'a.db'}", after_connect=weaken) as database:
        database.upgrade()
        with ExitStack() as stack:
            writer = stack.enter_context(database.transaction())
            readers = [stack.enter_context(database.read()) for _ in range(2)]
            levels = [_pragma(s, "synchronous") for s in (writer, *readers)]
    # Inside the hook the storage had configured the connection already: no implicit
    # BEGIN, FULL, foreign keys and secure delete on, and the readers query-only.
    assert seen == [
        (None, SYNCHRONOUS_FULL, 1, 1, 0),
        (None, SYNCHRONOUS_FULL, 1, 1, 1),
        (None, SYNCHRONOUS_FULL, 1, 1, 1),
    ]
    # What the hook set is what every later query on the connection sees.
    assert levels == [SYNCHRONOUS_NORMAL] * 3


def test_a_failing_after_connect_fails_the_connection(tmp_path: Path) -> None:
    def refuse(_connection: Any) -> None:
        raise RuntimeError("injected")

    module = RecordingSqlite3()
    # The writer connects in the constructor (it switches the file to WAL first).
    with pytest.raises(RuntimeError, match="injected"):
        Database(f"sqlite:///{tmp_path / 'a.db'}", dbapi_module=module, after_connect=refuse)
    # SQLAlchemy closed the connection the hook refused: nothing is left open.
    [connection] = module.opened
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        connection.execute("SELECT 1")


def test_without_hooks_connections_are_sqlite3_at_full(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'a.db'}") as database:
        with database.transaction() as session:
            assert type(_dbapi_connection(session)) is sqlite3.Connection
            assert _pragma(session, "synchronous") == SYNCHRONOUS_FULL
        with database.read() as session:
            assert type(_dbapi_connection(session)) is sqlite3.Connection
            assert _pragma(session, "synchronous") == SYNCHRONOUS_FULL


@pytest.mark.parametrize(
    "hooks", [{"dbapi_module": sqlite3}, {"after_connect": lambda _connection: None}]
)
def test_the_hooks_are_refused_on_postgresql(hooks: dict[str, Any]) -> None:
    # Refused before any engine exists, so there is nothing to dispose (and no server).
    with pytest.raises(ValueError, match="SQLite only"):
        Database(pg_url("never_created"), **hooks)
