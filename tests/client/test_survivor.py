"""The survivor's and counselor's use cases against the real escrow app and key servers.

The escrow app (`notalone.web`, on a migrated SQLite file) and three key-server apps run
in process; the SDK reaches all four through one httpx client whose transport routes by
host, as it would over the network.
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

from notalone.client import counselor, survivor
from notalone.client.escrow import EscrowClient
from notalone.errors import (
    ConflictError,
    DecryptionError,
    IdentifierError,
    InputError,
    MerkleProofError,
    VerificationError,
)
from notalone.protocol.accounts import ARGON2_FLOOR
from notalone.protocol.records import RecordContent
from notalone.storage.engine import Database
from notalone.web.app import build_services, create_app
from notalone.web.settings import EscrowSettings
from tests.client.conftest import _HOP_HEADERS, DEPLOYMENT_ID, AppTransport, Deployed

OPERATOR_TOKEN = "operator-" + "t" * 40
ESCROW = "http://escrow.test"
PASSPHRASE = "correct horse battery staple"


class EscrowTransport(AppTransport):
    """AppTransport, keeping the query string (the log's consistency route needs it)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(
            request.method,
            request.url.raw_path.decode("ascii"),
            content=request.read(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        )
        headers = [(k, v) for k, v in answer.headers.multi_items() if k not in _HOP_HEADERS]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)


class Router(httpx.BaseTransport):
    """Routes each request to the app serving its host."""

    def __init__(self, routes: dict[str, AppTransport]) -> None:
        self.routes = routes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.routes[f"{request.url.scheme}://{request.url.host}"].handle_request(request)


@dataclass
class World:
    http: httpx.Client
    escrow: EscrowClient
    operator: EscrowClient
    deployed: Deployed
    counselor_keys: dict[str, counselor.CounselorKeys]
    counselor_tokens: dict[str, str]

    def invite(self) -> str:
        organization = self.operator.create_organization(f"Org {secrets.token_hex(4)}")
        return self.operator.create_invites(organization)[0].code

    def survivor(self) -> survivor.SurvivorSession:
        registration = survivor.register(self.escrow, self.invite(), PASSPHRASE, ARGON2_FLOOR)
        return survivor.login(self.escrow, registration.username, PASSPHRASE)

    def counselor_client(self, counselor_id: str) -> EscrowClient:
        return self.escrow.with_token(self.counselor_tokens[counselor_id])


@pytest.fixture
def world(deployed: Deployed, tmp_path: Path) -> Iterator[World]:
    servers = [deployed.server(i) for i in (1, 2, 3)]  # registers their transports
    settings = EscrowSettings(
        database_url=f"sqlite:///{tmp_path / 'escrow.sqlite3'}",
        server_secret=secrets.token_bytes(32),
        operator_token=OPERATOR_TOKEN,
        deployment_id=DEPLOYMENT_ID,
        match_threshold=2,
        federation=deployed.federation,
        key_servers=tuple(s.url for s in servers),
        ticket_signing_key=deployed.issuer.signing_key,
        ticket_secret=deployed.issuer.ticket_secret,
        log_signing_key=Ed25519PrivateKey.generate(),
        vouching_key=Ed25519PrivateKey.generate(),
        clock_ms=deployed.clock,
    )
    database = Database(settings.database_url)
    database.upgrade()
    app = create_app(settings, build_services(settings, database))
    with TestClient(app) as test_client:
        routes = dict(deployed.transports)
        routes[ESCROW] = EscrowTransport(test_client)
        with httpx.Client(transport=Router(routes)) as http:
            escrow = EscrowClient(ESCROW, http)
            operator = escrow.with_token(OPERATOR_TOKEN)
            keys, tokens = {}, {}
            for counselor_id in ("c-anna", "c-bo"):
                keys[counselor_id] = counselor.keygen()
                tokens[counselor_id] = operator.register_counselor(
                    counselor_id, counselor_id, keys[counselor_id].public_key
                )
            yield World(http, escrow, operator, deployed, keys, tokens)
    database.dispose()


def test_register_login_and_a_wrong_passphrase(world: World) -> None:
    registration = survivor.register(world.escrow, world.invite(), PASSPHRASE, ARGON2_FLOOR)
    assert registration.recovery_key not in repr(registration)
    session = survivor.login(world.escrow, registration.username, PASSPHRASE)
    assert session.account_id == registration.account_id
    assert session.token not in repr(session)
    with pytest.raises(VerificationError):
        survivor.login(world.escrow, registration.username, "wrong passphrase, sorry")


def test_a_taken_username_is_replaced_and_retried(world: World) -> None:
    first = survivor.register(world.escrow, world.invite(), PASSPHRASE, ARGON2_FLOOR)
    names = iter([first.username, "fresh-otter-0001"])
    second = survivor.register(
        world.escrow, world.invite(), PASSPHRASE, ARGON2_FLOOR, username_source=lambda: next(names)
    )
    assert second.username == "fresh-otter-0001"
    with pytest.raises(ConflictError):
        survivor.register(
            world.escrow,
            world.invite(),
            PASSPHRASE,
            ARGON2_FLOOR,
            username_source=lambda: first.username,
        )


def test_records_round_trip_with_verified_receipts(world: World) -> None:
    session = world.survivor()
    record_id, first = survivor.add_record(session, RecordContent(what="first", who="X"))
    second = survivor.add_version(session, record_id, RecordContent(what="second"))
    assert (first.version, second.version) == (1, 2)
    (view,) = survivor.list_records(session)
    assert view.record_id == record_id
    assert [v.content.what for v in view.versions] == ["first", "second"]
    check = survivor.verify_log(session)
    assert check.receipts == 2
    assert check.tree_size >= 2
    # Another survivor sees nothing of it.
    assert survivor.list_records(world.survivor()) == []


def test_a_receipt_from_another_log_is_refused(world: World) -> None:
    session = world.survivor()
    survivor.add_record(session, RecordContent(what="x"))
    real = session.deployment()
    session._deployment = type(real)(
        real.deployment_id,
        real.match_threshold,
        real.federation,
        real.key_servers,
        real.ticket_public_key,
        Ed25519PrivateKey.generate().public_key().public_bytes_raw(),
    )
    with pytest.raises(VerificationError):
        survivor.list_records(session)
    with pytest.raises((VerificationError, MerkleProofError)):
        survivor.verify_log(session)


def test_two_survivors_match_and_each_counselor_opens_only_theirs(world: World) -> None:
    alice, bob = world.survivor(), world.survivor()
    survivor.add_entry(
        alice, [("phone", "(415) 555-0134", "US")], counselor_id="c-anna", contact="signal:alice"
    )
    survivor.add_entry(
        bob, [("phone", "+1 415 555 0134", None)], counselor_id="c-bo", contact="bob@example.org"
    )
    (anna_item,) = counselor.inbox(world.counselor_client("c-anna"))
    (bo_item,) = counselor.inbox(world.counselor_client("c-bo"))
    assert anna_item.match_id == bo_item.match_id
    assert anna_item.other_counselors == ("c-bo",)
    anna_package = counselor.open_item(
        world.counselor_keys["c-anna"].private_key, DEPLOYMENT_ID, anna_item
    )
    assert anna_package.contact == "signal:alice"
    assert anna_package.identifiers == (("phone", "(415) 555-0134", "+14155550134"),)
    bo_package = counselor.open_item(
        world.counselor_keys["c-bo"].private_key, DEPLOYMENT_ID, bo_item
    )
    assert bo_package.contact == "bob@example.org"
    with pytest.raises(DecryptionError):
        counselor.open_item(world.counselor_keys["c-bo"].private_key, DEPLOYMENT_ID, anna_item)


def test_entry_list_shows_sealed_or_withdrawn_never_matched(world: World) -> None:
    alice, bob, carol = world.survivor(), world.survivor(), world.survivor()
    matched = survivor.add_entry(
        alice, [("email", "Perp@Example.org", None)], counselor_id="c-anna", contact="a"
    )
    survivor.add_entry(bob, [("email", "perp@example.org", None)], counselor_id="c-bo", contact="b")
    lonely = survivor.add_entry(
        carol, [("email", "nobody@example.org", None)], counselor_id="c-anna", contact="c"
    )
    (seen_matched,) = survivor.list_entries(alice)
    (seen_lonely,) = survivor.list_entries(carol)
    assert (seen_matched.entry_id, seen_lonely.entry_id) == (matched, lonely)
    assert seen_matched.state == seen_lonely.state == "sealed"
    assert seen_matched.identifiers == (("email", "Perp@Example.org", None),)
    assert seen_matched.contact == "a"
    survivor.withdraw_entry(carol, lonely)
    survivor.withdraw_entry(carol, lonely)  # idempotent
    (withdrawn,) = survivor.list_entries(carol)
    assert withdrawn.state == "withdrawn"


def test_a_typo_costs_no_request(world: World) -> None:
    session = world.survivor()
    before = world.deployed.evaluations()
    with pytest.raises(IdentifierError):
        survivor.add_entry(
            session, [("email", "not an email", None)], counselor_id="c-anna", contact="a"
        )
    with pytest.raises(InputError, match="no counselor"):
        survivor.add_entry(
            session, [("email", "a@b.org", None)], counselor_id="c-nobody", contact="a"
        )
    assert world.deployed.evaluations() == before
    assert survivor.list_entries(session) == []


def test_one_key_server_down_still_works(world: World) -> None:
    session = world.survivor()
    world.deployed.transports["http://ks1.test"].down = True
    entry_id = survivor.add_entry(
        session, [("email", "p@example.org", None)], counselor_id="c-anna", contact="a"
    )
    assert [e.entry_id for e in survivor.list_entries(session)] == [entry_id]


def test_an_expired_session_is_a_verification_error(world: World) -> None:
    session = world.survivor()
    session.escrow.logout()
    with pytest.raises(VerificationError) as caught:
        survivor.list_entries(session)
    assert type(caught.value) is VerificationError
    assert session.token not in str(caught.value)


def test_counselor_fingerprint_matches_the_registry(world: World) -> None:
    registry = {c.id: c for c in world.escrow.counselors()}
    keys = world.counselor_keys["c-anna"]
    assert registry["c-anna"].fingerprint == counselor.fingerprint(keys.public_key)
    assert registry["c-anna"].public_key == keys.public_key
    assert keys.private_key.hex() not in repr(keys)
