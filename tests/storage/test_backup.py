"""notalone.storage.backup: online snapshots, and every refusal of backup and restore.

A small data directory stands in for `notalone up`'s: a SQLite database in WAL mode with
commits still in its WAL (a connection stays open), a key file, a settings file and a
subdirectory. The refusals: an existing output, a restore into a non-empty directory or
over a file, archive members with `..`, an absolute path, a link or a device, a member
that does not match the manifest, and a database that fails `PRAGMA integrity_check`.
A writer that keeps committing during the backup shows the snapshot is consistent. The
CLI's errors exit 2 with one line and no traceback.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from notalone.cli.main import app
from notalone.storage.backup import (
    MANIFEST_NAME,
    BackupFailedError,
    BackupRefusedError,
    Manifest,
    create_backup,
    integrity_check,
    restore_backup,
)

ROWS = 200


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data directory whose database's newest commits are only in its WAL."""
    directory = tmp_path / "data"
    (directory / "keys").mkdir(parents=True, mode=0o700)
    (directory / "escrow.json").write_text('{"database_url": "sqlite:///escrow.sqlite3"}\n')
    (directory / "keys" / "share.json").write_text('{"share": "00ff"}\n')
    connection = sqlite3.connect(directory / "escrow.sqlite3")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    connection.execute("CREATE INDEX t_v ON t (v)")
    with connection:
        connection.executemany(
            "INSERT INTO t (v) VALUES (?)", [(f"value-{i:04d}" * 20,) for i in range(ROWS)]
        )
    assert (directory / "escrow.sqlite3-wal").stat().st_size > 0
    yield directory
    connection.close()


def _count(path: Path, table: str = "t") -> int:
    with sqlite3.connect(path) as connection:
        query = "SELECT count(*) FROM {}"  # a, b or t: the test's own tables
        count: int = connection.execute(query.format(table)).fetchone()[0]
    connection.close()
    return count


def test_backup_and_restore_round_trip(data: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    summary = create_backup(data, archive)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert summary.bytes == archive.stat().st_size
    assert {m.path: m.kind for m in summary.manifest.files} == {
        "escrow.json": "file",
        "escrow.sqlite3": "sqlite",
        "keys/share.json": "file",
    }
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert not any(n.endswith(("-wal", "-shm")) for n in names)
    assert names[-1] == MANIFEST_NAME

    restored = tmp_path / "restored"
    result = restore_backup(archive, restored)
    assert result.manifest.databases == 1
    assert _count(restored / "escrow.sqlite3") == ROWS  # the WAL's commits are in the copy
    assert (restored / "keys" / "share.json").read_text() == '{"share": "00ff"}\n'
    for path in [restored, *restored.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    assert not list(tmp_path.glob(".*restore-*"))
    assert not list(tmp_path.glob(".notalone-backup-*"))


def test_restore_into_an_existing_empty_directory(data: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    create_backup(data, archive)
    empty = tmp_path / "empty"
    empty.mkdir()
    restore_backup(archive, empty)
    assert _count(empty / "escrow.sqlite3") == ROWS


def test_overwrite_refused(data: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    archive.write_bytes(b"precious")
    with pytest.raises(BackupRefusedError, match="already exists; refusing to overwrite"):
        create_backup(data, archive)
    assert archive.read_bytes() == b"precious"
    link = tmp_path / "dangling.tar"
    link.symlink_to(tmp_path / "elsewhere.tar")
    with pytest.raises(BackupRefusedError, match="already exists"):
        create_backup(data, link)
    assert not (tmp_path / "elsewhere.tar").exists()


def test_backup_refusals(data: Path, tmp_path: Path) -> None:
    with pytest.raises(BackupRefusedError, match="no such directory"):
        create_backup(tmp_path / "missing", tmp_path / "a.tar")
    with pytest.raises(BackupRefusedError, match="outside the data directory"):
        create_backup(data, data / "inside.tar")
    with pytest.raises(BackupRefusedError, match="no such directory"):
        create_backup(data, tmp_path / "no" / "such" / "a.tar")
    (data / "keys" / "link").symlink_to(data / "escrow.json")
    with pytest.raises(BackupRefusedError, match="keys/link: a symbolic link"):
        create_backup(data, tmp_path / "b.tar")
    assert not (tmp_path / "b.tar").exists()


def test_restore_into_a_non_empty_directory_refused(data: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    create_backup(data, archive)
    with pytest.raises(BackupRefusedError, match="not empty; restore only into a new"):
        restore_backup(archive, data)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep").write_text("keep")
    with pytest.raises(BackupRefusedError, match="not empty"):
        restore_backup(archive, busy)
    assert [p.name for p in busy.iterdir()] == ["keep"]
    with pytest.raises(BackupRefusedError, match="not a directory"):
        restore_backup(archive, busy / "keep")


def _tar(path: Path, *infos: tuple[tarfile.TarInfo, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, content in infos:
            info.size = len(content) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mode = 0o600
    return info


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_member("../x"), "'../x': a path with '..' is refused"),
        (_member("keys/../../x"), "a path with '..' is refused"),
        (_member("/etc/x"), "'/etc/x': an absolute path is refused"),
        (_member("link", tarfile.SYMTYPE, "/etc/passwd"), "'link': a link is refused"),
        (_member("hard", tarfile.LNKTYPE, "escrow.json"), "'hard': a link is refused"),
        (_member("dev", tarfile.CHRTYPE), "'dev': a device or FIFO is refused"),
        (_member("fifo", tarfile.FIFOTYPE), "'fifo': a device or FIFO is refused"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink", "device", "fifo"],
)
def test_unsafe_members_refused(tmp_path: Path, member: tarfile.TarInfo, message: str) -> None:
    manifest = Manifest(source="/x", created_at_ms=0, directories=(), files=())
    archive = _tar(
        tmp_path / "evil.tar",
        (_member("escrow.json"), b"{}"),
        (member, b"owned"),
        (_member(MANIFEST_NAME), manifest.to_json()),
    )
    dest = tmp_path / "dest"
    with pytest.raises(BackupRefusedError, match=message.replace("(", r"\(").replace(".", r"\.")):
        restore_backup(archive, dest)
    assert not dest.exists()
    assert not (tmp_path / "x").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar"]


def test_not_a_backup_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.tar").write_bytes(os.urandom(4096))
    with pytest.raises(BackupRefusedError, match="not a readable tar archive"):
        restore_backup(tmp_path / "junk.tar", tmp_path / "a")
    archive = _tar(tmp_path / "plain.tar", (_member("escrow.json"), b"{}"))
    with pytest.raises(BackupRefusedError, match="no manifest"):
        restore_backup(archive, tmp_path / "b")
    with pytest.raises(BackupRefusedError, match="no such file"):
        restore_backup(tmp_path / "missing.tar", tmp_path / "c")


def _rewrite(archive: Path, target: Path, change: dict[str, bytes], *, fix_manifest: bool) -> Path:
    """A copy of `archive` with some members' contents replaced (and, if asked, a manifest
    that agrees with them: a well-formed archive of a damaged database)."""
    with tarfile.open(archive) as tar:
        contents = {}
        for info in tar.getmembers():
            extracted = tar.extractfile(info) if info.isreg() else None
            contents[info.name] = (info, extracted.read() if extracted else b"")
    contents.update({name: (contents[name][0], data) for name, data in change.items()})
    if fix_manifest:
        import hashlib  # noqa: PLC0415 - only here

        document = json.loads(contents[MANIFEST_NAME][1])
        for entry in document["files"]:
            data = contents[entry["path"]][1]
            entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
        contents[MANIFEST_NAME] = (contents[MANIFEST_NAME][0], json.dumps(document).encode())
    return _tar(target, *contents.values())


def test_damaged_member_refused(data: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    create_backup(data, archive)
    damaged = _rewrite(
        archive, tmp_path / "damaged.tar", {"escrow.json": b"{ }\n"}, fix_manifest=False
    )
    with pytest.raises(BackupRefusedError, match=r"escrow\.json: .*manifest"):
        restore_backup(damaged, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_corrupted_database_caught_by_integrity_check(data: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    create_backup(data, archive)
    with tarfile.open(archive) as tar:
        extracted = tar.extractfile("escrow.sqlite3")
        assert extracted is not None
        database = bytearray(extracted.read())
    page_size = int.from_bytes(database[16:18], "big")
    assert len(database) >= 4 * page_size
    # Scribble over the third page (a b-tree page of the table or its index).
    database[2 * page_size + 8 : 3 * page_size] = bytes([0xA5]) * (page_size - 8)
    corrupted = _rewrite(
        archive, tmp_path / "corrupted.tar", {"escrow.sqlite3": bytes(database)}, fix_manifest=True
    )
    dest = tmp_path / "dest"
    with pytest.raises(BackupFailedError, match=r"escrow\.sqlite3: .*fails PRAGMA integrity_check"):
        restore_backup(corrupted, dest)
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "backup.tar",
        "corrupted.tar",
        "data",
    ]


def test_integrity_check_of_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4080))
    assert integrity_check(path) != []


def test_snapshot_is_consistent_under_a_live_writer(data: Path, tmp_path: Path) -> None:
    """A writer commits pairs of rows (one in each of two tables) while backups run: each
    snapshot holds whole transactions only, so both tables have as many rows."""
    database = data / "escrow.sqlite3"
    with sqlite3.connect(database) as setup:
        setup.execute("CREATE TABLE a (v BLOB)")
        setup.execute("CREATE TABLE b (v BLOB)")
    setup.close()
    stop = threading.Event()
    commits = [0]

    def write() -> None:
        connection = sqlite3.connect(database, timeout=30)
        try:
            while not stop.is_set():
                with connection:
                    blob = os.urandom(512)
                    connection.execute("INSERT INTO a VALUES (?)", (blob,))
                    connection.execute("INSERT INTO b VALUES (?)", (blob,))
                commits[0] += 1
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while commits[0] == 0:  # the writer is under way before the first backup
            stop.wait(0.01)
        snapshots = []
        for number in range(5):
            archive = tmp_path / f"live-{number}.tar"
            create_backup(data, archive)
            restored = tmp_path / f"restored-{number}"
            restore_backup(archive, restored)
            snapshot = restored / "escrow.sqlite3"
            snapshots.append((_count(snapshot, "a"), _count(snapshot, "b")))
    finally:
        stop.set()
        writer.join()
    assert all(a == b for a, b in snapshots), snapshots
    assert snapshots[-1][0] > snapshots[0][0] > 0, snapshots  # the writer ran meanwhile
    assert commits[0] >= snapshots[-1][0]


def test_cli_errors_exit_2_without_traceback(data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["backup", "--data", str(tmp_path / "nope"), "--out", "x.tar"])
    assert missing.exit_code == 2
    assert "error: " in missing.output
    assert "no such directory" in missing.output
    (tmp_path / "not-data").mkdir()
    not_data = runner.invoke(
        app, ["backup", "--data", str(tmp_path / "not-data"), "--out", str(tmp_path / "y.tar")]
    )
    assert not_data.exit_code == 2
    assert "not a NotAlone data directory" in not_data.output
    # An output nobody can write, whoever runs the test (root writes to a 0500 directory).
    unwritable = runner.invoke(
        app, ["backup", "--data", str(data), "--out", str(tmp_path / "no-such-dir" / "z.tar")]
    )
    assert unwritable.exit_code == 2
    assert "no such directory" in unwritable.output
    assert "Traceback" not in unwritable.output
    archive = tmp_path / "ok.tar"
    ok = runner.invoke(app, ["backup", "--data", str(data), "--out", str(archive), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["databases"] == 1
    again = runner.invoke(app, ["backup", "--data", str(data), "--out", str(archive)])
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.output
    refused = runner.invoke(app, ["restore", str(archive), "--data", str(data)])
    assert refused.exit_code == 2
    assert "not empty" in refused.output
    for result in (missing, not_data, unwritable, again, refused):
        assert "Traceback" not in result.output
        assert "00ff" not in result.output  # no file content
