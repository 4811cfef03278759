"""The escrow's same-origin relay to the key servers (notalone.web.api.keyservers).

The key servers here are the real key-server apps, reached through httpx's ASGI
transport at the URLs the deployment lists. The relay must hand every answer through
unchanged (so the page can verify the DLEQ proofs itself), pass refusals through with
their status and Retry-After, and say clearly which key server is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from notalone.crypto import group, oprf
from notalone.keyserver import Deployment, KeyServerKey, KeyServerSettings, create_app
from notalone.storage.engine import Database
from notalone.storage.quota import InMemoryQuotaStore
from notalone.web import api
from notalone.web.app import build_services
from notalone.web.app import create_app as create_escrow_app
from tests.services.conftest import Clock
from tests.web.conftest import (
    DEPLOYMENT_ID,
    FEDERATION,
    KEY_SERVERS,
    SHARES,
    TICKET_KEY,
    Env,
    make_settings,
)


class KeyServerNetwork(httpx.AsyncBaseTransport):
    """The three key-server apps at the deployment's URLs; any of them can be down, and
    one can be made to answer with too many bytes."""

    def __init__(self, clock: Clock) -> None:
        deployment = Deployment(DEPLOYMENT_ID, TICKET_KEY.public_key().public_bytes_raw())
        self.apps = {
            url: create_app(
                KeyServerSettings(KeyServerKey(share, FEDERATION, deployment), clock_ms=clock),
                InMemoryQuotaStore(),
            )
            for url, share in zip(KEY_SERVERS, SHARES, strict=True)
        }
        self.down: set[str] = set()
        self.flooding: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        if origin in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if origin in self.flooding:
            return httpx.Response(200, content=b"x" * (api.keyservers.MAX_ANSWER_BYTES + 1))
        return await httpx.ASGITransport(app=self.apps[origin]).handle_async_request(request)


@pytest.fixture
def relayed(database_url: str) -> Iterator[tuple[Env, KeyServerNetwork]]:
    clock = Clock()
    settings = make_settings(database_url, clock)
    network = KeyServerNetwork(clock)
    database = Database(settings.database_url)
    app = create_escrow_app(
        settings, build_services(settings, database), keyserver_transport=network
    )
    with TestClient(app, base_url="https://testserver") as client:
        yield (
            Env(client, app, settings, build_services(settings, database), clock, database),
            (network),
        )
    database.dispose()


def _direct(network: KeyServerNetwork, position: int) -> TestClient:
    return TestClient(network.apps[KEY_SERVERS[position]])


def _evaluation_body(env: Env) -> tuple[dict[str, object], bytes]:
    survivor = env.survivor()
    ticket = env.client.post("/v1/tickets", headers=survivor.headers).json()["ticket"]
    _blind, blinded = oprf.blind(b"an identifier's canonical form", oprf.Mode.VOPRF)
    return {"ticket": ticket, "blinded_elements": [blinded.hex()]}, blinded


def test_keys_are_relayed_unchanged(relayed: tuple[Env, KeyServerNetwork]) -> None:
    env, network = relayed
    for position in range(3):
        through = env.client.get(f"/v1/keyservers/{position}/keys")
        assert through.status_code == 200
        assert through.headers["content-security-policy"].startswith("default-src 'none'")
        with _direct(network, position) as direct:
            assert through.json() == direct.get("/v1/keys").json()


def test_an_evaluation_is_relayed_and_its_proof_verifies(
    relayed: tuple[Env, KeyServerNetwork],
) -> None:
    env, network = relayed
    body, blinded = _evaluation_body(env)
    for position in range(3):
        answer = env.client.post(f"/v1/keyservers/{position}/evaluate", json=body)
        assert answer.status_code == 200
        relayed_body = answer.json()
        assert relayed_body["index"] == position + 1
        # Evaluation is deterministic for a blinded element: the relay changed nothing.
        with _direct(network, position) as direct:
            straight = direct.post("/v1/evaluate", json=body).json()
        assert relayed_body["evaluated_elements"] == straight["evaluated_elements"]
        evaluated = [bytes.fromhex(e) for e in relayed_body["evaluated_elements"]]
        oprf.verify_proof(
            group.GENERATOR,
            FEDERATION.share_public_key(position + 1),
            [blinded],
            evaluated,
            bytes.fromhex(relayed_body["proof"]),
            oprf.Mode.VOPRF,
        )


def test_refusals_pass_through_with_their_status(relayed: tuple[Env, KeyServerNetwork]) -> None:
    env, _network = relayed
    body, _ = _evaluation_body(env)
    forged = {**body, "ticket": "00" * 135}
    refused = env.client.post("/v1/keyservers/0/evaluate", json=forged)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    # The quota (TICKET_QUOTA = 40 per period) runs out; Retry-After comes through.
    many = {**body, "blinded_elements": body["blinded_elements"] * 40}  # type: ignore[operator]
    assert env.client.post("/v1/keyservers/1/evaluate", json=many).status_code == 200
    over = env.client.post("/v1/keyservers/1/evaluate", json=body)
    assert over.status_code == 429
    assert int(over.headers["retry-after"]) > 0
    assert over.json()["title"] == "Evaluation quota exceeded"


def test_a_missing_or_silent_key_server_is_a_clear_problem(
    relayed: tuple[Env, KeyServerNetwork],
) -> None:
    env, network = relayed
    body, _ = _evaluation_body(env)
    absent = env.client.get("/v1/keyservers/3/keys")
    assert absent.status_code == 404
    assert absent.json()["detail"] == "there is no key server at this position"
    assert env.client.get("/v1/keyservers/99/keys").status_code == 400
    network.down.add(KEY_SERVERS[2])
    silent = env.client.post("/v1/keyservers/2/evaluate", json=body)
    assert silent.status_code == 502
    assert silent.json()["detail"] == (
        "key server 2 did not answer; the others may still be enough"
    )
    # The URL of the key server stays out of the answer.
    assert "127.0.0.1" not in silent.text
    network.flooding.add(KEY_SERVERS[0])
    assert env.client.get("/v1/keyservers/0/keys").status_code == 502
    assert env.client.post("/v1/keyservers/1/evaluate", json=body).status_code == 200
