"""EscrowClient's HTTP mapping, against a scripted transport (httpx.MockTransport).

What is checked: each method's route, method, headers and body shape; the parsing of
answers; the mapping of problems to the error tree; and that no message carries a
token or a request body.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from notalone.client.escrow import EscrowClient
from notalone.crypto import group, threshold
from notalone.errors import (
    ConflictError,
    EncodingError,
    InputError,
    LimitError,
    NotAloneError,
    UnavailableError,
    VerificationError,
)
from notalone.protocol.slots import Slot

TOKEN = "ab" * 32
SECRET_BODY = "alice@example.org"

Handler = Callable[[httpx.Request], httpx.Response]


def _client(
    handler: Handler, token: str | None = TOKEN
) -> tuple[EscrowClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.Client(transport=httpx.MockTransport(record))
    return EscrowClient("http://escrow.test/", http, token), seen


def _problem(status: int, title: str = "refused", detail: str = "", **headers: str) -> Handler:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            json={"type": "about:blank", "title": title, "status": status, "detail": detail},
            headers={"content-type": "application/problem+json", **headers},
        )

    return handler


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InputError),
        (401, VerificationError),
        (404, InputError),
        (409, ConflictError),
        (413, InputError),
        (422, InputError),
        (500, UnavailableError),
        (503, UnavailableError),
    ],
)
def test_problems_map_to_the_error_tree(status: int, error: type[NotAloneError]) -> None:
    client, _ = _client(_problem(status, "nope", "said the server"))
    with pytest.raises(error) as caught:
        client.login_start("brave-otter-1234")
    assert type(caught.value) is error
    assert f"answered {status} nope: said the server" in str(caught.value)
    client.http.close()


def test_429_carries_retry_after() -> None:
    client, _ = _client(_problem(429, "slow down", **{"Retry-After": "17"}))
    with pytest.raises(LimitError) as caught:
        client.ticket()
    assert caught.value.retry_after_seconds == 17
    client.http.close()


def test_network_error_is_unavailable_and_holds_no_secret() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused " + request.content.decode(), request=request)

    client, _ = _client(down)
    with pytest.raises(UnavailableError) as caught:
        client.register(
            username="brave-otter-1234",
            invite_code=SECRET_BODY,
            key_bundle=b"\x01",
            auth_key=b"k" * 32,
            recovery_auth_key=b"r" * 32,
        )
    message = str(caught.value)
    assert "ConnectError" in message
    assert SECRET_BODY not in message
    assert TOKEN not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert TOKEN not in repr(client)
    client.http.close()


def test_problem_text_is_cleaned_and_bounded() -> None:
    client, _ = _client(_problem(400, "bad\x1b[31m", "x" * 1000))
    with pytest.raises(InputError) as caught:
        client.deployment()
    assert "\x1b" not in str(caught.value)
    assert len(str(caught.value)) < 500
    client.http.close()


def test_malformed_answer_is_an_encoding_error() -> None:
    client, _ = _client(lambda _: httpx.Response(200, json={"salt": "zz"}))
    with pytest.raises(EncodingError, match="malformed login parameters"):
        client.login_start("brave-otter-1234")
    client2, _ = _client(lambda _: httpx.Response(200, content=b"not json"))
    with pytest.raises(EncodingError, match="invalid JSON"):
        client2.ticket()
    client.http.close()
    client2.http.close()


def test_register_sends_hex_and_an_idempotency_key_without_a_token() -> None:
    answer = {"account_id": "11" * 16, "username": "brave-otter-1234", "organization_id": "o1"}
    client, seen = _client(lambda _: httpx.Response(201, json=answer), token=None)
    registered = client.register(
        username="brave-otter-1234",
        invite_code="CODE",
        key_bundle=b"\x01\x02",
        auth_key=b"\xaa" * 32,
        recovery_auth_key=b"\xbb" * 32,
    )
    assert registered.account_id == b"\x11" * 16
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/v1/accounts")
    assert "authorization" not in request.headers
    assert request.headers["idempotency-key"]
    assert json.loads(request.content) == {
        "username": "brave-otter-1234",
        "invite_code": "CODE",
        "key_bundle": "0102",
        "auth_key": "aa" * 32,
        "recovery_auth_key": "bb" * 32,
    }
    client.http.close()


def test_login_finish_asks_for_a_bearer_session() -> None:
    answer = {
        "kind": "bearer",
        "expires_at_ms": 5,
        "account_id": "22" * 16,
        "key_bundle": "0102",
        "token": TOKEN,
    }
    client, seen = _client(lambda _: httpx.Response(200, json=answer), token=None)
    session = client.login_finish("brave-otter-1234", b"\x01" * 32)
    assert session.token == TOKEN
    assert session.key_bundle == b"\x01\x02"
    assert TOKEN not in repr(session)
    assert json.loads(seen[0].content)["kind"] == "bearer"
    client.http.close()


def test_token_is_sent_as_bearer() -> None:
    client, seen = _client(lambda _: httpx.Response(200, json={"ticket": "0a", "expires_ms": 1}))
    assert client.ticket() == b"\x0a"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    other = client.with_token("cd" * 32)
    other.ticket()
    assert seen[1].headers["authorization"] == "Bearer " + "cd" * 32
    client.http.close()


def test_deployment_and_counselors_parse() -> None:
    federation, _ = threshold.deal(group.random_scalar(), 2, 3)
    deployment = {
        "deployment_id": "33" * 16,
        "match_threshold": 2,
        "federation": {
            "threshold": federation.threshold,
            "public_key": federation.public_key.hex(),
            "shares": [
                {"index": i, "public_key": k.hex()} for i, k in federation.share_public_keys
            ],
        },
        "key_servers": ["http://ks1", "http://ks2", "http://ks3"],
        "ticket_public_key": "44" * 32,
        "log_public_key": "55" * 32,
    }
    counselors = {
        "counselors": [
            {
                "id": "c-anna",
                "display_name": "Anna",
                "public_key": "66" * 32,
                "fingerprint": "1a2b-3c4d",
                "vouching_signature": "77" * 64,
            }
        ]
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=deployment if request.url.path == "/v1/deployment" else counselors
        )

    client, _ = _client(handler)
    parsed = client.deployment()
    assert parsed.federation == federation
    assert parsed.key_servers == ("http://ks1", "http://ks2", "http://ks3")
    assert parsed.log_public_key == b"\x55" * 32
    (anna,) = client.counselors()
    assert (anna.id, anna.public_key) == ("c-anna", b"\x66" * 32)
    client.http.close()


def test_entries_routes() -> None:
    listing = {
        "entries": [
            {
                "entry_id": "88" * 16,
                "entry_copy": "99",
                "created_at_ms": 10,
                "withdrawn_at_ms": None,
                "slots": [{"slot_id": "aa" * 16, "state": "sealed"}],
            }
        ]
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"entry_id": "88" * 16})
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json=listing)

    client, seen = _client(handler)
    slot = Slot(b"\xaa" * 16, b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, b"\x05", "c")
    assert client.create_entry(b"\x88" * 16, b"\x99", [slot], idempotency_key="k1") == b"\x88" * 16
    body = json.loads(seen[0].content)
    assert body["slots"][0] == {
        "slot_id": "aa" * 16,
        "tag": "02" * 32,
        "x": "03" * 32,
        "share": "04" * 32,
        "outer": "05",
        "counselor_id": "c",
    }
    assert "account_id" not in body["slots"][0]
    assert seen[0].headers["idempotency-key"] == "k1"
    (entry,) = client.entries()
    assert entry.slot_states == ((b"\xaa" * 16, "sealed"),)
    client.withdraw_entry(b"\x88" * 16)
    assert (seen[2].method, seen[2].url.path) == ("DELETE", "/v1/entries/" + "88" * 16)
    client.http.close()


def test_unknown_slot_state_is_refused() -> None:
    listing = {
        "entries": [
            {
                "entry_id": "88" * 16,
                "entry_copy": "99",
                "created_at_ms": 10,
                "withdrawn_at_ms": None,
                "slots": [{"slot_id": "aa" * 16, "state": "matched"}],
            }
        ]
    }
    client, _ = _client(lambda _: httpx.Response(200, json=listing))
    with pytest.raises(EncodingError):
        client.entries()
    client.http.close()


def test_inbox_parses() -> None:
    items = {
        "items": [
            {
                "match_id": "m1",
                "slot_id": "aa" * 16,
                "inner": "01ff",
                "created_at_ms": 3,
                "other_counselors": ["c-bo"],
            }
        ]
    }
    client, seen = _client(lambda _: httpx.Response(200, json=items))
    (item,) = client.inbox()
    assert (item.match_id, item.inner, item.other_counselors) == ("m1", b"\x01\xff", ("c-bo",))
    assert seen[0].url.path == "/v1/counselor/inbox"
    client.http.close()


def test_url_is_checked_and_credentials_hidden() -> None:
    http = httpx.Client()
    with pytest.raises(InputError):
        EscrowClient("ftp://x", http)
    client = EscrowClient("http://user:pw@escrow.test", http)
    assert "pw" not in repr(client)
    http.close()


def test_path_ids_are_checked() -> None:
    client, _ = _client(lambda _: httpx.Response(201, json={"invites": []}))
    with pytest.raises(InputError):
        client.create_invites("../admin")
    assert client.create_invites("0011") == []
    client.http.close()


def test_register_counselor_sends_notify_email_only_when_given() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"id": "c-ana", "token": "cd" * 32})

    client, seen = _client(handler)
    key = bytes(range(32))
    assert client.register_counselor("c-ana", "Ana", key) == "cd" * 32
    client.register_counselor("c-ana", "Ana", key, notify_email="ana@counsel.example")
    bodies = [json.loads(request.content) for request in seen]
    assert all(request.url.path == "/v1/counselors" for request in seen)
    assert "notify_email" not in bodies[0]
    assert bodies[1]["notify_email"] == "ana@counsel.example"
