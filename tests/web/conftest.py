"""Fixtures for the escrow web app: a TestClient on a migrated SQLite file (or, for the
tests that ask for it, a PostgreSQL database), cheap Argon2id, and a settable clock."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

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
    settings = make_settings(database_url, clock)
    database = Database(settings.database_url)
    services = build_services(settings, database)
    app = create_app(settings, services)
    # https: the session cookie is Secure, so the client sends it back over TLS only.
    with TestClient(app, base_url="https://testserver") as client:
        yield Env(client, app, settings, services, clock, database)
    database.dispose()
