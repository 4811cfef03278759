"""Fixtures for the client: a real 2-of-3 federation of key-server apps, reached over httpx.

The apps are the real `notalone.keyserver` apps. Starlette's test client speaks httpx2,
while the SDK speaks httpx, so `AppTransport` carries each httpx request to an app
through a test client and the answer back; it also records every request (so a test can
assert that none was made) and can play a server that is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from notalone.client.keyservers import FederationClient, KeyServerClient, ServerEvent
from notalone.crypto import group, threshold
from notalone.crypto.threshold import Federation, KeyShare
from notalone.keyserver import Deployment, KeyServerKey, KeyServerSettings, create_app
from notalone.protocol import tickets
from notalone.storage.quota import InMemoryQuotaStore

DEPLOYMENT_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
TICKET_SECRET = bytes(range(32))
START_MS = 20_000 * tickets.DEFAULT_PERIOD_MS + 9 * 3_600_000  # 09:00 on day 20,000
# Headers that describe the test client's transfer, not the answer handed on.
_HOP_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "connection"}


@dataclass
class Clock:
    """A settable clock in ms, shared by the tests and the apps under test."""

    now_ms: int = START_MS

    def __call__(self) -> int:
        return self.now_ms


class AppTransport(httpx.BaseTransport):
    """Carries httpx requests to one ASGI app; records them; can play a server that is down."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.requests: list[tuple[str, str]] = []
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        answer = self.client.request(
            request.method,
            request.url.path,
            content=request.read(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        )
        headers = [(k, v) for k, v in answer.headers.multi_items() if k not in _HOP_HEADERS]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)

    def evaluations(self) -> int:
        return sum(
            1 for method, path in self.requests if (method, path) == ("POST", "/v1/evaluate")
        )


@dataclass
class Deployed:
    """A dealt 2-of-3 federation, the escrow's ticket issuer and the running apps."""

    secret_key: bytes
    federation: Federation
    shares: list[KeyShare]
    issuer: tickets.TicketIssuer
    deployment: Deployment
    clock: Clock = field(default_factory=Clock)
    transports: dict[str, AppTransport] = field(default_factory=dict)
    _closers: list[httpx.Client | TestClient] = field(default_factory=list)

    def key(self, index: int, share: KeyShare | None = None) -> KeyServerKey:
        return KeyServerKey(
            share=share or self.shares[index - 1],
            federation=self.federation,
            deployment=self.deployment,
        )

    def server(self, index: int, key: KeyServerKey | None = None) -> KeyServerClient:
        """A client of a fresh app for key server `index` (or for `key`), at http://ks<i>."""
        settings = KeyServerSettings(key=key or self.key(index), clock_ms=self.clock)
        test_client = TestClient(create_app(settings, InMemoryQuotaStore()))
        test_client.__enter__()
        url = f"http://ks{index}.test"
        transport = AppTransport(test_client)
        self.transports[url] = transport
        http = httpx.Client(transport=transport)
        self._closers += [http, test_client]
        return KeyServerClient(url, http)

    def rogue(self, index: int) -> KeyServerClient:
        """Server `index` with a wrong secret behind its genuine public key."""
        genuine = self.shares[index - 1]
        wrong = KeyShare(index, group.random_scalar(), genuine.public_key)
        return self.server(index, self.key(index, wrong))

    def federation_client(
        self, servers: list[KeyServerClient], events: list[ServerEvent] | None = None
    ) -> FederationClient:
        return FederationClient(
            self.federation,
            servers,
            deployment_id=DEPLOYMENT_ID,
            progress=None if events is None else events.append,
        )

    def ticket(
        self, account: bytes = b"A" * 16, quota: int = 64, at_ms: int | None = None
    ) -> bytes:
        now = self.clock.now_ms if at_ms is None else at_ms
        return self.issuer.issue(account, now, quota).to_bytes()

    def evaluations(self) -> int:
        return sum(t.evaluations() for t in self.transports.values())

    def close(self) -> None:
        for closer in self._closers:
            if isinstance(closer, TestClient):
                closer.__exit__(None, None, None)
            else:
                closer.close()


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    secret_key = group.random_scalar()
    federation, shares = threshold.deal(secret_key, 2, 3)
    issuer = tickets.TicketIssuer(Ed25519PrivateKey.generate(), TICKET_SECRET, DEPLOYMENT_ID)
    deployment = Deployment(DEPLOYMENT_ID, issuer.public_key)
    result = Deployed(secret_key, federation, shares, issuer, deployment)
    yield result
    result.close()
