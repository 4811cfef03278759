"""Escrow benchmark: durable slot inserts through HTTP against SQLite's own commit rate.

Everything is measured in one run, on one machine and one disk (a fresh temporary
directory), in interleaved rounds; the figures are medians over the rounds, so a noisy
neighbour slows every contender alike:

- raw bound: durable commits per second of a single-row INSERT (a row the size of a slot)
  into a SQLite file in WAL mode with synchronous=FULL, one connection, one transaction
  per row, through the sqlite3 module directly;
- through HTTP: the real escrow app (`create_app` on a migrated SQLite file, deployment
  keys, two counselors) served by uvicorn in a subprocess on a free port; `--clients`
  threads, each its own registered survivor with a bearer token (registration and login
  happen once, before any timing), POST /v1/entries with one genuine slot (`build_slot`
  of a random 64-byte OPRF output, so the usual non-matching path; 1 % of the slots use
  one of a few shared outputs, so some inserts do match) for `--seconds` per round:
  inserts per second and p50/p99 latency;
- size sensitivity: the median latency of single `SlotRepository.insert_and_match` calls
  on a database prefilled (bulk SQL inserts of realistic rows) with 10^4 slots against
  one prefilled with `--large` slots (10^6 by default), interleaved in blocks.

Targets (issue 3): HTTP inserts >= 0.5 x the raw bound; p99 <= 50 ms at 64 clients;
insert latency with `--large` slots <= 1.2 x that with 10^4.
Usage: python bench/escrow.py [--clients 64] [--seconds S] [--rounds N] [--large N]
                              [--inserts N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notalone.crypto import group, hpke, threshold
from notalone.protocol.accounts import (
    ARGON2_FLOOR,
    KEY_CHECK_BYTES,
    WRAPPED_KEY_BYTES,
    AccountKeyBundle,
)
from notalone.protocol.slots import Package, Slot, build_slot
from notalone.storage.engine import Database
from notalone.storage.models import SLOT_LIVE
from notalone.storage.slots import SlotRepository

TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
TARGET_SIZE_RATIO = 1.2
SMALL = 10_000
SHARED_FRACTION = 0.01
SHARED_OUTPUTS = 8
THRESHOLD = 2
OPERATOR_ENV = "NOTALONE_BENCH_OPERATOR_TOKEN"
PACKAGE = Package(
    contact="signal:+41 79 000 00 00",
    identifiers=(("email", "Perp@Example.org", "perp@example.org"),),
)
# Only the size of a stored hash matters here: the bench never logs in as these accounts.
FAKE_PHC = "$argon2id$v=19$m=19456,t=2,p=1$" + "A" * 22 + "$" + "B" * 43


# --------------------------------------------------------------------- raw SQLite bound


def raw_rate(path: Path, seconds: float, row_bytes: int) -> float:
    """Durable single-row commits per second: WAL, synchronous=FULL, one connection."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS rows (id BLOB PRIMARY KEY, tag BLOB, body BLOB)"
        )
        body = os.urandom(row_bytes)
        commits, start = 0, time.perf_counter()
        deadline = start + seconds
        while True:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO rows VALUES (?, ?, ?)", (os.urandom(16), os.urandom(32), body)
            )
            connection.execute("COMMIT")
            commits += 1
            now = time.perf_counter()
            if now >= deadline:
                return commits / (now - start)
    finally:
        connection.close()


# ------------------------------------------------------------------ the escrow server


def serve(database_path: Path) -> int:
    """Subprocess mode: run the escrow app on a free port; print the port, serve until
    SIGTERM. Its deployment keys are made here, fresh; the operator token comes from the
    environment (never the command line)."""
    import uvicorn  # noqa: PLC0415 - only the server subprocess needs it

    from notalone.web.app import build_services, create_app  # noqa: PLC0415
    from notalone.web.settings import EscrowSettings  # noqa: PLC0415

    federation, _shares = threshold.deal(group.random_scalar(), 2, 3)
    settings = EscrowSettings(
        database_url=f"sqlite:///{database_path}",
        server_secret=secrets.token_bytes(32),
        operator_token=os.environ[OPERATOR_ENV],
        # Registration is set-up, not the measure: the cheapest Argon2id accepted.
        hash_time_cost=1,
        hash_memory_kib=8,
        max_failures_per_address=10_000,
        deployment_id=secrets.token_bytes(16),
        match_threshold=THRESHOLD,
        federation=federation,
        key_servers=("http://127.0.0.1:9", "http://127.0.0.1:10", "http://127.0.0.1:11"),
        ticket_signing_key=Ed25519PrivateKey.generate(),
        ticket_secret=secrets.token_bytes(32),
        log_signing_key=Ed25519PrivateKey.generate(),
        vouching_key=Ed25519PrivateKey.generate(),
    )
    database = Database(settings.database_url)
    database.upgrade()
    app = create_app(settings, build_services(settings, database))
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on accepted sockets whose
    # proto says TCP, and a socket made with proto 0 (as socket.create_server makes them)
    # leaves Nagle on: every response written in two parts then waits ~40 ms for the
    # client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        database.dispose()
    return 0


class Server:
    """The escrow app in a uvicorn subprocess (its own interpreter, so its own GIL)."""

    def __init__(self, database_path: Path, operator_token: str) -> None:
        environment = dict(os.environ, **{OPERATOR_ENV: operator_token})
        self.process = subprocess.Popen(  # noqa: S603 - our own script, our interpreter
            [sys.executable, __file__, "--serve", str(database_path)],
            stdout=subprocess.PIPE,
            env=environment,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip():
            self.stop()
            raise RuntimeError("the escrow server did not start")
        self.url = f"http://127.0.0.1:{int(line)}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("the escrow server did not answer /healthz")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down cleanly), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass
class Client:
    """One survivor: account id, bearer token, the shared outputs it already used."""

    account_id: bytes
    token: str
    used_shared: set[bytes]


@dataclass
class Deployment:
    """What the clients need to build slots."""

    deployment_id: bytes
    counselors: list[tuple[str, bytes]]
    shared: list[bytes]


def _check(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"set-up failed: {response.status_code} {response.text[:200]}")
    return dict(response.json())


def set_up(url: str, operator_token: str, clients: int) -> tuple[Deployment, list[Client]]:
    """Counselors and survivors, through the API, before any timing."""
    operator = {"Authorization": f"Bearer {operator_token}"}
    with httpx.Client(base_url=url, timeout=60) as http:
        deployment_id = bytes.fromhex(_check(http.get("/v1/deployment"), 200)["deployment_id"])
        counselors = []
        for name in ("bench-a", "bench-b"):
            _private, public = hpke.generate_key_pair()
            body = {"id": name, "display_name": name, "public_key": public.hex()}
            _check(http.post("/v1/counselors", json=body, headers=operator), 201)
            counselors.append((name, public))
        org = _check(http.post("/v1/organizations", json={"name": "Bench"}, headers=operator), 201)
        invite = _check(
            http.post(
                f"/v1/organizations/{org['organization_id']}/invites",
                json={"count": 1, "max_uses": clients, "ttl_seconds": 3600},
                headers=operator,
            ),
            201,
        )["invites"][0]["code"]
        survivors = []
        for index in range(clients):
            letters = "".join(secrets.choice("abcdefgh") for _ in range(6))
            username = f"calm-{letters}-{index:04d}"
            bundle = AccountKeyBundle(
                username=username,
                params=ARGON2_FLOOR,
                salt=secrets.token_bytes(16),
                key_check=secrets.token_bytes(KEY_CHECK_BYTES),
                wrapped_by_passphrase=secrets.token_bytes(WRAPPED_KEY_BYTES),
                wrapped_by_recovery=secrets.token_bytes(WRAPPED_KEY_BYTES),
            )
            auth_key = secrets.token_hex(32)
            register = {
                "username": username,
                "invite_code": invite,
                "key_bundle": bundle.to_bytes().hex(),
                "auth_key": auth_key,
                "recovery_auth_key": secrets.token_hex(32),
            }
            _check(http.post("/v1/accounts", json=register), 201)
            login = {"username": username, "auth_key": auth_key, "kind": "bearer"}
            session = _check(http.post("/v1/login/finish", json=login), 200)
            survivors.append(Client(bytes.fromhex(session["account_id"]), session["token"], set()))
    shared = [os.urandom(64) for _ in range(SHARED_OUTPUTS)]
    return Deployment(deployment_id, counselors, shared), survivors


def entry_body(deployment: Deployment, client: Client, rng: random.Random) -> dict[str, Any]:
    """POST /v1/entries with one genuine slot; now and then a shared output."""
    y = os.urandom(64)
    if rng.random() < SHARED_FRACTION:
        fresh = [s for s in deployment.shared if s not in client.used_shared]
        if fresh:
            y = rng.choice(fresh)
            client.used_shared.add(y)
    counselor_id, public_key = rng.choice(deployment.counselors)
    slot = build_slot(
        y,
        PACKAGE,
        threshold=THRESHOLD,
        account_id=client.account_id,
        slot_id=secrets.token_bytes(16),
        deployment_id=deployment.deployment_id,
        counselor_id=counselor_id,
        counselor_public_key=public_key,
    )
    return {
        "entry_id": secrets.token_hex(16),
        "entry_copy": (b"\x01" + secrets.token_bytes(80)).hex(),
        "slots": [
            {
                "slot_id": slot.slot_id.hex(),
                "tag": slot.tag.hex(),
                "x": slot.x.hex(),
                "share": slot.share.hex(),
                "outer": slot.outer.hex(),
                "counselor_id": slot.counselor_id,
            }
        ],
    }


def http_round(
    url: str, deployment: Deployment, clients: list[Client], seconds: float, prebuilt: int
) -> tuple[float, list[float], int]:
    """One timed round: inserts per second, latencies (s) of the 201s, and failures.

    Each client builds `prebuilt` request bodies before the clock starts (slot building
    is the survivor's device's work, not the server's) and more only if it runs out."""
    barrier = threading.Barrier(len(clients) + 1)
    latencies: list[list[float]] = [[] for _ in clients]
    failures = [0] * len(clients)
    stop_at = [0.0]

    def run(index: int) -> None:
        client = clients[index]
        rng = random.Random(secrets.randbits(64))  # noqa: S311 - picks, not secrets
        bodies = [entry_body(deployment, client, rng) for _ in range(prebuilt)]
        headers = {"Authorization": f"Bearer {client.token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            http.get("/healthz")  # the connection is open before the clock starts
            barrier.wait()
            while time.perf_counter() < stop_at[0]:
                body = bodies.pop() if bodies else entry_body(deployment, client, rng)
                start = time.perf_counter()
                response = http.post("/v1/entries", json=body)
                elapsed = time.perf_counter() - start
                if response.status_code == 201:
                    latencies[index].append(elapsed)
                else:
                    failures[index] += 1

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    stop_at[0] = float("inf")
    barrier.wait()
    start = time.perf_counter()
    stop_at[0] = start + seconds
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    merged = [value for values in latencies for value in values]
    return len(merged) / wall, merged, sum(failures)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


# ---------------------------------------------------------------- size sensitivity


def prefill(database: Database, path: Path, slots: int) -> tuple[bytes, str, bytes]:
    """Bulk-insert `slots` realistic live slots (one entry per 2, one account per 10);
    returns an organization id, a counselor (id, public key) for new slots to use."""
    _private, counselor_key = hpke.generate_key_pair()
    counselor_id = "bench-counselor"
    organization = secrets.token_bytes(16)
    sample = build_slot(
        os.urandom(64),
        PACKAGE,
        threshold=THRESHOLD,
        account_id=os.urandom(16),
        slot_id=os.urandom(16),
        deployment_id=os.urandom(16),
        counselor_id=counselor_id,
        counselor_public_key=counselor_key,
    )
    bundle = os.urandom(len(_fake_bundle()))
    database.dispose()  # bulk loading on its own connection, then reopened
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-1000000")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("BEGIN")
        connection.execute(
            "INSERT INTO organizations (id, name, created_at_ms) VALUES (?, ?, ?)",
            (organization, "Bench", 1),
        )
        connection.execute(
            "INSERT INTO counselors (id, public_key, display_name, vouching_signature, "
            "created_at_ms) VALUES (?, ?, ?, ?, ?)",
            (counselor_id, counselor_key, "Bench", os.urandom(64), 1),
        )
        connection.execute("COMMIT")
        batch = 50_000
        for first in range(0, slots, batch):
            count = min(batch, slots - first)
            accounts, entries, rows = [], [], []
            account = entry = b""
            for i in range(first, first + count):
                if i % 10 == 0 or not account:
                    account = os.urandom(16)
                    accounts.append(
                        (account, f"calm-{i:012d}", organization, FAKE_PHC, FAKE_PHC, bundle, 1)
                    )
                if i % 2 == 0 or not entry:
                    entry = os.urandom(16)
                    entries.append((entry, account, os.urandom(81), 1))
                rows.append(
                    (
                        os.urandom(16),
                        entry,
                        account,
                        os.urandom(32),
                        os.urandom(32),
                        os.urandom(32),
                        os.urandom(len(sample.outer)),
                        counselor_id,
                        SLOT_LIVE,
                        1,
                    )
                )
            connection.execute("BEGIN")
            connection.executemany(
                "INSERT INTO accounts (id, username, organization_id, auth_key_hash, "
                "recovery_auth_key_hash, key_bundle, created_at_ms) VALUES (?,?,?,?,?,?,?)",
                accounts,
            )
            connection.executemany(
                "INSERT INTO entries (id, account_id, entry_copy, created_at_ms) VALUES (?,?,?,?)",
                entries,
            )
            connection.executemany(
                "INSERT INTO slots (id, entry_id, account_id, tag, position, x, share, "
                "outer_box, counselor_id, state, created_at_ms) "
                "VALUES (?,?,?,?,1,?,?,?,?,?,?)",
                rows,
            )
            connection.execute("COMMIT")
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return organization, counselor_id, counselor_key


def _fake_bundle() -> bytes:
    return AccountKeyBundle(
        username="calm-abcdef-0000",
        params=ARGON2_FLOOR,
        salt=bytes(16),
        key_check=bytes(KEY_CHECK_BYTES),
        wrapped_by_passphrase=bytes(WRAPPED_KEY_BYTES),
        wrapped_by_recovery=bytes(WRAPPED_KEY_BYTES),
    ).to_bytes()


@dataclass
class SizedStore:
    """A prefilled database and an account of its own to insert new slots with."""

    slots: int
    database: Database
    repository: SlotRepository
    account_id: bytes
    counselor_id: str
    counselor_key: bytes


def sized_store(directory: Path, slots: int) -> SizedStore:
    """A migrated SQLite file prefilled with `slots` slots, then opened as the app does."""
    path = directory / f"sized-{slots}.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    organization, counselor_id, counselor_key = prefill(database, path, slots)
    database = Database(f"sqlite:///{path}")
    account_id = secrets.token_bytes(16)
    with database.transaction() as session:
        session.connection().exec_driver_sql(
            "INSERT INTO accounts (id, username, organization_id, auth_key_hash, "
            "recovery_auth_key_hash, key_bundle, created_at_ms) VALUES (?,?,?,?,?,?,?)",
            (account_id, "calm-bench-0000", organization, FAKE_PHC, FAKE_PHC, _fake_bundle(), 1),
        )
    repository = SlotRepository(database)
    return SizedStore(slots, database, repository, account_id, counselor_id, counselor_key)


def timed_insert(store: SizedStore) -> float:
    """Seconds for one insert_and_match of a fresh slot (its entry made untimed)."""
    entry_id = secrets.token_bytes(16)
    now_ms = time.time_ns() // 1_000_000
    store.repository.create_entry(entry_id, store.account_id, os.urandom(81), now_ms)
    slot: Slot = build_slot(
        os.urandom(64),
        PACKAGE,
        threshold=THRESHOLD,
        account_id=store.account_id,
        slot_id=secrets.token_bytes(16),
        deployment_id=bytes(16),
        counselor_id=store.counselor_id,
        counselor_public_key=store.counselor_key,
    )
    start = time.perf_counter()
    store.repository.insert_and_match(slot, entry_id, THRESHOLD, now_ms)
    return time.perf_counter() - start


# ------------------------------------------------------------------------- the run


def measure(
    clients: int, seconds: float, rounds: int, large: int, inserts: int, directory: Path
) -> dict[str, object]:
    """Interleaved rounds of the raw bound and HTTP; then the size sensitivity."""
    load_before = list(os.getloadavg())
    raw_path = directory / "raw.db"
    row_bytes = 16 + 32 * 3 + 225 + 16  # ids, tag, x, share, a slot's outer box, entry id
    operator_token = secrets.token_urlsafe(32)
    server = Server(directory / "escrow.db", operator_token)
    raw_rates: list[float] = []
    http_rates: list[float] = []
    p50s: list[float] = []
    p99s: list[float] = []
    all_latencies: list[float] = []
    failures = 0
    try:
        deployment, survivors = set_up(server.url, operator_token, clients)
        for round_ in range(rounds):
            raw_rates.append(raw_rate(raw_path, seconds, row_bytes))
            # Twice what each client sent last round (500/s overall to begin with).
            expected = http_rates[-1] if http_rates else 500.0
            prebuilt = min(2000, int(2 * expected * seconds / clients) + 5)
            rate, latencies, failed = http_round(
                server.url, deployment, survivors, seconds, prebuilt
            )
            if not latencies:
                raise RuntimeError("no insert through HTTP succeeded")
            http_rates.append(rate)
            p50s.append(percentile(latencies, 0.50) * 1000)
            p99s.append(percentile(latencies, 0.99) * 1000)
            all_latencies += latencies
            failures += failed
            print(
                f"  round {round_ + 1}/{rounds}: raw {raw_rates[-1]:.0f}/s, http {rate:.0f}/s, "
                f"p50 {p50s[-1]:.1f} ms, p99 {p99s[-1]:.1f} ms",
                file=sys.stderr,
                flush=True,
            )
    finally:
        server.stop()

    print(f"  prefilling {SMALL} and {large} slots", file=sys.stderr, flush=True)
    started = time.perf_counter()
    small_store = sized_store(directory, SMALL)
    large_store = sized_store(directory, large)
    prefill_s = time.perf_counter() - started
    samples: dict[int, list[float]] = {SMALL: [], large: []}
    try:
        block = max(1, min(25, inserts // 4))
        for store in (small_store, large_store):
            for _ in range(3):  # warm-up: connections open, statements compiled
                timed_insert(store)
        while len(samples[large]) < inserts:
            for store in (small_store, large_store):
                samples[store.slots] += [timed_insert(store) for _ in range(block)]
    finally:
        small_store.database.dispose()
        large_store.database.dispose()
    small_ms = statistics.median(samples[SMALL]) * 1000
    large_ms = statistics.median(samples[large]) * 1000

    raw = statistics.median(raw_rates)
    http = statistics.median(http_rates)
    ratios = {
        "http / raw": http / raw,
        "p99 ms": statistics.median(p99s),
        f"insert {large} / {SMALL} slots": large_ms / small_ms,
    }
    targets = {
        "http / raw": (">=", TARGET_RATIO),
        "p99 ms": ("<=", TARGET_P99_MS),
        f"insert {large} / {SMALL} slots": ("<=", TARGET_SIZE_RATIO),
    }
    return {
        "clients": clients,
        "rounds": rounds,
        "seconds_per_sample": seconds,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "raw_commits_per_second": raw,
        "raw_commits_per_second_rounds": raw_rates,
        "http_inserts_per_second": http,
        "http_inserts_per_second_rounds": http_rates,
        "http_p50_ms": statistics.median(p50s),
        "http_p99_ms": statistics.median(p99s),
        "http_p50_ms_rounds": p50s,
        "http_p99_ms_rounds": p99s,
        "http_p99_ms_pooled": percentile(all_latencies, 0.99) * 1000,
        "http_inserts_total": len(all_latencies),
        "http_failures": failures,
        "small_slots": SMALL,
        "large_slots": large,
        "prefill_seconds": prefill_s,
        "inserts_per_size": len(samples[large]),
        "insert_ms_small": small_ms,
        "insert_ms_large": large_ms,
        "ratios": ratios,
        "targets": {name: list(goal) for name, goal in targets.items()},
    }


def report(result: dict[str, Any]) -> str:
    """A plain-text table of the result."""
    clients, large = result["clients"], result["large_slots"]
    lines = [
        f"Escrow slot inserts, SQLite WAL + synchronous=FULL, {clients} clients, "
        f"{result['rounds']} rounds of {result['seconds_per_sample']} s, "
        f"{result['cpus']} CPUs",
        "load average before the run: "
        + " ".join(f"{value:.2f}" for value in result["load_average_before"]),
        "",
        f"  {'raw SQLite single-row commits':<38} {result['raw_commits_per_second']:>10.0f} /s",
        f"  {'POST /v1/entries (1 slot), HTTP':<38} {result['http_inserts_per_second']:>10.0f} /s",
        f"  {'  latency p50':<38} {result['http_p50_ms']:>10.1f} ms",
        f"  {'  latency p99 (median of rounds)':<38} {result['http_p99_ms']:>10.1f} ms",
        f"  {'  latency p99 (all rounds pooled)':<38} {result['http_p99_ms_pooled']:>10.1f} ms",
        f"  {'  inserts / failures':<38} "
        f"{result['http_inserts_total']:>10d} / {result['http_failures']}",
        f"  {f'insert_and_match, {SMALL} slots':<38} {result['insert_ms_small']:>10.2f} ms",
        f"  {f'insert_and_match, {large} slots':<38} {result['insert_ms_large']:>10.2f} ms",
        f"  {'  (prefill of both, seconds)':<38} {result['prefill_seconds']:>10.1f} s",
        "",
        "  per round (noise): raw "
        + ", ".join(f"{v:.0f}" for v in result["raw_commits_per_second_rounds"])
        + " /s; http "
        + ", ".join(f"{v:.0f}" for v in result["http_inserts_per_second_rounds"])
        + " /s; p99 "
        + ", ".join(f"{v:.1f}" for v in result["http_p99_ms_rounds"])
        + " ms",
        "",
    ]
    for name, value in result["ratios"].items():
        op, target = result["targets"][name]
        met = value >= target if op == ">=" else value <= target
        lines.append(
            f"  {name:<38} {value:8.3f} (target {op} {target})  {'met' if met else 'MISSED'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (and JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per sample")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--large", type=int, default=1_000_000, help="slots in the large store")
    parser.add_argument("--inserts", type=int, default=400, help="timed inserts per store size")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)
    with tempfile.TemporaryDirectory(prefix="notalone-bench-") as directory:
        print(f"  working in {directory}", file=sys.stderr, flush=True)
        result = measure(
            args.clients, args.seconds, args.rounds, args.large, args.inserts, Path(directory)
        )
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
