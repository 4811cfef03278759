"""Key-server failures, end to end, on SQLite and PostgreSQL.

The real survivor client drives the real escrow app (on a migrated SQLite file or a
fresh PostgreSQL database) and three real key-server apps, all in process and reached
over httpx as in tests/client/test_survivor.py. The key servers fail in the ways the
protocol must survive or report: one down, two down, one holding a wrong share, quotas
used up, expired and replayed tickets.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from notalone.client import counselor, survivor
from notalone.client.escrow import EscrowClient
from notalone.client.keyservers import MODE, FederationClient, KeyServerClient, ServerEvent
from notalone.crypto import oprf
from notalone.errors import LimitError, ThresholdError, TicketError, UnavailableError
from notalone.protocol.accounts import ARGON2_FLOOR
from notalone.protocol.tickets import DEFAULT_LIFETIME_MS, DEFAULT_SKEW_MS
from notalone.storage.engine import Database
from notalone.storage.models import Entry, SlotRow
from notalone.web.app import build_services, create_app
from notalone.web.settings import EscrowSettings
from tests.client.conftest import (
    DEPLOYMENT_ID,
    AppTransport,
    Deployed,
    deployed,  # noqa: F401 - imported to register the fixture.
)
from tests.client.test_survivor import EscrowTransport
from tests.storage.conftest import (  # noqa: F401 - imported to register them as fixtures.
    PostgresServer,
    pg_server,
    pg_template,
    pg_url,
)

OPERATOR_TOKEN = "operator-" + "f" * 40
ESCROW = "http://escrow.test"
PASSPHRASE = "correct horse battery staple"
#: Blinded elements one ticket may have evaluated per key server (small, to run out).
TICKET_QUOTA = 4
PERP = "perp-canary-7f3a@example.org"
KS = ("http://ks1.test", "http://ks2.test", "http://ks3.test")


class Router(httpx.BaseTransport):
    """Routes each request to the app now serving its host (a rogue can be swapped in)."""

    def __init__(self, routes: dict[str, AppTransport]) -> None:
        self.routes = routes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.routes[f"{request.url.scheme}://{request.url.host}"].handle_request(request)


@dataclass
class World:
    escrow: EscrowClient
    deployed: Deployed
    database: Database

    def survivor(self) -> survivor.SurvivorSession:
        operator = self.escrow.with_token(OPERATOR_TOKEN)
        organization = operator.create_organization(f"Org {secrets.token_hex(4)}")
        code = operator.create_invites(organization)[0].code
        registration = survivor.register(self.escrow, code, PASSPHRASE, ARGON2_FLOOR)
        return survivor.login(self.escrow, registration.username, PASSPHRASE)

    def down(self, *indices: int) -> None:
        for index in indices:
            self.deployed.transports[KS[index - 1]].down = True

    def rows(self) -> tuple[int, int]:
        """How many entries and slots the escrow's database holds."""
        with self.database.transaction() as session:
            entries = session.scalar(select(func.count()).select_from(Entry))
            slots = session.scalar(select(func.count()).select_from(SlotRow))
        return int(entries or 0), int(slots or 0)

    def federation(self, events: list[ServerEvent] | None = None) -> FederationClient:
        return FederationClient(
            self.deployed.federation,
            [KeyServerClient(url, self.escrow.http) for url in KS],
            deployment_id=DEPLOYMENT_ID,
            progress=None if events is None else events.append,
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'escrow.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = server.create(request.getfixturevalue("pg_template"))
    yield pg_url(name)
    server.drop(name)


@pytest.fixture
def world(request: pytest.FixtureRequest, database_url: str) -> Iterator[World]:
    dealt: Deployed = request.getfixturevalue("deployed")
    for index in (1, 2, 3):
        dealt.server(index)  # registers its transport at http://ks<index>.test
    settings = EscrowSettings(
        database_url=database_url,
        server_secret=secrets.token_bytes(32),
        operator_token=OPERATOR_TOKEN,
        hash_time_cost=1,
        hash_memory_kib=8,
        deployment_id=DEPLOYMENT_ID,
        match_threshold=2,
        federation=dealt.federation,
        key_servers=KS,
        ticket_signing_key=dealt.issuer.signing_key,
        ticket_secret=dealt.issuer.ticket_secret,
        ticket_quota=TICKET_QUOTA,
        log_signing_key=Ed25519PrivateKey.generate(),
        vouching_key=Ed25519PrivateKey.generate(),
        clock_ms=dealt.clock,
    )
    database = Database(settings.database_url)
    database.upgrade()
    app = create_app(settings, build_services(settings, database))
    with TestClient(app) as test_client:
        # The router reads dealt.transports live: a rogue server replaces its entry.
        dealt.transports[ESCROW] = EscrowTransport(test_client)
        with httpx.Client(transport=Router(dealt.transports)) as http:
            escrow = EscrowClient(ESCROW, http)
            escrow.with_token(OPERATOR_TOKEN).register_counselor(
                "c-anna", "Anna", counselor.keygen().public_key
            )
            yield World(escrow, dealt, database)
    database.dispose()


def _evaluation(ticket: bytes) -> dict[str, object]:
    """The body of one raw POST /v1/evaluate: the ticket and one genuine blinded element."""
    _, blinded = oprf.blind(secrets.token_bytes(16), MODE)
    return {"ticket": ticket.hex(), "blinded_elements": [blinded.hex()]}


def _add(session: survivor.SurvivorSession, events: list[ServerEvent] | None = None) -> bytes:
    return survivor.add_entry(
        session,
        [("email", PERP, None)],
        counselor_id="c-anna",
        contact="signal:canary-contact",
        progress=None if events is None else events.append,
    )


def test_one_key_server_down_the_entry_is_still_sealed(world: World) -> None:
    session = world.survivor()
    world.down(2)
    events: list[ServerEvent] = []
    entry_id = _add(session, events)
    (listed,) = survivor.list_entries(session)
    assert (listed.entry_id, listed.state) == (entry_id, "sealed")
    assert any(e.url == KS[1] and e.outcome == "unreachable" for e in events)
    assert world.rows()[0] == 1


def test_two_key_servers_down_is_a_clear_error_and_nothing_is_written(world: World) -> None:
    session = world.survivor()
    world.down(1, 3)
    with pytest.raises((ThresholdError, UnavailableError)) as caught:
        _add(session)
    message = str(caught.value)
    assert "1 of the 2 key servers needed" in message
    assert KS[0] in message
    assert KS[2] in message
    assert "perp" not in message.lower()
    assert "canary" not in message
    assert survivor.list_entries(session) == []
    assert session.escrow.entries() == []
    assert world.rows() == (0, 0)


def test_a_rogue_key_server_is_named_and_the_other_two_suffice(world: World) -> None:
    world.deployed.rogue(2)  # replaces ks2 with a wrong share behind its genuine key
    session = world.survivor()
    events: list[ServerEvent] = []
    entry_id = _add(session, events)
    (invalid,) = [e for e in events if e.outcome == "invalid"]
    assert invalid.url == KS[1]
    assert KS[1] in invalid.reason
    assert "does not verify" in invalid.reason
    assert [e.url for e in events if e.outcome == "answered"] == [KS[0], KS[2]]
    assert [e.entry_id for e in survivor.list_entries(session)] == [entry_id]

    # With a second server down, the rogue is named in the error, and nothing is written.
    world.down(3)
    with pytest.raises(ThresholdError) as caught:
        _add(world.survivor())
    assert f"{KS[1]}: wrong answer" in str(caught.value)
    assert f"{KS[2]}: unreachable" in str(caught.value)
    assert world.rows()[0] == 1


def test_quota_exceeded_is_a_429_and_a_limit_error(world: World) -> None:
    session = world.survivor()
    ticket = session.escrow.ticket()
    federation = world.federation()
    inputs = [secrets.token_bytes(16) for _ in range(TICKET_QUOTA)]
    assert len(federation.evaluate(inputs, ticket)) == TICKET_QUOTA
    # The same ticket again, beyond its quota: the key server answers 429.
    raw = world.deployed.transports[KS[0]].client.post("/v1/evaluate", json=_evaluation(ticket))
    assert raw.status_code == 429, raw.text
    assert raw.headers["content-type"].startswith("application/problem+json")
    assert int(raw.headers["retry-after"]) > 0
    with pytest.raises(LimitError) as caught:
        federation.evaluate([secrets.token_bytes(16)], ticket)
    assert "quota" in str(caught.value)
    assert caught.value.retry_after_seconds is not None
    assert caught.value.retry_after_seconds > 0
    # Through the survivor's whole flow: a fresh ticket of the same account and period
    # shares the pseudonym, so its quota is used up too.
    with pytest.raises(LimitError) as through_client:
        _add(session)
    assert PERP not in str(through_client.value)
    assert survivor.list_entries(session) == []


def test_an_expired_ticket_is_refused(world: World) -> None:
    session = world.survivor()
    ticket = session.escrow.ticket()
    world.deployed.clock.now_ms += DEFAULT_LIFETIME_MS + DEFAULT_SKEW_MS + 1
    with pytest.raises(TicketError) as caught:
        world.federation().evaluate([secrets.token_bytes(16)], ticket)
    assert "ticket" in str(caught.value)
    raw = world.deployed.transports[KS[0]].client.post("/v1/evaluate", json=_evaluation(ticket))
    assert raw.status_code == 401, raw.text


def test_a_replayed_ticket_beyond_its_quota_is_refused(world: World) -> None:
    session = world.survivor()
    ticket = session.escrow.ticket()
    federation = world.federation()
    for _ in range(TICKET_QUOTA):
        federation.evaluate([secrets.token_bytes(16)], ticket)  # one element per replay
    statuses = {
        url: world.deployed.transports[url]
        .client.post("/v1/evaluate", json=_evaluation(ticket))
        .status_code
        for url in KS[:2]
    }
    assert statuses == {KS[0]: 429, KS[1]: 429}
    with pytest.raises(LimitError):
        federation.evaluate([secrets.token_bytes(16)], ticket)
