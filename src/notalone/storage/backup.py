"""Online backup and safe restore of a data directory (what `notalone up` keeps in DIR).

`create_backup(data, out)` writes one uncompressed tar file, created 0600 and never over
an existing file. Every SQLite database in the directory (found by its file header, not
its name) is copied with SQLite's online backup API (`sqlite3.Connection.backup`) from a
read-only connection: one read transaction, so the copy is a consistent snapshot of the
last committed state even while a server keeps writing, the WAL's newest pages included.
The live `-wal`, `-shm` and `-journal` files are never copied. Every other file (keys,
settings, counselor files) is copied as it is. A manifest, `notalone-backup.json`, the
last member, lists each file's kind, size and SHA-256.

`restore_backup(archive, dest)` unpacks into a NEW (absent or empty) directory and
refuses anything else. Before writing a byte it checks every member: no absolute path, no
`..`, no link, device or other special file, no duplicate, and the members are exactly
the manifest's. Files are written 0600 and directories 0700 into a private staging
directory next to `dest`; each file's size and SHA-256 must match the manifest, and
each SQLite database must pass `PRAGMA integrity_check`. Only then is the staging
directory renamed to `dest`; on any failure it is removed and `dest` is left as it was.

Errors name files by their path in the data directory, never by what they hold. The
archive holds every secret of the deployment (server secret, key shares, counselors'
private keys): it must be kept as safe as the directory itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import shutil
import sqlite3
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from notalone.errors import InputError, NotAloneError

MANIFEST_NAME = "notalone-backup.json"
MANIFEST_FORMAT = "notalone/backup"
MANIFEST_VERSION = 1
MAX_MANIFEST_BYTES = 1 << 20
SQLITE_MAGIC = b"SQLite format 3\x00"
#: The files SQLite keeps beside a database while it is open: never copied.
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")
#: How long the snapshot waits for a lock held by the running servers.
BUSY_TIMEOUT_S = 30.0
FILE_MODE = 0o600
DIR_MODE = 0o700
_CHUNK = 1 << 16

#: Called before each file is copied: (path in the data directory, its number from 1, total).
Progress = Callable[[str, int, int], None]
#: Called on the staging directory before it becomes `dest`: (staged, dest, manifest).
Prepare = Callable[[Path, Path, "Manifest"], None]


class BackupRefusedError(InputError):
    """A backup or restore that cannot be done as asked; nothing was changed."""


class BackupFailedError(NotAloneError):
    """A backup or restore failed part-way (a database could not be read or checked)."""


@dataclass(frozen=True)
class Member:
    """One file of a backup: its path in the data directory, kind, size and SHA-256."""

    path: str
    kind: str  # "sqlite" or "file"
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What a backup holds and where it was taken from."""

    source: str
    created_at_ms: int
    directories: tuple[str, ...]
    files: tuple[Member, ...]

    def to_json(self) -> bytes:
        document = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "source": self.source,
            "created_at_ms": self.created_at_ms,
            "directories": list(self.directories),
            "files": [
                {"path": m.path, "kind": m.kind, "size": m.size, "sha256": m.sha256}
                for m in self.files
            ],
        }
        return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            document = json.loads(data)
        except ValueError as e:
            raise BackupRefusedError("the backup's manifest is malformed") from e
        if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
            raise BackupRefusedError("the archive is not a NotAlone backup (unknown manifest)")
        if document.get("version") != MANIFEST_VERSION:
            raise BackupRefusedError(
                f"the backup's format version {document.get('version')!r} is not supported"
            )
        try:
            return cls(
                source=_text(document["source"]),
                created_at_ms=_count(document["created_at_ms"]),
                directories=tuple(_text(d) for d in document["directories"]),
                files=tuple(
                    Member(
                        path=_text(f["path"]),
                        kind=_text(f["kind"]),
                        size=_count(f["size"]),
                        sha256=_text(f["sha256"]),
                    )
                    for f in document["files"]
                ),
            )
        except (KeyError, TypeError) as e:
            raise BackupRefusedError("the backup's manifest is malformed") from e

    @property
    def databases(self) -> int:
        return sum(m.kind == "sqlite" for m in self.files)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError("not a count")
    return value


@dataclass(frozen=True)
class BackupSummary:
    archive: Path
    manifest: Manifest
    bytes: int
    sha256: str


@dataclass(frozen=True)
class RestoreSummary:
    data: Path
    manifest: Manifest
    bytes: int


# --------------------------------------------------------------------------- SQLite


def is_sqlite(path: Path) -> bool:
    """Whether `path` starts with SQLite's file header."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)


def snapshot_sqlite(source: Path, target: Path) -> None:
    """Copy the database `source` into the new file `target` with the online backup API.

    One step (`pages=-1`): the copy is made inside one read transaction, so it is the
    database as of one commit, whatever the writers do meanwhile. The copy is switched to
    a rollback journal so that it is one self-contained file (the servers switch it back
    to WAL when they open it).
    """
    src = _read_only(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def integrity_check(path: Path) -> list[str]:
    """`PRAGMA integrity_check` on `path`, read-only: [] if "ok", else SQLite's findings
    (structural: pages, indexes, row ids; never a column's value)."""
    try:
        connection = _read_only(path)
        try:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as e:
        return [f"{type(e).__name__}: {e}"]
    findings = [str(row[0]) for row in rows]
    return [] if findings == ["ok"] else findings


# --------------------------------------------------------------------------- backup


@dataclass(frozen=True)
class _Planned:
    path: str
    kind: str
    source: Path


def plan_backup(data: Path) -> tuple[list[str], list[_Planned]]:
    """The directories and files a backup of `data` holds, in a stable order."""
    if not data.is_dir():
        raise BackupRefusedError(f"{data}: no such directory")
    directories: list[str] = []
    files: list[_Planned] = []
    for root, dirnames, filenames in os.walk(data, followlinks=False):
        dirnames.sort()
        base = Path(root)
        for name in [*dirnames, *sorted(filenames)]:
            full = base / name
            relative = full.relative_to(data).as_posix()
            try:
                mode = os.lstat(full).st_mode
            except FileNotFoundError:
                continue  # gone since the listing (a temporary file)
            if stat.S_ISLNK(mode):
                raise BackupRefusedError(f"{relative}: a symbolic link in the data directory")
            if stat.S_ISDIR(mode):
                directories.append(relative)
                continue
            if not stat.S_ISREG(mode):
                raise BackupRefusedError(f"{relative}: not a regular file or directory")
            if _skipped(base, name):
                continue
            kind = "sqlite" if is_sqlite(full) else "file"
            files.append(_Planned(relative, kind, full))
    return directories, files


def _skipped(directory: Path, name: str) -> bool:
    # A temporary file of an atomic write (`.NAME.XXXX.tmp`), about to be renamed.
    if name.startswith(".") and name.endswith(".tmp"):
        return True
    # SQLite's live companions of a database: the snapshot reads through them.
    for suffix in COMPANION_SUFFIXES:
        if name.endswith(suffix) and (directory / name.removesuffix(suffix)).is_file():
            return True
    return False


def create_backup(data: Path, out: Path, *, progress: Progress | None = None) -> BackupSummary:
    """Write a backup of the directory `data` to the new file `out` (see the module)."""
    directories, planned = plan_backup(data)
    resolved_data = data.resolve()
    if out.resolve().is_relative_to(resolved_data):
        raise BackupRefusedError(f"{out}: the archive must be written outside the data directory")
    if not out.parent.is_dir():
        raise BackupRefusedError(f"{out.parent}: no such directory")
    fd = _create_private(out)
    staging: Path | None = None
    try:
        with os.fdopen(fd, "wb") as file:
            # The databases' snapshots, private (0700), removed when done.
            staging = Path(tempfile.mkdtemp(prefix=".notalone-backup-", dir=out.parent))
            # tarfile does not close a file object it was given: fsync before closing.
            with tarfile.open(fileobj=file, mode="w", format=tarfile.PAX_FORMAT) as tar:
                members = _write_members(tar, directories, planned, staging, progress)
                manifest = Manifest(
                    source=str(resolved_data),
                    created_at_ms=int(time.time() * 1000),
                    directories=tuple(directories),
                    files=tuple(members),
                )
                document = manifest.to_json()
                tar.addfile(
                    _info(MANIFEST_NAME, tarfile.REGTYPE, len(document), FILE_MODE),
                    io.BytesIO(document),
                )
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        with suppress(OSError):
            out.unlink()
        raise
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    digest, size = _sha256_of(out)
    return BackupSummary(archive=out, manifest=manifest, bytes=size, sha256=digest)


def _create_private(out: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(out, flags, FILE_MODE)
    except FileExistsError as e:
        raise BackupRefusedError(f"{out}: already exists; refusing to overwrite it") from e
    except OSError as e:
        raise BackupRefusedError(
            f"{out}: cannot be written ({e.strerror or type(e).__name__})"
        ) from e
    os.fchmod(fd, FILE_MODE)  # whatever the umask
    return fd


class _Hashing:
    """A file object that hashes what tarfile reads through it."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self.hash.update(chunk)
        self.size += len(chunk)
        return chunk


def _write_members(
    tar: tarfile.TarFile,
    directories: list[str],
    planned: list[_Planned],
    staging: Path,
    progress: Progress | None,
) -> list[Member]:
    members: list[Member] = []
    for directory in directories:
        tar.addfile(_info(directory, tarfile.DIRTYPE, 0, DIR_MODE))
    for number, item in enumerate(planned, start=1):
        if progress is not None:
            progress(item.path, number, len(planned))
        source = item.source
        if item.kind == "sqlite":
            source = staging / f"{number}.sqlite3"
            try:
                snapshot_sqlite(item.source, source)
            except sqlite3.Error as e:
                raise BackupFailedError(
                    f"{item.path}: SQLite could not snapshot it ({type(e).__name__}: {e})"
                ) from e
        try:
            reader = source.open("rb")
        except FileNotFoundError:
            continue  # removed since the listing
        with reader:
            size = os.fstat(reader.fileno()).st_size
            hashing = _Hashing(reader)
            tar.addfile(_info(item.path, tarfile.REGTYPE, size, FILE_MODE), hashing)
        members.append(Member(item.path, item.kind, hashing.size, hashing.hash.hexdigest()))
        if item.kind == "sqlite":
            source.unlink()
    return members


def _info(name: str, kind: bytes, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = mode
    info.mtime = int(time.time())
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --------------------------------------------------------------------------- restore


def restore_backup(
    archive: Path,
    dest: Path,
    *,
    prepare: Prepare | None = None,
    progress: Progress | None = None,
) -> RestoreSummary:
    """Unpack the backup `archive` into the new directory `dest` (see the module)."""
    _check_destination(dest)
    if not archive.is_file():
        raise BackupRefusedError(f"{archive}: no such file")
    with _open_tar(archive) as tar:
        members, manifest = _checked_members(tar)
        try:
            dest.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.restore-", dir=dest.parent))
        except OSError as e:
            reason = e.strerror or type(e).__name__
            raise BackupRefusedError(f"{dest.parent}: cannot be written ({reason})") from e
        try:
            written = _extract(tar, members, manifest, staging, progress)
            _check_databases(staging, manifest)
            if prepare is not None:
                prepare(staging, dest, manifest)
            _check_destination(dest)  # still new: nobody wrote there meanwhile
            # rename(2) replaces an empty directory: the restore appears all at once.
            os.rename(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    os.chmod(dest, DIR_MODE)
    return RestoreSummary(data=dest, manifest=manifest, bytes=written)


def _check_databases(staging: Path, manifest: Manifest) -> None:
    for member in manifest.files:
        if member.kind != "sqlite":
            continue
        findings = integrity_check(staging / member.path)
        if findings:
            summary = "; ".join(findings[:3])[:300]
            raise BackupFailedError(
                f"{member.path}: the restored database fails PRAGMA integrity_check "
                f"({summary}); nothing was restored"
            )


def _check_destination(dest: Path) -> None:
    if dest.is_symlink():
        raise BackupRefusedError(f"{dest}: a symbolic link; restore into a new directory")
    if not dest.exists():
        return
    if not dest.is_dir():
        raise BackupRefusedError(f"{dest}: not a directory; restore into a new directory")
    if any(dest.iterdir()):
        raise BackupRefusedError(f"{dest}: not empty; restore only into a new or empty directory")


@contextmanager
def _open_tar(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        tar = tarfile.open(archive, mode="r:")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as e:
        raise BackupRefusedError(f"{archive}: not a readable tar archive") from e
    with tar:
        yield tar


def _safe_name(name: str) -> str:
    """The member's path if it stays inside the directory it is unpacked in."""
    if not name or "\x00" in name or "\\" in name:
        raise BackupRefusedError(f"archive member {name!r}: not a plain relative path")
    if name.startswith("/") or posixpath.isabs(name):
        raise BackupRefusedError(f"archive member {name!r}: an absolute path is refused")
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        raise BackupRefusedError(f"archive member {name!r}: a path with '..' is refused")
    if any(part in ("", ".") for part in parts):
        raise BackupRefusedError(f"archive member {name!r}: not a normalized relative path")
    return "/".join(parts)


def _checked_member(info: tarfile.TarInfo) -> str:
    """A member's safe path, if it is a plain file or directory (no link, no device)."""
    name = _safe_name(info.name)
    if info.issym() or info.islnk():
        raise BackupRefusedError(f"archive member {info.name!r}: a link is refused")
    if info.ischr() or info.isblk() or info.isfifo():
        raise BackupRefusedError(f"archive member {info.name!r}: a device or FIFO is refused")
    if not (info.isreg() or info.isdir()):
        raise BackupRefusedError(f"archive member {info.name!r}: not a regular file or directory")
    return name


def _checked_members(tar: tarfile.TarFile) -> tuple[dict[str, tarfile.TarInfo], Manifest]:
    """Every member checked before anything is written, and the manifest they match."""
    try:
        infos = tar.getmembers()
    except (tarfile.TarError, OSError) as e:
        raise BackupRefusedError("the archive is damaged (its member list cannot be read)") from e
    members: dict[str, tarfile.TarInfo] = {}
    for info in infos:
        name = _checked_member(info)
        if name in members:
            raise BackupRefusedError(f"archive member {info.name!r}: appears twice")
        members[name] = info
    manifest_info = members.pop(MANIFEST_NAME, None)
    if manifest_info is None or not manifest_info.isreg():
        raise BackupRefusedError("the archive is not a NotAlone backup (no manifest)")
    if manifest_info.size > MAX_MANIFEST_BYTES:
        raise BackupRefusedError("the backup's manifest is too large")
    extracted = tar.extractfile(manifest_info)
    if extracted is None:
        raise BackupRefusedError("the backup's manifest cannot be read")
    manifest = Manifest.from_json(extracted.read())
    listed = {m.path: m for m in manifest.files}
    for path in [*listed, *manifest.directories]:
        if _safe_name(path) != path:
            raise BackupRefusedError(f"the manifest names {path!r}, not a normalized relative path")
    archived_files = {name for name, info in members.items() if info.isreg()}
    archived_dirs = {name for name, info in members.items() if info.isdir()}
    if archived_files != set(listed) or archived_dirs != set(manifest.directories):
        raise BackupRefusedError("the archive's members do not match its manifest")
    for member in manifest.files:
        if member.kind not in ("sqlite", "file"):
            raise BackupRefusedError(f"the manifest gives {member.path!r} an unknown kind")
        if members[member.path].size != member.size:
            raise BackupRefusedError(f"{member.path}: its size does not match the manifest")
    return members, manifest


def _extract(
    tar: tarfile.TarFile,
    members: dict[str, tarfile.TarInfo],
    manifest: Manifest,
    staging: Path,
    progress: Progress | None,
) -> int:
    for directory in sorted(manifest.directories, key=lambda d: d.count("/")):
        target = staging / directory
        target.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(target, DIR_MODE)
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for number, member in enumerate(manifest.files, start=1):
        if progress is not None:
            progress(member.path, number, len(manifest.files))
        target = staging / member.path
        target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        source = tar.extractfile(members[member.path])
        if source is None:
            raise BackupRefusedError(f"{member.path}: cannot be read from the archive")
        digest = hashlib.sha256()
        size = 0
        fd = os.open(target, flags, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            try:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            except (tarfile.TarError, OSError) as e:
                raise BackupRefusedError(
                    f"{member.path}: the archive is truncated or damaged"
                ) from e
            out.flush()
            os.fsync(out.fileno())
        if size != member.size or digest.hexdigest() != member.sha256:
            raise BackupRefusedError(
                f"{member.path}: does not match the manifest (damaged archive)"
            )
        written += size
    return written
