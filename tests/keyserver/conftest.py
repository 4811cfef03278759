"""Fixtures for the key server: a 2-of-3 federation under a known key, tickets, apps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from notalone.crypto import group, threshold
from notalone.crypto.threshold import Federation, KeyShare
from notalone.keyserver import Deployment, KeyServerKey, KeyServerSettings, create_app
from notalone.protocol import tickets
from notalone.storage.quota import InMemoryQuotaStore, QuotaStore

DEPLOYMENT_ID = bytes.fromhex("0123456789abcdef0123456789abcdef")
TICKET_SECRET = bytes(range(100, 132))
DAY = tickets.DEFAULT_PERIOD_MS
START_MS = 20_000 * DAY + 9 * 3_600_000  # 09:00 on day 20,000


@dataclass
class Clock:
    """A settable clock in ms, shared by the tests and the apps under test."""

    now_ms: int = START_MS

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Federated:
    """A dealt federation with the escrow's ticket issuer, as a deployment would hold it."""

    secret_key: bytes
    federation: Federation
    shares: list[KeyShare]
    issuer: tickets.TicketIssuer
    deployment: Deployment
    clock: Clock = field(default_factory=Clock)

    def key(self, index: int) -> KeyServerKey:
        return KeyServerKey(
            share=self.shares[index - 1], federation=self.federation, deployment=self.deployment
        )

    def ticket(self, account: bytes = b"A" * 16, quota: int = 64, at_ms: int | None = None) -> str:
        now = self.clock.now_ms if at_ms is None else at_ms
        return self.issuer.issue(account, now, quota).to_bytes().hex()


@pytest.fixture
def federated() -> Federated:
    secret_key = group.random_scalar()
    federation, shares = threshold.deal(secret_key, 2, 3)
    issuer = tickets.TicketIssuer(Ed25519PrivateKey.generate(), TICKET_SECRET, DEPLOYMENT_ID)
    deployment = Deployment(DEPLOYMENT_ID, issuer.public_key)
    return Federated(secret_key, federation, shares, issuer, deployment)


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(federated: Federated) -> Iterator[MakeClient]:
    """make_client(index, store=None, **TestClient options) → a client of key server i."""
    clients: list[TestClient] = []

    def make(index: int, store: QuotaStore | None = None, **options: object) -> TestClient:
        settings = KeyServerSettings(key=federated.key(index), clock_ms=federated.clock)
        app = create_app(settings, store if store is not None else InMemoryQuotaStore())
        client = TestClient(app, **options)  # type: ignore[arg-type]
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
