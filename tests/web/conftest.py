"""Fixtures for the escrow web app: a TestClient on a migrated SQLite file (or, for the
tests that ask for it, a PostgreSQL database), cheap Argon2id, a settable clock, and a
deployment's keys (made once per test session: a 2-of-3 federation, the ticket, log and
vouching keys)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from notalone.crypto import group, hpke, threshold
from notalone.protocol import slots as slot_recipes
from notalone.protocol.slots import Package, Slot
from notalone.storage.engine import Database
from notalone.web.app import Services, build_services, create_app
from notalone.web.settings import EscrowSettings
from tests.services.conftest import SERVER_SECRET, Clock, make_bundle

# The session-scoped PostgreSQL fixtures of the storage tests, reused here.
from tests.storage.conftest import (  # noqa: F401 - imported to register them as fixtures.
    PostgresServer,
    pg_server,
    pg_template,
    pg_url,
)

OPERATOR_TOKEN = "operator-" + "t" * 40
MAX_FAILURES_PER_USERNAME = 3
DEPLOYMENT_ID = bytes(range(100, 116))
FEDERATION, SHARES = threshold.deal(group.random_scalar(), 2, 3)
KEY_SERVERS = ("http://127.0.0.1:9101", "http://127.0.0.1:9102", "http://127.0.0.1:9103")
TICKET_KEY = Ed25519PrivateKey.generate()
TICKET_SECRET = bytes(range(32, 64))
LOG_KEY = Ed25519PrivateKey.generate()
VOUCHING_KEY = Ed25519PrivateKey.generate()
TICKET_QUOTA = 40


@dataclass
class Counselor:
    """A registered counselor: their X25519 key pair and inbox token."""

    id: str
    private_key: bytes
    public_key: bytes
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Survivor:
    """A registered, logged-in survivor."""

    username: str
    account_id: bytes
    headers: dict[str, str]


@dataclass
class Env:
    """One running app and what the tests need to drive it."""

    client: TestClient
    app: FastAPI
    settings: EscrowSettings
    services: Services
    clock: Clock
    database: Database

    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

    def invite(self, *, max_uses: int = 1, ttl_seconds: int | None = 3600) -> str:
        name = f"Org {secrets.token_hex(4)}"
        made = self.client.post("/v1/organizations", json={"name": name}, headers=self.operator())
        assert made.status_code == 201, made.text
        organization = made.json()["organization_id"]
        invites = self.client.post(
            f"/v1/organizations/{organization}/invites",
            json={"count": 1, "max_uses": max_uses, "ttl_seconds": ttl_seconds},
            headers=self.operator(),
        )
        assert invites.status_code == 201, invites.text
        return str(invites.json()["invites"][0]["code"])

    def register_body(self, username: str, code: str) -> dict[str, str]:
        return {
            "username": username,
            "invite_code": code,
            "key_bundle": make_bundle(username).to_bytes().hex(),
            "auth_key": secrets.token_hex(32),
            "recovery_auth_key": secrets.token_hex(32),
        }

    def register(self, username: str, code: str | None = None) -> dict[str, str]:
        body = self.register_body(username, code or self.invite())
        response = self.client.post("/v1/accounts", json=body)
        assert response.status_code == 201, response.text
        return body

    def login(self, username: str, auth_key: str, kind: str = "bearer") -> httpx.Response:
        return self.client.post(
            "/v1/login/finish", json={"username": username, "auth_key": auth_key, "kind": kind}
        )

    def bearer(self, username: str, auth_key: str) -> dict[str, str]:
        response = self.login(username, auth_key)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    # -- the escrow --------------------------------------------------------------------

    def counselor(self, counselor_id: str, notify_email: str | None = None) -> Counselor:
        """Register a counselor through the operator route (with a notify_email if given)."""
        private_key, public_key = hpke.generate_key_pair()
        body = {
            "id": counselor_id,
            "display_name": f"Counselor {counselor_id}",
            "public_key": public_key.hex(),
        }
        if notify_email is not None:
            body["notify_email"] = notify_email
        response = self.client.post("/v1/counselors", json=body, headers=self.operator())
        assert response.status_code == 201, response.text
        return Counselor(counselor_id, private_key, public_key, response.json()["token"])

    def survivor(self, code: str | None = None) -> Survivor:
        """Register and log in a survivor (bearer session)."""
        letters = "".join(secrets.choice("abcdefgh") for _ in range(6))
        username = f"calm-{letters}-{secrets.randbelow(10**4):04d}"
        body = self.register(username, code)
        response = self.login(username, body["auth_key"])
        assert response.status_code == 200, response.text
        payload = response.json()
        return Survivor(
            username,
            bytes.fromhex(payload["account_id"]),
            {"Authorization": f"Bearer {payload['token']}"},
        )

    def slot(
        self, y: bytes, account_id: bytes, counselor: Counselor, contact: str = "signal:me"
    ) -> Slot:
        """A genuine slot for OPRF output `y`, sealed to the counselor's key."""
        return slot_recipes.build_slot(
            y,
            Package(
                contact=contact,
                identifiers=(("email", "Perp@Example.org", "perp@example.org"),),
            ),
            threshold=self.settings.match_threshold,
            account_id=account_id,
            slot_id=secrets.token_bytes(16),
            deployment_id=DEPLOYMENT_ID,
            counselor_id=counselor.id,
            counselor_public_key=counselor.public_key,
        )

    def post_entry(
        self,
        survivor: Survivor,
        slots: list[Slot],
        *,
        entry_id: bytes | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """POST /v1/entries with these slots and a random entry copy."""
        headers = dict(survivor.headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return self.client.post(
            "/v1/entries",
            json=entry_body(slots, entry_id=entry_id),
            headers=headers,
        )


def entry_body(slots: list[Slot], *, entry_id: bytes | None = None) -> dict[str, object]:
    """The JSON of POST /v1/entries."""
    return {
        "entry_id": (entry_id or secrets.token_bytes(16)).hex(),
        "entry_copy": (b"\x01" + secrets.token_bytes(80)).hex(),
        "slots": [
            {
                "slot_id": s.slot_id.hex(),
                "tag": s.tag.hex(),
                "x": s.x.hex(),
                "share": s.share.hex(),
                "outer": s.outer.hex(),
                "counselor_id": s.counselor_id,
            }
            for s in slots
        ],
    }


def make_settings(database_url: str, clock: Clock, **overrides: object) -> EscrowSettings:
    options: dict[str, object] = {
        "database_url": database_url,
        "server_secret": SERVER_SECRET,
        "operator_token": OPERATOR_TOKEN,
        "hash_time_cost": 1,
        "hash_memory_kib": 8,
        "max_failures_per_username": MAX_FAILURES_PER_USERNAME,
        "max_failures_per_address": 50,
        "failure_window_s": 60,
        "max_body_bytes": 16 * 1024,
        "clock_ms": clock,
        "deployment_id": DEPLOYMENT_ID,
        "federation": FEDERATION,
        "key_servers": KEY_SERVERS,
        "ticket_signing_key": TICKET_KEY,
        "ticket_secret": TICKET_SECRET,
        "ticket_quota": TICKET_QUOTA,
        "log_signing_key": LOG_KEY,
        "vouching_key": VOUCHING_KEY,
    }
    options.update(overrides)
    return EscrowSettings(**options)  # type: ignore[arg-type]


@pytest.fixture
def web_backend(request: pytest.FixtureRequest) -> str:
    """sqlite unless a test parametrizes it (indirectly) with postgresql."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(web_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if web_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'escrow.db'}"
        with Database(url) as database:
            database.upgrade()
        yield url
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = server.create(request.getfixturevalue("pg_template"))
    yield pg_url(name)
    server.drop(name)


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    clock = Clock()
    with running_env(make_settings(database_url, clock), clock) as made:
        yield made


@contextmanager
def running_env(settings: EscrowSettings, clock: Clock) -> Iterator[Env]:
    """The app with every service `settings` enable, served to an open test client (its
    lifespan running); the database is disposed of afterwards."""
    database = Database(settings.database_url)
    services = build_services(settings, database)
    app = create_app(settings, services)
    try:
        # https: the session cookie is Secure, so the client sends it back over TLS only.
        with TestClient(app, base_url="https://testserver") as client:
            yield Env(client, app, settings, services, clock, database)
    finally:
        database.dispose()
