"""Crash safety: 16 writers with idempotency keys while the escrow is SIGKILLed 50 times.

(50 at full size, in `make test-slow`; 10 in `make test`: tests/sizes.py.)

`notalone up` (escrow and key servers, SQLite WAL with synchronous=FULL) runs on a data
directory; 16 survivors write records and entries concurrently, each write with its own
Idempotency-Key, some entries naming shared people so that matches form. Meanwhile the
process is killed with SIGKILL (no clean-up of any kind) at random moments and started
again on the same data. A writer whose request got no answer retries the same request
(same key, same body) until it gets one. Afterwards:

- every acknowledged write is there: 0 lost;
- nothing is there twice, and nothing is there that was never sent;
- `PRAGMA integrity_check` says ok;
- the transparency log holds exactly one leaf per stored record version;
- the match state recomputed from scratch (`protocol.matching.open_tag` over each tag's
  live slots, in storage order) equals the stored matches and inbox.

A retried write that had committed just before the kill, but whose Idempotency-Key
record had not (the two are separate transactions), must still get its 201: the store
recognises the very same entry (same account, encrypted copy and slot ids) or record
version (same ciphertext) and answers as the first attempt would have. Without that,
a first run of this test saw 26 of 234 writes answered "already in use" after 5 kills.

Power cuts (writes lost before fsync) are not simulated here: SIGKILL leaves the
operating system's page cache intact, so it cannot tell synchronous=FULL from NORMAL.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from notalone.crypto import aead
from notalone.protocol import matching
from notalone.protocol.receipts import SignedTreeHead
from notalone.protocol.slots import Package, Slot, build_slot
from notalone.storage.models import SLOT_LIVE
from tests.services.conftest import make_bundle
from tests.sizes import size
from tests.upstack import UpProcess, free_port
from tests.web.conftest import entry_body

# Quick in `make test`, at full size in `make test-slow` (tests/sizes.py).
pytestmark = pytest.mark.slow

KILLS = size("NOTALONE_CRASH_KILLS", full=50, quick=10)
WRITERS = 16
SHARED_PEOPLE = 6
PACKAGE = Package(contact="signal: crash test", identifiers=(("email", "P@x.org", "p@x.org"),))


@dataclass
class Op:
    """One write: its kind, body and Idempotency-Key (reused on every retry)."""

    kind: str  # "record" or "entry"
    object_id: str
    body: dict[str, Any]
    key: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass
class Writer:
    """A survivor writing until told to stop; what it sent and what was acknowledged."""

    token: str
    account_id: bytes
    sent: dict[str, Op] = field(default_factory=dict)
    acknowledged: set[str] = field(default_factory=set)
    retries: int = 0
    errors: list[str] = field(default_factory=list)


def _register(http: httpx.Client, invite: str, number: int) -> Writer:
    username = f"calm-crash-{number:04d}"
    auth_key = secrets.token_hex(32)
    body = {
        "username": username,
        "invite_code": invite,
        "key_bundle": make_bundle(username).to_bytes().hex(),
        "auth_key": auth_key,
        "recovery_auth_key": secrets.token_hex(32),
    }
    assert http.post("/v1/accounts", json=body).status_code == 201
    login = {"username": username, "auth_key": auth_key, "kind": "bearer"}
    session = http.post("/v1/login/finish", json=login).json()
    return Writer(session["token"], bytes.fromhex(session["account_id"]))


def _next_op(writer: Writer, rng: random.Random, world: dict[str, Any]) -> Op:
    if rng.random() < 0.5:
        record_id = secrets.token_hex(16)
        box = aead.seal(secrets.token_bytes(32), b"crash test record", b"notalone/v1/record")
        return Op("record", record_id, {"record_id": record_id, "ciphertext": box.hex()})
    free = [y for y in world["shared"] if y not in world["used"][writer.account_id]]
    if free and rng.random() < 0.5:
        y = rng.choice(free)
        world["used"][writer.account_id].add(y)
    else:
        y = os.urandom(64)
    counselor_id, public_key = rng.choice(world["counselors"])
    slot: Slot = build_slot(
        y,
        PACKAGE,
        threshold=world["threshold"],
        account_id=writer.account_id,
        slot_id=secrets.token_bytes(16),
        deployment_id=world["deployment_id"],
        counselor_id=counselor_id,
        counselor_public_key=public_key,
    )
    entry_id = secrets.token_bytes(16)
    return Op("entry", entry_id.hex(), entry_body([slot], entry_id=entry_id))


def _write(url: str, writer: Writer, world: dict[str, Any], stop: threading.Event) -> None:
    rng = random.Random(secrets.randbits(64))
    headers = {"Authorization": f"Bearer {writer.token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        while not stop.is_set():
            op = _next_op(writer, rng, world)
            writer.sent[op.object_id] = op
            path = "/v1/records" if op.kind == "record" else "/v1/entries"
            while True:
                try:
                    answer = http.post(path, json=op.body, headers={"Idempotency-Key": op.key})
                except httpx.TransportError:
                    writer.retries += 1
                    time.sleep(0.05)
                    continue
                if answer.status_code == 201:
                    writer.acknowledged.add(op.object_id)
                else:
                    writer.errors.append(f"{answer.status_code} {answer.text[:120]}")
                break


def _restart(data: Path, port: int) -> UpProcess:
    (data / "up.json").unlink(missing_ok=True)
    return UpProcess.start(data, port)


def test_sigkill_loses_no_acknowledged_write_and_duplicates_nothing(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    running = UpProcess.start(data, port)
    up = running.described
    operator = json.loads((data / "escrow.json").read_text())["operator_token"]
    with httpx.Client(base_url=running.url, timeout=30) as http:
        invite = http.post(
            f"/v1/organizations/{up['organization_id']}/invites",
            json={"count": 1, "max_uses": WRITERS, "ttl_seconds": 3600},
            headers={"Authorization": f"Bearer {operator}"},
        ).json()["invites"][0]["code"]
        writers = [_register(http, invite, n) for n in range(WRITERS)]
        deployment = http.get("/v1/deployment").json()
        counselors = [
            (c["id"], bytes.fromhex(c["public_key"]))
            for c in http.get("/v1/counselors").json()["counselors"]
        ]
    world: dict[str, Any] = {
        "shared": [os.urandom(64) for _ in range(SHARED_PEOPLE)],
        "used": defaultdict(set),
        "counselors": counselors,
        "threshold": deployment["match_threshold"],
        "deployment_id": bytes.fromhex(deployment["deployment_id"]),
    }
    stop = threading.Event()
    threads = [
        threading.Thread(target=_write, args=(running.url, w, world, stop), daemon=True)
        for w in writers
    ]
    for thread in threads:
        thread.start()
    chaos = random.Random(20261130)
    try:
        for _ in range(KILLS):
            time.sleep(chaos.uniform(0.1, 0.5))
            running.process.send_signal(signal.SIGKILL)
            running.process.wait()
            running = _restart(data, port)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    try:
        _check(running, writers, data, world["threshold"])
    finally:
        running.stop()


def _check(running: UpProcess, writers: list[Writer], data: Path, threshold: int) -> None:
    acknowledged = sum(len(w.acknowledged) for w in writers)
    assert [e for w in writers for e in w.errors] == []
    stored_versions = 0
    with httpx.Client(base_url=running.url, timeout=30) as http:
        for writer in writers:
            headers = {"Authorization": f"Bearer {writer.token}"}
            records = [
                r["record_id"] for r in http.get("/v1/records", headers=headers).json()["records"]
            ]
            entries = http.get("/v1/entries", headers=headers).json()["entries"]
            stored = records + [e["entry_id"] for e in entries]
            assert len(stored) == len(set(stored)), "a write is stored twice"
            assert writer.acknowledged <= set(stored), "an acknowledged write was lost"
            assert set(stored) <= set(writer.sent), "something was stored that was never sent"
            assert all(len(e["slots"]) == 1 for e in entries)
            stored_versions += len(records)
        head = http.get("/v1/log/head").json()["tree_head"]
    database = sqlite3.connect(f"file:{data / 'escrow.sqlite3'}?mode=ro", uri=True)
    try:
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (versions,) = database.execute("SELECT count(*) FROM record_versions").fetchone()
        assert versions == stored_versions
        recomputed, stored_members = _match_state(database, threshold)
    finally:
        database.close()
    # One log leaf per stored version: no version logged twice, none missing.
    assert SignedTreeHead.from_bytes(bytes.fromhex(head)).tree_size == versions
    assert recomputed == stored_members
    matches = len(stored_members)
    print(
        f"\ncrash safety: {KILLS} SIGKILLs, {WRITERS} writers, {acknowledged} acknowledged "
        f"writes, 0 lost, 0 duplicated; {sum(w.retries for w in writers)} retries after a "
        f"kill, every one answered 201; {versions} record versions in the log; "
        f"{matches} matches recomputed equal"
    )


def _match_state(
    database: sqlite3.Connection, threshold: int
) -> tuple[dict[bytes, set[bytes]], dict[bytes, set[bytes]]]:
    """Per tag: the slots open_tag opens from scratch, and the members stored."""
    rows = database.execute(
        "SELECT id, account_id, tag, x, share, outer_box, counselor_id FROM slots "
        "WHERE state = ? ORDER BY tag, position",
        (SLOT_LIVE,),
    ).fetchall()
    by_tag: dict[bytes, list[Slot]] = defaultdict(list)
    for slot_id, account_id, tag, x, share, outer, counselor_id in rows:
        by_tag[tag].append(Slot(slot_id, account_id, tag, x, share, outer, counselor_id))
    recomputed = {}
    for tag, live in by_tag.items():
        outcome = matching.open_tag(live, threshold)
        if outcome.matched:
            recomputed[tag] = {opened.slot_id for opened in outcome.opened}
    stored: dict[bytes, set[bytes]] = defaultdict(set)
    for tag, slot_id in database.execute("SELECT tag, slot_id FROM match_members"):
        stored[tag].add(slot_id)
    return recomputed, dict(stored)
