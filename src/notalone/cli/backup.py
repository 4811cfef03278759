"""`notalone backup` and `notalone restore`: a `notalone up` data directory, online.

`backup --data DIR --out FILE` may run while `notalone up` serves DIR: the SQLite
databases (the escrow's, the key servers' quota stores) are copied with SQLite's online
backup API, a consistent snapshot each; the keys, settings and counselor files as they
are; all into one tar file created 0600, never over an existing file.

`restore FILE --data NEWDIR` unpacks into a new (absent or empty) directory only, checks
every member first (no absolute path, `..`, link or device), writes files 0600 and
directories 0700, checks each database with `PRAGMA integrity_check`, and points the
restored settings (`escrow.json`'s SQLite URL, the counselor file paths in `demo.json`
and `up.json`) at NEWDIR, so that `notalone up --data NEWDIR` runs on the copy.

The I/O is `notalone.storage.backup`; this module adds what is particular to `notalone
up`'s layout, progress on stderr and the output. Nothing here prints a file's contents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from notalone.cli.survivor import JsonOption, emit, err_console, reported_errors, write_private
from notalone.cli.up import CONFIG_FILE, DEMO_FILE, UP_FILE
from notalone.storage.backup import (
    BackupRefusedError,
    Manifest,
    create_backup,
    restore_backup,
)
from notalone.storage.backup import (
    Progress as ProgressCallback,
)

SQLITE_PREFIX = "sqlite:///"
#: The settings files whose absolute paths into the data directory a restore rewrites.
RELOCATED = (CONFIG_FILE, DEMO_FILE, UP_FILE)


def backup_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="The archive to write (a new file, created 0600).", dir_okay=False
        ),
    ],
    data: Annotated[
        Path, typer.Option("--data", help="The data directory of `notalone up`.", file_okay=False)
    ] = Path("notalone-data"),
    as_json: JsonOption = False,
) -> None:
    """Back up a data directory, online: consistent database snapshots, keys, settings."""
    with reported_errors():
        if not data.is_dir():
            raise BackupRefusedError(f"{data}: no such directory")
        if not (data / CONFIG_FILE).is_file():
            raise BackupRefusedError(
                f"{data}: not a NotAlone data directory (no {CONFIG_FILE}; see `notalone up`)"
            )
        _warn_if_database_elsewhere(data)
        with _progress("Backing up") as progress:
            summary = create_backup(data, out, progress=progress)
    manifest = summary.manifest
    value = {
        "archive": str(summary.archive),
        "source": manifest.source,
        "files": len(manifest.files),
        "databases": manifest.databases,
        "directories": len(manifest.directories),
        "bytes": summary.bytes,
        "sha256": summary.sha256,
    }
    emit(
        as_json,
        value,
        f"Backed up {len(manifest.files)} files ({manifest.databases} SQLite databases, "
        f"snapshot online) from {data} to {summary.archive}: {summary.bytes:,} bytes, "
        f"sha256 {summary.sha256}.\n"
        "The archive holds every secret of this deployment (keys, tokens): keep it as "
        "safe as the data directory.",
    )


def restore_command(
    archive: Annotated[
        Path, typer.Argument(help="An archive written by `notalone backup`.", dir_okay=False)
    ],
    data: Annotated[
        Path,
        typer.Option("--data", help="The new data directory (absent or empty).", file_okay=False),
    ],
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into a new data directory, checked member by member."""
    with reported_errors(), _progress("Restoring") as progress:
        summary = restore_backup(archive, data, prepare=_relocate, progress=progress)
    manifest = summary.manifest
    value = {
        "data": str(summary.data),
        "source": manifest.source,
        "files": len(manifest.files),
        "databases": manifest.databases,
        "directories": len(manifest.directories),
        "bytes": summary.bytes,
        "integrity_check": "ok",
    }
    emit(
        as_json,
        value,
        f"Restored {len(manifest.files)} files ({manifest.databases} SQLite databases, "
        f"each passing PRAGMA integrity_check) into {summary.data}.\n"
        f"Start it with: notalone up --data {summary.data}",
    )


@contextmanager
def _progress(what: str) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr (so --json output stays clean), as a callback; none
    when stderr is not a terminal (a script's log gets no bar residue)."""
    if not err_console.is_terminal:
        yield lambda path, number, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(what, total=None)

        def callback(path: str, number: int, total: int) -> None:
            bar.update(task, description=f"{what} {path}", total=total, completed=number - 1)

        yield callback


def _warn_if_database_elsewhere(data: Path) -> None:
    """The escrow's database is backed up only if it is a SQLite file inside `data`."""
    try:
        config = json.loads((data / CONFIG_FILE).read_text(encoding="utf-8"))
        url = config.get("database_url", "")
    except (OSError, ValueError, AttributeError):
        return
    inside = False
    if isinstance(url, str) and url.startswith(SQLITE_PREFIX):
        path = Path(url.removeprefix(SQLITE_PREFIX))
        inside = (data / path).resolve().is_relative_to(data.resolve())
    if not inside:
        # The URL is not repeated: it may carry a password.
        err_console.print(
            f"warning: the escrow's database (see {CONFIG_FILE}) is not a SQLite file in "
            f"{data}; back it up with its own tools (for PostgreSQL, pg_dump).",
            markup=False,
            highlight=False,
        )


def _relocate(staged: Path, final: Path, manifest: Manifest) -> None:
    """Point the restored settings' absolute paths into the old directory at `final`."""
    old, new = manifest.source, str(final.resolve())
    if old == new:
        return
    for name in RELOCATED:
        path = staged / name
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise BackupRefusedError(f"{name}: not valid JSON in the backup") from e
        moved = _moved(document, old, new)
        if moved != document:
            write_private(path, json.dumps(moved, indent=2).encode() + b"\n", replace=True)


def _moved(value: Any, old: str, new: str) -> Any:
    """`value` with every path (or SQLite URL) under `old` moved under `new`."""
    if isinstance(value, dict):
        return {key: _moved(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved(item, old, new) for item in value]
    if isinstance(value, str):
        for prefix in ("", SQLITE_PREFIX):
            if value == prefix + old:
                return prefix + new
            if value.startswith(prefix + old + "/"):
                return prefix + new + value[len(prefix + old) :]
    return value
