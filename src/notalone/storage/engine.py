"""The database handle: connections, transactions, per-key locks and migrations.

A `Database` is built from a URL and passed to the repositories that need it; nothing
here is a module-level singleton (style rule 6).

- SQLite (`sqlite:///PATH`, the default deployment): WAL, `synchronous=FULL`,
  `foreign_keys=ON`, `secure_delete=ON` and a busy timeout on every connection. All
  writes go through ONE writer connection, serialized by a lock in this process and by
  `BEGIN IMMEDIATE` across processes; reads use a small pool of `query_only` connections
  that see the last committed state. Measured in this project, one connection per thread
  gave p99 ≈ 700 ms for slot inserts (writers fighting over SQLite's file lock and
  sleeping in its busy handler); a single writer gave ≈ 67 ms.
- PostgreSQL (`postgresql+psycopg://…`): an ordinary connection pool at READ COMMITTED;
  writers that must not interleave (for example two inserts of one tag) take
  `pg_advisory_xact_lock` through `Database.serialize`.

Two keyword arguments of `Database`, `dbapi_module` and `after_connect`, exist for tests
and tools that inject faults (the power-cut harness runs the real `Database` on an SQLite
VFS that loses unsynced writes); production code passes neither.

docs/decisions/0004-storage.md gives the reasons.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool, StaticPool

from notalone.errors import InputError, LimitError

Dialect = Literal["sqlite", "postgresql"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: How long a writer waits for the SQLite write lock (in this process, then on the file).
DEFAULT_BUSY_TIMEOUT_S = 10.0
DEFAULT_READERS = 4
DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_OVERFLOW = 20

# Separates this project's advisory-lock keys from any other user of the same database.
_LOCK_DOMAIN = b"notalone/v1/storage/lock|"
# The key under which concurrent `upgrade()` calls on PostgreSQL wait for each other.
_MIGRATION_LOCK_SCOPE = b"migrations"


def lock_key(scope: bytes) -> int:
    """The signed 64-bit advisory-lock key of `scope` (PostgreSQL's bigint)."""
    digest = hashlib.sha256(_LOCK_DOMAIN + scope).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Database:
    """One deployment's database: built from a URL, shared by the repositories using it."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        readers: int = DEFAULT_READERS,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
        dbapi_module: object | None = None,
        after_connect: Callable[[Any], None] | None = None,
    ) -> None:
        """Open the engines for `url` (nothing connects yet on PostgreSQL).

        Raises InputError if the URL cannot be parsed or names an unsupported database.

        `dbapi_module` and `after_connect` exist for tests and tools that inject faults
        (a DB-API module over a VFS that loses unsynced writes, a weaker `synchronous` for
        a control experiment); production code passes neither, and without them every
        connection is the `sqlite3` module's with exactly the settings described in the
        module docstring. Both are for SQLite only: with a PostgreSQL URL they raise
        ValueError, a mistake of the calling code rather than bad input.

        - `dbapi_module`: the DB-API 2 module every engine of this `Database` (the writer
          and the readers) opens its connections with, given to SQLAlchemy's pysqlite
          dialect as `create_engine(…, module=…)` in place of `sqlite3`. It must behave as
          `sqlite3` does where SQLAlchemy looks; its `connect` gets the database path and
          the `timeout` and `check_same_thread` arguments `sqlite3.connect` would get.
        - `after_connect`: called with each new DB-API connection of every engine, after
          this module has configured it (`isolation_level` None, then the pragmas), so
          that what it sets, for example `PRAGMA synchronous=NORMAL`, overrides them. An
          exception it raises fails the connection attempt.
        """
        try:
            parsed = make_url(url)
        except ArgumentError as e:
            # The URL is not repeated: it may carry a password.
            raise InputError("the database URL cannot be parsed") from e
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._write_lock: threading.Lock | None = None
        if parsed.drivername == "postgresql":
            # psycopg (3) is the PostgreSQL driver this project installs.
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite" and parsed.get_driver_name() == "pysqlite":
            self.dialect: Dialect = "sqlite"
            self._writer, self._reader = self._sqlite_engines(
                url, parsed.database, readers, dbapi_module, after_connect
            )
            # Python's lock is what keeps SQLite writes to one connection; see the module
            # docstring for why that beats letting threads compete for the file lock.
            self._write_lock = threading.Lock()
        elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
            if dbapi_module is not None or after_connect is not None:
                # What a connect hook runs on psycopg opens an implicit transaction, whose
                # rollback would undo a SET; nothing needs either hook there yet.
                raise ValueError("dbapi_module and after_connect are for SQLite only")
            self.dialect = "postgresql"
            self._writer = create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,
                # Per-statement snapshots: after waiting for a tag's advisory lock, the
                # next SELECT sees every slot the previous holder committed.
                isolation_level="READ COMMITTED",
            )
            self._reader = self._writer
        else:
            raise InputError(
                "unsupported database URL: use sqlite:///PATH or postgresql+psycopg://…"
            )
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(self._reader, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({self.dialect})"

    # -- connections -------------------------------------------------------------------

    def _sqlite_engines(
        self,
        url: str,
        path: str | None,
        readers: int,
        dbapi_module: object | None,
        after_connect: Callable[[Any], None] | None,
    ) -> tuple[Engine, Engine]:
        in_memory = path in (None, "", ":memory:")
        connect_args = {"check_same_thread": False, "timeout": self._busy_timeout_s}
        # Only when given, so that SQLAlchemy's default (`sqlite3`) stays what it picks.
        module: dict[str, Any] = {} if dbapi_module is None else {"module": dbapi_module}
        if in_memory:
            # An in-memory database exists once per connection: the single writer
            # connection must serve the reads too.
            writer = create_engine(url, poolclass=StaticPool, connect_args=connect_args, **module)
            _configure_sqlite(writer, self._busy_timeout_s, read_only=False, then=after_connect)
            return writer, writer
        # Created readable by its owner only (SQLite gives the -wal and -shm files the same
        # mode): it holds ciphertexts, hashes and the metadata of who named whom.
        Path(str(path)).touch(mode=0o600, exist_ok=True)
        writer = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            connect_args=connect_args,
            **module,
        )
        _configure_sqlite(writer, self._busy_timeout_s, read_only=False, then=after_connect)
        # Connect the writer once now: it switches the file to WAL before any reader opens.
        with writer.connect():
            pass
        reader = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=readers,
            max_overflow=readers,
            connect_args=connect_args,
            **module,
        )
        _configure_sqlite(reader, self._busy_timeout_s, read_only=True, then=after_connect)
        return writer, reader

    @property
    def engine(self) -> Engine:
        """The engine writes go through (for tests, migrations and operators' tools)."""
        return self._writer

    def dispose(self) -> None:
        """Close every pooled connection; the object must not be used afterwards."""
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        On SQLite every write transaction in this process runs on the one writer
        connection, one at a time, and starts with `BEGIN IMMEDIATE` so that a second
        process waits for the file lock at the start instead of failing half-way. Raises
        LimitError if the writer stays busy longer than the busy timeout. Write
        transactions do not nest: a nested call would wait for itself.
        """
        if getattr(self._local, "writing", False):
            raise RuntimeError("write transactions do not nest; pass the session down instead")
        with self._writer_turn():
            self._local.writing = True
            try:
                with self._write_sessions() as session, session.begin():
                    yield session
            finally:
                self._local.writing = False

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        if not self._write_lock.acquire(timeout=self._busy_timeout_s):
            raise LimitError("the database is busy; retry shortly", retry_after_seconds=1)
        try:
            yield
        finally:
            self._write_lock.release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction on one consistent snapshot (a reader connection)."""
        if self._reader is self._writer and self._write_lock is not None:
            # In-memory SQLite has only the writer connection.
            with self.transaction() as session:
                yield session
            return
        with self._read_sessions() as session, session.begin():
            yield session

    def serialize(self, session: Session, scope: bytes) -> None:
        """Make the rest of this write transaction exclusive for `scope` (for example a tag).

        PostgreSQL: a transaction-level advisory lock on a 64-bit hash of the scope, held
        until commit or rollback, so writers from any number of processes take turns.
        SQLite: nothing to do, the single writer already runs one transaction at a time
        (and BEGIN IMMEDIATE holds the file's write lock against other processes).
        """
        if self.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(scope)})

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file and truncate the WAL to zero bytes
        (before a backup, or to check what the files hold); PostgreSQL: nothing to do."""
        if self.dialect != "sqlite":
            return
        with self._writer_turn():
            # Outside any transaction, which a checkpoint cannot run inside.
            raw = self._writer.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.close()
            finally:
                raw.close()

    # -- migrations --------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to `revision` (by default the newest)."""
        self._migrate(lambda config: command.upgrade(config, revision))

    def downgrade(self, revision: str) -> None:
        """Run the Alembic migrations down to `revision` ("base" drops everything)."""
        self._migrate(lambda config: command.downgrade(config, revision))

    def current_revision(self) -> str | None:
        """The revision the database is at, or None before the first migration."""
        from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - tools only

        with self._writer.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def _migrate(self, run: Callable[[Config], None]) -> None:
        with self._writer_turn(), self._writer.begin() as connection:
            # Two processes starting at once must not both create the tables.
            if self.dialect == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": lock_key(_MIGRATION_LOCK_SCOPE)},
                )
            run(alembic_config(connection))


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration built in code, so migrations run from the installed package
    without an alembic.ini; env.py takes `connection` from its attributes."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _configure_sqlite(
    engine: Engine,
    busy_timeout_s: float,
    *,
    read_only: bool,
    then: Callable[[Any], None] | None = None,
) -> None:
    """Configure every new connection of `engine`, then hand it to `then` (see `Database`)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when transactions begin (see _begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not read_only:
                # Persistent in the file: readers never block the writer, nor it them.
                cursor.execute("PRAGMA journal_mode=WAL")
            # A commit is on disk before it returns: an acknowledged slot survives a crash.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted rows are overwritten with zeros, not left in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            if read_only:
                # A read path that tries to write fails loudly instead of bypassing the
                # single writer.
                cursor.execute("PRAGMA query_only=ON")
        finally:
            cursor.close()
        if then is not None:
            # Called here rather than from a listener of its own, so that it runs after
            # the settings above whatever order SQLAlchemy keeps its listeners in.
            then(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock at BEGIN: a writer in another process waits in
        # the busy handler here, before reading anything, instead of failing with
        # SQLITE_BUSY when its read snapshot turns out stale at its first write.
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
