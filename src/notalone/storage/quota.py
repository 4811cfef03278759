"""Quota stores: how many elements a key server has evaluated per ticket pseudonym and period.

A key server calls `consume` before it evaluates a batch. The call adds the batch size to
the pseudonym's count for the period only if the result stays within the ticket's limit,
atomically, and reports whether it did; a refused batch consumes nothing. Replaying a
ticket therefore gains nothing: its evaluations draw on the same count.

Two implementations:

- `InMemoryQuotaStore`, for tests and single-process experiments (counts are lost on
  restart, which would hand every pseudonym a fresh quota: never use it in production);
- `SqlQuotaStore(url)`, on SQLite (a file, WAL journal, `synchronous=FULL`) or PostgreSQL
  (`postgresql+psycopg://…`), where one `INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`
  statement does the upsert and the check in one transaction, so concurrent key-server
  workers and processes can never together exceed a limit.

Counts of periods that no valid ticket can name any more are deleted with `prune`; the
key server calls it when a period has passed.

The table is this store's own (`keyserver_quota`, created on first use): a key server
keeps no other data, and shares no database with the escrow.
"""

from __future__ import annotations

import os
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

PSEUDONYM_BYTES = 32
# SQLite waits this long for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30

metadata = MetaData()
quota_table = Table(
    "keyserver_quota",
    metadata,
    Column("pseudonym", LargeBinary(PSEUDONYM_BYTES), primary_key=True),
    Column("period", BigInteger, primary_key=True),
    Column("used", Integer, nullable=False),
)


class QuotaStore(Protocol):
    """Counts evaluated elements per (pseudonym, period) and enforces a limit atomically."""

    def consume(self, pseudonym: bytes, period: int, count: int, limit: int) -> bool:
        """Add `count` to the pseudonym's count for `period` if the sum stays ≤ `limit`.

        Returns True if it was added, False (and changes nothing) if it would exceed.
        """
        ...

    def used(self, pseudonym: bytes, period: int) -> int:
        """How many elements this pseudonym has had evaluated in `period`."""
        ...

    def prune(self, before_period: int) -> int:
        """Forget every count of a period before `before_period`; return how many rows."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


def _check(pseudonym: bytes, period: int, count: int, limit: int) -> None:
    if not isinstance(pseudonym, bytes) or len(pseudonym) != PSEUDONYM_BYTES:
        raise ValueError(f"a ticket pseudonym is {PSEUDONYM_BYTES} bytes")
    if period < 0 or count < 1 or limit < 0:
        raise ValueError("period and limit must be non-negative and count positive")


class InMemoryQuotaStore:
    """A QuotaStore in a dict, for tests: counts vanish when the process ends."""

    def __init__(self) -> None:
        self._used: dict[tuple[bytes, int], int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        # The keys are pseudonyms: keep them out of any repr that may reach a log.
        return f"InMemoryQuotaStore({len(self._used)} counts)"

    def consume(self, pseudonym: bytes, period: int, count: int, limit: int) -> bool:
        """See QuotaStore.consume."""
        _check(pseudonym, period, count, limit)
        with self._lock:
            new = self._used.get((pseudonym, period), 0) + count
            if new > limit:
                return False
            self._used[pseudonym, period] = new
            return True

    def used(self, pseudonym: bytes, period: int) -> int:
        """See QuotaStore.used."""
        with self._lock:
            return self._used.get((pseudonym, period), 0)

    def prune(self, before_period: int) -> int:
        """See QuotaStore.prune."""
        with self._lock:
            old = [key for key in self._used if key[1] < before_period]
            for key in old:
                del self._used[key]
            return len(old)

    def close(self) -> None:
        """Nothing to release."""


class SqlQuotaStore:
    """A QuotaStore in SQLite or PostgreSQL, through SQLAlchemy Core."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            # Not chained: SQLAlchemy's message repeats the URL, which may hold a password.
            raise ValueError("the quota database URL cannot be parsed") from None
        if parsed.drivername == "postgresql":
            # psycopg 3 is the driver NotAlone ships; SQLAlchemy's default would be psycopg2.
            parsed = parsed.set(drivername="postgresql+psycopg")
        backend = parsed.get_backend_name()
        if backend not in {"sqlite", "postgresql"}:
            raise ValueError("the quota store runs on SQLite or PostgreSQL")
        self._backend = backend
        self._url = parsed
        # SQLite allows one writer at a time; in one process, queueing writers on a lock is
        # much faster than letting each connection spin on SQLITE_BUSY.
        self._write_lock: threading.Lock | None = None
        self._engine: Engine
        if backend == "sqlite":
            self._write_lock = threading.Lock()
            self._engine = _sqlite_engine(parsed.database)
        else:
            self._engine = create_engine(parsed, pool_pre_ping=True)
        metadata.create_all(self._engine)

    def __repr__(self) -> str:
        return f"SqlQuotaStore({self.url})"

    @property
    def url(self) -> str:
        """The database URL with any password masked: safe to log."""
        return self._url.render_as_string(hide_password=True)

    def consume(self, pseudonym: bytes, period: int, count: int, limit: int) -> bool:
        """See QuotaStore.consume: one upsert-and-check statement in one transaction."""
        _check(pseudonym, period, count, limit)
        if count > limit:
            # The insert branch below has no WHERE: a first batch above the limit must
            # never reach it.
            return False
        insert = postgresql.insert if self._backend == "postgresql" else sqlite.insert
        table = quota_table
        upsert = insert(table).values(pseudonym=pseudonym, period=period, used=count)
        statement = upsert.on_conflict_do_update(
            index_elements=[table.c.pseudonym, table.c.period],
            set_={"used": table.c.used + upsert.excluded.used},
            where=table.c.used + upsert.excluded.used <= limit,
        ).returning(table.c.used)
        with self._writing(), self._engine.begin() as connection:
            return connection.execute(statement).first() is not None

    def used(self, pseudonym: bytes, period: int) -> int:
        """See QuotaStore.used."""
        table = quota_table
        query = select(table.c.used).where(table.c.pseudonym == pseudonym, table.c.period == period)
        with self._engine.connect() as connection:
            value = connection.execute(query).scalar_one_or_none()
        return int(value or 0)

    def prune(self, before_period: int) -> int:
        """See QuotaStore.prune."""
        with self._writing(), self._engine.begin() as connection:
            result = connection.execute(
                delete(quota_table).where(quota_table.c.period < before_period)
            )
        return int(result.rowcount)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def _writing(self) -> AbstractContextManager[object]:
        return self._write_lock if self._write_lock is not None else nullcontext()


def _sqlite_engine(database: str | None) -> Engine:
    if not database or database == ":memory:":
        # One shared connection, or every pooled connection would see its own empty
        # database.
        return create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    path = Path(database)
    # Create the file readable by its owner only before SQLite does: it holds the
    # pseudonyms, which link one period's requests. SQLite gives its -wal and -shm files
    # the same permissions.
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers work beside the writer; FULL makes every committed count
        # survive a power cut (a lost count would hand back part of a quota).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    return engine
