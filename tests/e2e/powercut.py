"""Power cuts for SQLite: a VFS that holds writes in a "page cache" until xSync, and a
DB-API 2 module over APSW so that the escrow's own `Database` runs on that VFS.

`Disk` is the machine: per file (main database, -wal, -journal) the bytes on the platter
(`durable`), the bytes the running program sees (`current`: the platter plus every write
since the last sync) and the writes not yet synced (`pending`). xSync moves a file's
pending writes to its platter; nothing else does. `Disk.cut` is the power cut: from that
moment every read, write and sync raises, and the image left on disk is the platter plus
a random subset of the pending writes, some of them torn (`Disk.write_image`).

The model stays within what the unix VFS this one inherits from promises SQLite: it
reports POWERSAFE_OVERWRITE but not ATOMIC, SEQUENTIAL or SAFE_APPEND (checked: 0x9000),
so unsynced writes may reach the platter in any order or not at all, and a write that
did not finish may leave any of its 512-byte sectors old or new, only a prefix of them, or
garbage in the last sector it reached; bytes outside the range written never change.
File creation and deletion are taken as durable at once (SQLite deletes the WAL only when
the last connection closes, which a run never does before its cut).

Locks and the WAL index (-shm) stay with the unix VFS, on empty placeholder files in the
run's directory: the -shm file holds nothing that survives a reboot (SQLite rebuilds it
from the WAL), so it is not part of the image.

`ApswDbapi` is just enough of the `sqlite3` module for SQLAlchemy's pysqlite dialect,
with the same semantics where SQLAlchemy looks (rowcount of DML statements, lastrowid,
description before the first row, isolation_level None = no implicit BEGIN, exception
classes named as in PEP 249 so SQLAlchemy wraps them as it wraps sqlite3's).
`vfs_database` builds the real `notalone.storage.engine.Database` on it, through the two
hooks `Database` keeps for tests and fault injection: `dbapi_module` (this module object,
for the writer and the readers alike) and `after_connect` (pragmas set after the storage's
own, for the control experiment's weaker `synchronous`).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw

from notalone.storage.engine import Database

SECTOR = 512
#: The files whose writes the page cache holds; anything else (temp files) is passed on.
_BUFFERED = apsw.SQLITE_OPEN_MAIN_DB | apsw.SQLITE_OPEN_WAL | apsw.SQLITE_OPEN_MAIN_JOURNAL


@dataclass
class _Pending:
    """One unsynced change: a write (`data` at `offset`) or a truncation (to `offset`)."""

    offset: int
    data: bytes | None


@dataclass
class _File:
    durable: bytearray
    current: bytearray
    pending: list[_Pending] = field(default_factory=list)


def _apply(target: bytearray, change: _Pending) -> None:
    if change.data is None:
        del target[change.offset :]
        return
    end = change.offset + len(change.data)
    if len(target) < change.offset:
        target.extend(bytes(change.offset - len(target)))
    target[change.offset : end] = change.data


@dataclass
class CutFigures:
    """What one power cut found in the page cache and what it left on disk."""

    pending: int = 0
    applied: int = 0
    torn: int = 0
    dropped: int = 0
    #: Of the pending writes, those to the main database file (a checkpoint's).
    pending_main: int = 0


class Disk:
    """The platter and page cache of every buffered file under `root`.

    `crashed` is set when the power has been cut, by `cut` or by the VFS once `arm`ed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.files: dict[str, _File] = {}
        self.lock = threading.Lock()
        self.dead = False
        self.crashed = threading.Event()
        self.operations = 0
        self._cut_after: int | None = None
        self._snapshot: dict[str, _File] = {}

    def load(self, image: Path) -> None:
        """Put the files of a directory on the platter, under this disk's root."""
        for path in image.iterdir():
            data = path.read_bytes()
            self.files[str(self.root / path.name)] = _File(bytearray(data), bytearray(data))

    # -- what the VFS calls, all under the lock --------------------------------------

    def _alive(self) -> None:
        if self.dead:
            raise apsw.IOError("the power is off")

    def _count(self) -> None:
        self.operations += 1
        if self._cut_after is not None and self.operations >= self._cut_after:
            self._cut_locked()

    def open(self, name: str) -> _File:
        with self.lock:
            self._alive()
            return self.files.setdefault(name, _File(bytearray(), bytearray()))

    def read(self, file: _File, amount: int, offset: int) -> bytes:
        with self.lock:
            self._alive()
            return bytes(file.current[offset : offset + amount])

    def write(self, file: _File, data: bytes, offset: int) -> None:
        with self.lock:
            self._alive()
            change = _Pending(offset, data)
            _apply(file.current, change)
            file.pending.append(change)
            self._count()

    def truncate(self, file: _File, size: int) -> None:
        with self.lock:
            self._alive()
            # Shrinking is a truncation; growing, a write of nothing at the new end.
            change = _Pending(size, None) if size < len(file.current) else _Pending(size, b"")
            _apply(file.current, change)
            file.pending.append(change)
            self._count()

    def sync(self, file: _File) -> None:
        with self.lock:
            self._alive()
            for change in file.pending:
                _apply(file.durable, change)
            file.pending.clear()
            self._count()

    def size(self, file: _File) -> int:
        with self.lock:
            self._alive()
            return len(file.current)

    def exists(self, name: str) -> bool:
        with self.lock:
            self._alive()
            file = self.files.get(name)
            # As the unix VFS answers: an empty file does not count (a spent journal).
            return file is not None and len(file.current) > 0

    def delete(self, name: str) -> None:
        with self.lock:
            self._alive()
            if self.files.pop(name, None) is None:
                raise apsw.IOError("no such file")

    # -- the cut ---------------------------------------------------------------------

    def arm(self, operations: int) -> None:
        """Cut the power right after the next `operations`-th write, sync or truncation
        (so that cuts land in the middle of I/O, not only between transactions)."""
        with self.lock:
            self._cut_after = self.operations + operations

    def cut(self) -> None:
        """Cut the power now (a no-op if it is already off)."""
        with self.lock:
            self._cut_locked()

    def _cut_locked(self) -> None:
        if self.dead:
            return
        self.dead = True
        self._snapshot = {
            name: _File(bytearray(f.durable), bytearray(), list(f.pending))
            for name, f in self.files.items()
        }
        self.crashed.set()

    def write_image(self, target: Path, rng: random.Random) -> CutFigures:
        """Write what the platter holds after the cut into `target` (same file names)."""
        figures = CutFigures()
        target.mkdir(parents=True)
        for name, file in self._snapshot.items():
            image = file.durable
            for change in file.pending:
                figures.pending += 1
                figures.pending_main += not name.endswith(("-wal", "-journal"))
                if rng.random() < 0.5:
                    figures.dropped += 1
                    continue
                figures.applied += 1
                if change.data is None or rng.random() < 0.6:
                    _apply(image, change)
                else:
                    figures.torn += 1
                    for piece in _torn(change, rng):
                        _apply(image, piece)
            (target / Path(name).name).write_bytes(bytes(image))
        return figures


def _torn(change: _Pending, rng: random.Random) -> list[_Pending]:
    """The sectors of an unfinished write that reached the platter (PSOW: never a byte
    outside the write's range)."""
    assert change.data is not None  # truncations are never torn
    data, start = change.data, change.offset
    pieces: list[_Pending] = []
    cursor = start
    while cursor < start + len(data):
        end = min((cursor // SECTOR + 1) * SECTOR, start + len(data))
        pieces.append(_Pending(cursor, data[cursor - start : end - start]))
        cursor = end
    mode = rng.choice(("prefix", "some", "garbage"))
    if mode == "prefix":
        return pieces[: rng.randrange(len(pieces))]
    if mode == "some":
        return [p for p in pieces if rng.random() < 0.5]
    # The write stopped inside a sector, which holds garbage from there on.
    reached = pieces[: rng.randrange(1, len(pieces) + 1)]
    last = reached[-1]
    assert last.data is not None
    keep = rng.randrange(len(last.data))
    reached[-1] = _Pending(last.offset, last.data[:keep] + os.urandom(len(last.data) - keep))
    return reached


class BufferedVFS(apsw.VFS):
    """The unix VFS, with the content of the files under the disk's root held by `disk`."""

    def __init__(self, name: str, disk: Disk) -> None:
        self.name = name
        self.disk = disk
        super().__init__(name, base="")

    def _managed(self, name: str) -> bool:
        return Path(name).parent == self.disk.root

    def xOpen(self, name: str | apsw.URIFilename | None, flags: list[int]) -> apsw.VFSFile:  # noqa: N802 - APSW's name
        path = name.filename() if isinstance(name, apsw.URIFilename) else name
        if name is not None and path is not None and flags[0] & _BUFFERED and self._managed(path):
            return BufferedFile(self.disk, name, path, flags)
        return apsw.VFSFile("", name, flags)

    def xAccess(self, pathname: str, flags: int) -> bool:  # noqa: N802 - APSW's name
        if flags == apsw.SQLITE_ACCESS_EXISTS and self._managed(pathname):
            return self.disk.exists(pathname)
        return bool(super().xAccess(pathname, flags))

    def xDelete(self, filename: str, syncdir: bool) -> None:  # noqa: N802 - APSW's name
        if not self._managed(filename):
            super().xDelete(filename, syncdir)
            return
        self.disk.delete(filename)
        Path(filename).unlink(missing_ok=True)


class BufferedFile(apsw.VFSFile):
    """A file whose content lives in the disk; locks and shared memory stay with the unix
    VFS on an empty placeholder file of the same name."""

    def __init__(
        self, disk: Disk, name: str | apsw.URIFilename, path: str, flags: list[int]
    ) -> None:
        super().__init__("", name, flags)
        self.disk = disk
        self.file = disk.open(path)

    def xRead(self, amount: int, offset: int) -> bytes:  # noqa: N802 - APSW's name
        # Past the end the result is short: APSW then zero-fills the rest and reports
        # SQLITE_IOERR_SHORT_READ, as the unix VFS does.
        return self.disk.read(self.file, amount, offset)

    def xWrite(self, data: Any, offset: int) -> None:  # noqa: N802 - APSW's name
        self.disk.write(self.file, bytes(data), offset)

    def xTruncate(self, newsize: int) -> None:  # noqa: N802 - APSW's name
        self.disk.truncate(self.file, newsize)

    def xSync(self, flags: int) -> None:  # noqa: N802 - APSW's name
        self.disk.sync(self.file)

    def xFileSize(self) -> int:  # noqa: N802 - APSW's name
        return self.disk.size(self.file)


# -- a DB-API 2 module over APSW, for SQLAlchemy's pysqlite dialect ------------------------


class Warning(Exception):  # noqa: N818 - the name PEP 249 gives it
    """PEP 249's Warning."""


class Error(Exception):
    """PEP 249's base class; SQLAlchemy wraps what derives from it."""


class InterfaceError(Error):
    """PEP 249."""


class DatabaseError(Error):
    """PEP 249."""


class DataError(DatabaseError):
    """PEP 249."""


class OperationalError(DatabaseError):
    """PEP 249."""


class IntegrityError(DatabaseError):
    """PEP 249."""


class InternalError(DatabaseError):
    """PEP 249."""


class ProgrammingError(DatabaseError):
    """PEP 249."""


class NotSupportedError(DatabaseError):
    """PEP 249."""


# The primary result codes as the sqlite3 module maps them (Modules/_sqlite/util.c).
_BY_CODE: dict[int, type[Error]] = {
    apsw.SQLITE_CONSTRAINT: IntegrityError,
    apsw.SQLITE_MISMATCH: IntegrityError,
    apsw.SQLITE_CORRUPT: DatabaseError,
    apsw.SQLITE_NOTADB: DatabaseError,
    apsw.SQLITE_TOOBIG: DataError,
    apsw.SQLITE_MISUSE: InterfaceError,
    apsw.SQLITE_RANGE: InterfaceError,
    apsw.SQLITE_INTERNAL: InternalError,
    apsw.SQLITE_NOTFOUND: InternalError,
}
# As the sqlite3 module (3.11) decides that a statement's changes count in rowcount.
_DML = re.compile(r"\s*(insert|update|delete|replace)\b", re.IGNORECASE)


def _translate(error: Exception) -> Error:
    if isinstance(error, apsw.ConnectionClosedError):
        # The text SQLAlchemy's pysqlite dialect recognises as a disconnect.
        return ProgrammingError("Cannot operate on a closed database.")
    if isinstance(error, apsw.Error):
        # An exception raised by the VFS itself (the power cut) carries no result code:
        # sqlite3 reports an I/O error as an OperationalError.
        code = getattr(error, "result", apsw.SQLITE_IOERR)
        return _BY_CODE.get(code & 0xFF, OperationalError)(str(error))
    return InterfaceError(str(error))


class Cursor:
    """A PEP 249 cursor; each statement's rows are read in full when it runs."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        connection = self.connection
        dml = _DML.match(sql) is not None
        described: list[tuple[tuple[Any, ...], ...]] = []

        def trace(cursor: apsw.Cursor, _sql: str, _bindings: Any) -> bool:
            # Before the first step: the columns are known even when no row comes back.
            described.append(cursor.description)
            return True

        try:
            if dml and connection.isolation_level is not None and not connection.in_transaction:
                # sqlite3's legacy transaction control, for a caller that leaves it on.
                connection.raw.execute(f"BEGIN {connection.isolation_level}")
            cursor = connection.raw.cursor()
            cursor.exec_trace = trace
            self._rows = list(cursor.execute(sql, parameters or None))
        except (apsw.Error, TypeError, ValueError, OverflowError) as e:
            raise _translate(e) from e
        self.description = (described[-1] or None) if described else None
        self.rowcount = connection.raw.changes() if dml else -1
        self.lastrowid = connection.raw.last_insert_rowid()
        return self

    def executemany(self, sql: str, seq_of_parameters: Sequence[Sequence[Any]]) -> Cursor:
        total = 0
        for parameters in seq_of_parameters:
            self.execute(sql, parameters)
            total += max(self.rowcount, 0)
        self.rowcount = total if _DML.match(sql) else -1
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while self._rows:
            yield self._rows.pop(0)

    def close(self) -> None:
        self._rows = []

    def setinputsizes(self, sizes: object) -> None:
        pass

    def setoutputsize(self, size: object, column: object = None) -> None:
        pass


class Connection:
    """A PEP 249 connection over an `apsw.Connection`."""

    def __init__(self, raw: apsw.Connection) -> None:
        self.raw = raw
        #: None: no implicit BEGIN (what `notalone.storage.engine` sets on every connection).
        self.isolation_level: str | None = ""

    @property
    def in_transaction(self) -> bool:
        return bool(self.raw.in_transaction)

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        return self.cursor().execute(sql, parameters)

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    def create_function(
        self, name: str, narg: int, func: Callable[..., Any], *, deterministic: bool = False
    ) -> None:
        self.raw.create_scalar_function(name, func, narg, deterministic=deterministic)

    def close(self) -> None:
        # After a power cut the last close cannot checkpoint; the handle is closed anyway.
        with contextlib.suppress(apsw.Error):
            self.raw.close(True)


class ApswDbapi:
    """The module object SQLAlchemy gets as `module=`: opens connections on one VFS."""

    apilevel = "2.0"
    threadsafety = 1
    paramstyle = "qmark"
    Binary = bytes
    sqlite_version = apsw.sqlite_lib_version()
    sqlite_version_info = tuple(int(part) for part in sqlite_version.split("."))
    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(self, vfs: str) -> None:
        self.vfs = vfs

    def connect(
        self, database: str, timeout: float = 5.0, check_same_thread: bool = True, **_: Any
    ) -> Connection:
        try:
            raw = apsw.Connection(database, vfs=self.vfs)
            # As sqlite3.connect(timeout=…) does.
            raw.set_busy_timeout(int(timeout * 1000))
        except apsw.Error as e:
            raise _translate(e) from e
        return Connection(raw)


def vfs_database(
    url: str, vfs: str, *, synchronous: str = "FULL", autocheckpoint: int | None = None
) -> Database:
    """The escrow's `Database` for `url`, every connection opened on `vfs`.

    `synchronous` other than FULL (the control) and `autocheckpoint` (pages; SQLite's
    default is 1000) are set after the storage's own per-connection settings, which set
    FULL, so that everything else stays as the escrow configures it.
    """
    pragmas = [] if synchronous == "FULL" else [f"PRAGMA synchronous={synchronous}"]
    if autocheckpoint is not None:
        pragmas.append(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")

    def override(dbapi_connection: Connection) -> None:
        for pragma in pragmas:
            dbapi_connection.execute(pragma)

    return Database(
        url,
        dbapi_module=ApswDbapi(vfs),
        after_connect=override if pragmas else None,
    )


@contextmanager
def registered(vfs: BufferedVFS) -> Iterator[BufferedVFS]:
    """Keep the VFS registered for the block."""
    try:
        yield vfs
    finally:
        vfs.unregister()
