"""Two escrow processes on one PostgreSQL: 50 concurrent inserts of one tag, one match.

The keys come from `notalone deal-keys`; two `notalone escrow --config FILE --port 0`
processes share one config and one PostgreSQL database (created for the test from the
migrated template, dropped after). Fifty accounts, registered through the API, each
post an entry with one slot of the same tag, all at once, half to each process. The
escrow must serialize matching per tag across processes: exactly one match holding all
fifty slots, and no insert lost.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from notalone.client import counselor
from notalone.client.escrow import EscrowClient
from notalone.protocol import slots as slot_recipes
from notalone.protocol.slots import Package
from notalone.storage.engine import Database
from notalone.storage.models import Entry, Match, MatchMember, SlotRow
from tests.services.conftest import make_bundle
from tests.storage.conftest import (  # noqa: F401 - imported to register them as fixtures.
    PostgresServer,
    pg_server,
    pg_template,
    pg_url,
)

ACCOUNTS = 50
OPERATOR_TOKEN = secrets.token_hex(32)
NOTALONE = Path(sys.executable).with_name("notalone")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
LISTENING = re.compile(r"escrow listening on (http://127\.0\.0\.1:\d+)")
COUNSELORS = ("c-anna", "c-bo")


@dataclass
class EscrowProcess:
    """One `notalone escrow` OS process and the URL it announced."""

    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                break
            if self.process.poll() is not None:
                pytest.fail(f"the escrow exited ({self.process.returncode}): {self._tail()}")
            time.sleep(0.05)
        else:
            pytest.fail(f"the escrow did not start: {self._tail()}")
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"the escrow is not healthy: {self._tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


@dataclass
class Deployment:
    database_url: str
    escrows: tuple[EscrowProcess, EscrowProcess]


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = server.create(request.getfixturevalue("pg_template"))
    try:
        yield from _run_escrows(pg_url(name), tmp_path)
    finally:
        server.drop(name)


def deal_keys(out: Path) -> None:
    """`notalone deal-keys --out OUT`, as an operator runs it."""
    dealt = subprocess.run(  # noqa: S603 - our own command and arguments.
        [str(NOTALONE), "deal-keys", "--out", str(out)],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert dealt.returncode == 0, dealt.stderr.decode(errors="replace")


def _run_escrows(database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    """Deal the keys, write the config, start both escrows; stop them at the end."""
    deal_keys(tmp_path / "keys")
    config = {
        "database_url": database_url,
        "server_secret": secrets.token_hex(32),
        "operator_token": OPERATOR_TOKEN,
        "federation_file": "keys/federation.json",
        "ticket_key_file": "keys/escrow-ticket-key.json",
        # Never reached here: the slots are built from a shared OPRF output directly.
        "key_servers": [f"http://127.0.0.1:{port}" for port in (1, 2, 3)],
        "log_signing_key": secrets.token_hex(32),
        "vouching_key": secrets.token_hex(32),
        "match_threshold": 2,
        # Cheap server-side Argon2id: fifty registrations and logins stay fast.
        "hash_time_cost": 1,
        "hash_memory_kib": 8,
    }
    config_path = tmp_path / "escrow.json"
    config_path.write_text(json.dumps(config))
    escrows = []
    for number in (1, 2):
        log = tmp_path / f"escrow-{number}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own command and arguments.
                [str(NOTALONE), "escrow", "--config", str(config_path), "--port", "0"],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        escrows.append(EscrowProcess(process, log))
    try:
        for escrow in escrows:
            escrow.wait_listening()
        yield Deployment(database_url, (escrows[0], escrows[1]))
    finally:
        for escrow in escrows:
            escrow.stop()
        for escrow in escrows:
            assert escrow.process.returncode is not None


@dataclass
class Account:
    account_id: bytes
    headers: dict[str, str]
    url: str


def _register(http: httpx.Client, url: str, code: str, number: int) -> Account:
    username = f"calm-otter-{number:04d}"
    auth_key = secrets.token_hex(32)
    registered = http.post(
        f"{url}/v1/accounts",
        json={
            "username": username,
            "invite_code": code,
            "key_bundle": make_bundle(username).to_bytes().hex(),
            "auth_key": auth_key,
            "recovery_auth_key": secrets.token_hex(32),
        },
        headers={"Idempotency-Key": secrets.token_hex(16)},
    )
    assert registered.status_code == 201, registered.text
    login = http.post(
        f"{url}/v1/login/finish",
        json={"username": username, "auth_key": auth_key, "kind": "bearer"},
    )
    assert login.status_code == 200, login.text
    payload = login.json()
    return Account(
        bytes.fromhex(payload["account_id"]),
        {"Authorization": f"Bearer {payload['token']}"},
        url,
    )


def test_fifty_concurrent_inserts_across_two_processes_make_one_match(
    deployment: Deployment,
) -> None:
    urls = [e.url for e in deployment.escrows]
    assert urls[0] != urls[1]
    with httpx.Client(timeout=60) as http:
        operator = EscrowClient(urls[0], http, OPERATOR_TOKEN)
        organization = operator.create_organization("Org of fifty")
        codes = [
            i.code for i in operator.create_invites(organization, count=ACCOUNTS, ttl_seconds=3600)
        ]
        keys = {c: counselor.keygen() for c in COUNSELORS}
        tokens = {c: operator.register_counselor(c, c, keys[c].public_key) for c in COUNSELORS}
        deployment_id = operator.deployment().deployment_id

        with ThreadPoolExecutor(max_workers=8) as pool:
            accounts = list(
                pool.map(
                    lambda n: _register(http, urls[n % 2], codes[n], n),
                    range(ACCOUNTS),
                )
            )

        y = secrets.token_bytes(64)
        bodies = []
        for n, account in enumerate(accounts):
            counselor_id = COUNSELORS[n % 2]
            slot = slot_recipes.build_slot(
                y,
                Package(contact=f"signal:survivor-{n}", identifiers=(("email", "p", "p"),)),
                threshold=2,
                account_id=account.account_id,
                slot_id=secrets.token_bytes(16),
                deployment_id=deployment_id,
                counselor_id=counselor_id,
                counselor_public_key=keys[counselor_id].public_key,
            )
            bodies.append(
                {
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
            )

        # Every insert waits at the barrier, then all fifty go at once, half to each.
        barrier = threading.Barrier(ACCOUNTS)

        def post(n: int) -> int:
            account = accounts[n]
            with httpx.Client(timeout=60) as own:
                barrier.wait(timeout=30)
                response = own.post(
                    f"{account.url}/v1/entries",
                    json=bodies[n],
                    headers={**account.headers, "Idempotency-Key": secrets.token_hex(16)},
                )
            return response.status_code

        with ThreadPoolExecutor(max_workers=ACCOUNTS) as pool:
            statuses = list(pool.map(post, range(ACCOUNTS)))
        assert statuses == [201] * ACCOUNTS

        # No lost insert: each account lists its one entry, through either process.
        listed = 0
        for n, account in enumerate(accounts):
            entries = http.get(f"{urls[(n + 1) % 2]}/v1/entries", headers=account.headers)
            assert entries.status_code == 200, entries.text
            (entry,) = entries.json()["entries"]
            assert entry["entry_id"] == bodies[n]["entry_id"]
            listed += 1
        assert listed == ACCOUNTS

        # One match holding all fifty slots, seen through the counselors' inboxes.
        items = [
            item
            for c in COUNSELORS
            for item in counselor.inbox(EscrowClient(urls[1], http, tokens[c]))
        ]
        assert len(items) == ACCOUNTS
        assert len({item.match_id for item in items}) == 1
        assert len({item.slot_id for item in items}) == ACCOUNTS

    with Database(deployment.database_url) as database, database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == ACCOUNTS
        assert session.scalar(select(func.count()).select_from(SlotRow)) == ACCOUNTS
        assert session.scalar(select(func.count()).select_from(Match)) == 1
        assert session.scalar(select(func.count()).select_from(MatchMember)) == ACCOUNTS
