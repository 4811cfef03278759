"""End to end: `notalone backup` of a running `notalone up`, restored and started again.

`notalone up` runs as a process (tests.upstack.UpProcess) on a tmp directory. Through the
CLI, two survivors register, each adds three records and makes one entry, and both name
the same phone number (written two ways), so a match reaches both counselors' inboxes.
Record texts, contacts, messages and identifiers are random canaries (tests/e2e/
test_canary.py's generators). While `up` still runs (its WAL holding recent commits),
`notalone backup` writes the archive; then `up` stops, the archive is restored into a
new directory, the original directory is deleted (so nothing can quietly read it), and
`notalone up` starts on the restored one. Then:

- the row counts of accounts, entries, slots, matches, inbox items, records and record
  versions (and of every other table) are equal, read from the SQLite files read-only;
- `GET /v1/log/head` gives the same tree size and root hash;
- each counselor's inbox opens the same packages through the CLI, and a survivor's
  record list decrypts the same texts;
- no canary is in the archive in plaintext: the tar bytes and each member are scanned
  (a positive control shows the scanner would find one).
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import stat
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from notalone.protocol.receipts import SignedTreeHead
from tests.e2e.test_canary import Canary, Scanner, make_email, make_phone, make_profile
from tests.upstack import UpProcess, cli, free_port

#: The tables the issue names, and what they hold.
COUNTED = {
    "accounts": "accounts",
    "entries": "entries",
    "slots": "slots",
    "matches": "matches",
    "inbox items": "inbox_items",
    "records": "records",
    "record versions": "record_versions",
}
RECORDS_PER_SURVIVOR = 3


def _text(kind: str) -> Canary:
    text = f"canary-{kind}-{secrets.token_hex(8)}"
    return Canary(kind, text, (text, text.upper()))


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def table_counts(database: Path) -> dict[str, int]:
    """Rows in every table of `database`, read-only."""
    connection = _read_only(database)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        # The names come from sqlite_master, not from input.
        query = 'SELECT count(*) FROM "{}"'
        return {t: connection.execute(query.format(t)).fetchone()[0] for t in tables}
    finally:
        connection.close()


def log_head(url: str) -> SignedTreeHead:
    response = httpx.get(f"{url}/v1/log/head", timeout=30)
    response.raise_for_status()
    return SignedTreeHead.from_bytes(bytes.fromhex(response.json()["tree_head"]))


def start_up(data: Path, port: int) -> UpProcess:
    """`notalone up`; a restored directory already holds an up.json (of the old run), so
    wait until the file describes this run."""
    running = UpProcess.start(data, port)
    expected = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while running.described.get("escrow_url") != expected:
        assert running.process.poll() is None, "notalone up stopped"
        assert time.monotonic() < deadline, "up.json was not rewritten within 60 s"
        time.sleep(0.1)
        running.described = json.loads((data / "up.json").read_text())
    return running


def open_inboxes(up: dict[str, Any]) -> dict[str, list[Any]]:
    """Each counselor's inbox opened through the CLI: their packages, by counselor id."""
    opened = {}
    server = ["--server", up["escrow_url"]]
    for counselor in up["counselors"]:
        files = ["--key", counselor["key_file"], "--token-file", counselor["token_file"]]
        items = cli("counselor", "inbox", *files, *server)
        ids = sorted({item["match_id"] for item in items})
        assert ids, counselor["id"]
        opened[counselor["id"]] = cli("counselor", "open", *ids, *files, *server)
    return opened


def record_texts(profile: Path, url: str) -> list[str]:
    records = cli("survivor", "record", "list", "--server", url, profile=profile)
    return sorted(v["what"] for r in records for v in r["versions"])


def test_backup_while_running_then_restore(tmp_path: Path) -> None:
    started = time.monotonic()
    data = tmp_path / "first" / "data"
    running = UpProcess.start(data, free_port())
    up = running.described
    server = ["--server", up["escrow_url"]]
    profiles = [tmp_path / f"survivor-{n}" for n in range(2)]
    phone = make_phone(set())
    emails, profile_links = [make_email()], [make_profile()]
    contacts = [_text("contact") for _ in profiles]
    messages = [_text("message") for _ in profiles]
    records = [[_text("record") for _ in range(RECORDS_PER_SURVIVOR)] for _ in profiles]
    # The same number, as each survivor writes it: international, then national + region.
    names = [
        ["--phone", phone.entered, "--email", emails[0].entered],
        ["--phone", phone.forms[3], "--region", str(phone.region),
         "--profile", profile_links[0].entered],
    ]  # fmt: skip
    texts = [r for rs in records for r in rs]
    canaries = [phone, *emails, *profile_links, *contacts, *messages, *texts]

    def survivor_flow(number: int) -> None:
        profile = profiles[number]
        cli("survivor", "register", "--invite", up["invite_codes"][number], *server,
            profile=profile)  # fmt: skip
        for record in records[number]:
            cli("survivor", "record", "add", "--what", record.entered, profile=profile)
        counselor = up["counselors"][number]["id"]
        cli("survivor", "entry", "add", *names[number], "--counselor", counselor,
            "--contact", contacts[number].entered, "--message", messages[number].entered,
            profile=profile)  # fmt: skip

    archive = tmp_path / "backup.tar"
    try:
        # The two survivors at once: each CLI call is a process, mostly Argon2id.
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(survivor_flow, range(2)))
        before_open = open_inboxes(up)
        before_head = log_head(up["escrow_url"])
        before_texts = record_texts(profiles[0], up["escrow_url"])
        assert before_texts == sorted(r.entered for r in records[0])
        # Online: the escrow runs, and its newest commits are still in the WAL.
        wal = data / "escrow.sqlite3-wal"
        assert wal.exists(), "the escrow's database is not in WAL mode"
        assert wal.stat().st_size > 0
        backup_started = time.monotonic()
        summary = cli("backup", "--data", str(data), "--out", str(archive))
        backup_s = time.monotonic() - backup_started
        assert running.process.poll() is None, "notalone up stopped during the backup"
    finally:
        returncode, _, err = running.stop()
    assert returncode == 0, err

    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert summary["bytes"] == archive.stat().st_size
    assert summary["databases"] == 4  # the escrow's and three quota stores
    before_counts = table_counts(data / "escrow.sqlite3")
    expected = {
        "accounts": 2,
        "entries": 2,
        "slots": 4,
        "matches": 1,
        "inbox_items": 2,
        "records": 2 * RECORDS_PER_SURVIVOR,
        "record_versions": 2 * RECORDS_PER_SURVIVOR,
    }
    assert {t: before_counts[t] for t in expected} == expected

    restored = tmp_path / "second" / "data"
    result = cli("restore", str(archive), "--data", str(restored))
    assert result["files"] == summary["files"]
    assert result["integrity_check"] == "ok"
    for path in [restored, *restored.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    # The restored deployment must stand alone: its settings point into `restored`.
    shutil.rmtree(data)
    config = json.loads((restored / "escrow.json").read_text())
    assert config["database_url"] == f"sqlite:///{(restored / 'escrow.sqlite3').resolve()}"

    again = start_up(restored, free_port())
    try:
        after_head = log_head(again.url)
        after_open = open_inboxes(again.described)
        after_texts = record_texts(profiles[0], again.url)
    finally:
        returncode, _, err = again.stop()
    assert returncode == 0, err
    after_counts = table_counts(restored / "escrow.sqlite3")

    assert after_counts == before_counts
    assert (after_head.tree_size, after_head.root) == (before_head.tree_size, before_head.root)
    assert after_head.tree_size == 2 * RECORDS_PER_SURVIVOR
    assert after_open == before_open
    assert {p["contact"] for ps in after_open.values() for p in ps} == {c.entered for c in contacts}
    assert after_texts == before_texts

    # No canary in the archive: its raw bytes and each member's.
    scanner = Scanner(canaries)
    raw = archive.read_bytes()
    findings = {"archive": scanner.find(raw)}
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isreg()]
        for member in members:
            extracted = tar.extractfile(member)
            assert extracted is not None
            findings[member.name] = scanner.find(extracted.read())
    leaks = {name: found for name, found in findings.items() if found}
    assert leaks == {}, f"canaries in the backup: {leaks}"
    # The scanner does find a canary put in the same bytes (the scan is not vacuous).
    control = records[0][0].entered.encode()
    assert scanner.find(raw[: len(raw) // 2] + control + raw[len(raw) // 2 :])

    counted = {label: (before_counts[t], after_counts[t]) for label, t in COUNTED.items()}
    print(
        f"\n[backup] archive {summary['bytes']:,} bytes, {summary['files']} files "
        f"({summary['databases']} SQLite databases), backup took {backup_s:.1f} s; "
        f"{len(canaries)} canaries, {len(members)} members and "
        f"{scanner.bytes_scanned:,} bytes scanned, none found; "
        f"counts (before, after): {counted}; all {len(after_counts)} tables equal; "
        f"log head size {after_head.tree_size} root {after_head.root.hex()[:16]}… equal; "
        f"{sum(len(p) for p in after_open.values())} packages opened; "
        f"{time.monotonic() - started:.1f} s in all"
    )
