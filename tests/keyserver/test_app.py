"""The key server's HTTP API, end to end through FastAPI's test client."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

import httpx
import pytest

from notalone.crypto import oprf, threshold
from notalone.crypto.oprf import Mode
from notalone.crypto.threshold import ShareEvaluation
from notalone.keyserver.app import MAX_BODY_BYTES
from notalone.protocol import tickets
from notalone.serving import SECURITY_HEADERS
from notalone.storage.quota import InMemoryQuotaStore
from tests.keyserver.conftest import DAY, START_MS, Federated, MakeClient, TestClient

INPUTS = [
    b"notalone/v1/id|email|jane@example.org",
    b"notalone/v1/id|phone|+14155550134",
    b"notalone/v1/id|profile|github:octocat",
]
IDENTITY_HEX = "00" * 32
# 2^255 - 1: above the field prime, so never a canonical ristretto255 encoding.
NON_CANONICAL_HEX = "ff" * 31 + "7f"


def _blind(inputs: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    pairs = [oprf.blind(x, Mode.VOPRF) for x in inputs]
    return [r for r, _ in pairs], [b for _, b in pairs]


def _evaluation(response: httpx.Response) -> ShareEvaluation:
    assert response.status_code == 200, response.text
    body = response.json()
    return ShareEvaluation(
        index=body["index"],
        evaluated_elements=tuple(bytes.fromhex(z) for z in body["evaluated_elements"]),
        proof=bytes.fromhex(body["proof"]),
    )


def _evaluate(client: TestClient, ticket: str, elements: list[str]) -> httpx.Response:
    return client.post("/v1/evaluate", json={"ticket": ticket, "blinded_elements": elements})


def _assert_problem(response: httpx.Response, status: int, kind: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    expected = f"tag:notalone,2026:problem/{kind}" if kind else "about:blank"
    assert body["type"] == expected
    _assert_security_headers(response)


def _assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.fixture
def three(make_client: MakeClient) -> list[TestClient]:
    return [make_client(i) for i in (1, 2, 3)]


def test_every_pair_of_servers_gives_the_single_key_output(
    federated: Federated, three: list[TestClient]
) -> None:
    blinds, blinded = _blind(INPUTS)
    elements = [b.hex() for b in blinded]
    expected = [oprf.evaluate(federated.secret_key, x, Mode.VOPRF) for x in INPUTS]
    for first, second in itertools.combinations(three, 2):
        ticket = federated.ticket()
        answers = [_evaluation(_evaluate(c, ticket, elements)) for c in (first, second)]
        outputs = threshold.finalize_threshold(
            federated.federation, INPUTS, blinds, blinded, answers
        )
        assert outputs == expected


def test_keys_describe_the_share_and_the_federation(
    federated: Federated, make_client: MakeClient
) -> None:
    response = make_client(2).get("/v1/keys")
    assert response.status_code == 200
    _assert_security_headers(response)
    assert response.json() == {
        "index": 2,
        "public_key": federated.shares[1].public_key.hex(),
        "federation": {
            "threshold": 2,
            "public_key": federated.federation.public_key.hex(),
            "shares": [
                {"index": i, "public_key": pk.hex()}
                for i, pk in federated.federation.share_public_keys
            ],
        },
        "deployment_id": federated.deployment.deployment_id.hex(),
        "ticket_public_key": federated.issuer.public_key.hex(),
        "ticket_period_ms": DAY,
        "suite": "ristretto255-SHA512",
        "mode": 1,
    }


def test_health_and_openapi(make_client: MakeClient) -> None:
    client = make_client(1)
    health = client.get("/healthz")
    assert health.json() == {"status": "ok"}
    _assert_security_headers(health)
    schema = client.get("/openapi.json").json()
    assert {"/v1/keys", "/v1/evaluate", "/healthz"} <= set(schema["paths"])
    responses = schema["paths"]["/v1/evaluate"]["post"]["responses"]
    assert {"200", "400", "401", "413", "422", "429"} <= set(responses)
    # No page that loads third-party scripts.
    assert client.get("/docs").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"ticket": "00", "blinded_elements": []},
        {"ticket": "00", "blinded_elements": ["aa" * 32] * 65},
        {"ticket": "00", "blinded_elements": ["zz" * 32]},
        {"ticket": "00", "blinded_elements": ["AA" * 32]},
        {"ticket": "00", "blinded_elements": ["aa" * 31]},
        {"ticket": "00"},
        {"blinded_elements": ["aa" * 32]},
        {"ticket": "00", "blinded_elements": ["aa" * 32], "extra": 1},
        {"ticket": "00" * 600, "blinded_elements": ["aa" * 32]},
        {"ticket": 5, "blinded_elements": ["aa" * 32]},
        ["not", "an", "object"],
    ],
)
def test_malformed_requests_are_400(
    federated: Federated, make_client: MakeClient, body: object
) -> None:
    response = make_client(1).post("/v1/evaluate", json=body)
    _assert_problem(response, 400, "invalid-request")
    # The detail says where, never echoes the input.
    assert "aa" * 31 not in response.text
    assert "zz" not in response.text


def test_invalid_json_is_400(make_client: MakeClient) -> None:
    response = make_client(1).post(
        "/v1/evaluate", content=b"{not json", headers={"content-type": "application/json"}
    )
    _assert_problem(response, 400, "invalid-request")


def test_a_full_batch_of_64_is_accepted(federated: Federated, make_client: MakeClient) -> None:
    _, blinded = _blind([b"x%d" % i for i in range(64)])
    response = _evaluate(make_client(1), federated.ticket(), [b.hex() for b in blinded])
    assert len(_evaluation(response).evaluated_elements) == 64


@pytest.mark.parametrize(
    ("make_ticket", "reason"),
    [
        (lambda f: "zz", "not hex"),
        (lambda f: f.ticket()[:-2], "exactly 135 bytes"),
        (lambda f: "02" + f.ticket()[2:], "version"),
        (lambda f: f.ticket()[:-2] + ("00" if f.ticket()[-2:] != "00" else "01"), "not signed"),
        (lambda f: f.ticket(at_ms=START_MS - 2 * 3_600_000), "expired"),
        (lambda f: f.ticket(at_ms=START_MS + 3_600_000), "not valid yet"),
    ],
)
def test_invalid_tickets_are_401(
    federated: Federated, make_client: MakeClient, make_ticket: object, reason: str
) -> None:
    _, blinded = _blind(INPUTS[:1])
    ticket = make_ticket(federated)  # type: ignore[operator]
    response = _evaluate(make_client(1), ticket, [blinded[0].hex()])
    _assert_problem(response, 401, "invalid-ticket")
    assert reason in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("NotAlone-Ticket")


def test_a_ticket_for_another_deployment_is_401(
    federated: Federated, make_client: MakeClient
) -> None:
    elsewhere = tickets.TicketIssuer(
        federated.issuer.signing_key, bytes(32), bytes(16), period_ms=DAY
    )
    ticket = elsewhere.issue(b"A" * 16, START_MS, 64).to_bytes().hex()
    _, blinded = _blind(INPUTS[:1])
    response = _evaluate(make_client(1), ticket, [blinded[0].hex()])
    _assert_problem(response, 401, "invalid-ticket")
    assert "another deployment" in response.json()["detail"]


@pytest.mark.parametrize("bad", [IDENTITY_HEX, NON_CANONICAL_HEX])
def test_invalid_elements_are_422_and_consume_nothing(
    federated: Federated, make_client: MakeClient, bad: str
) -> None:
    store = InMemoryQuotaStore()
    client = make_client(1, store)
    _, blinded = _blind(INPUTS)
    ticket = federated.ticket(quota=3)
    response = _evaluate(client, ticket, [blinded[0].hex(), bad])
    _assert_problem(response, 422, "invalid-element")
    assert "blinded_elements[1]" in response.json()["detail"]
    # The whole quota is still there.
    assert _evaluate(client, ticket, [b.hex() for b in blinded]).status_code == 200


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 4096):
        yield data[start : start + 4096]


def test_large_bodies_are_413(federated: Federated, make_client: MakeClient) -> None:
    client = make_client(1)
    big = b'{"ticket": "' + b"0" * MAX_BODY_BYTES + b'", "blinded_elements": []}'
    declared = client.post(
        "/v1/evaluate", content=big, headers={"content-type": "application/json"}
    )
    _assert_problem(declared, 413, "body-too-large")
    # Without a Content-Length (chunked), the body is counted as it arrives.
    chunked = client.post(
        "/v1/evaluate", content=_chunks(big), headers={"content-type": "application/json"}
    )
    _assert_problem(chunked, 413, "body-too-large")
    # A body just under the limit passes the size check (and fails on its content).
    small = b'{"ticket": "' + b"0" * (MAX_BODY_BYTES - 100) + b'", "blinded_elements": []}'
    assert client.post("/v1/evaluate", content=small).status_code == 400


def test_quota_is_per_pseudonym_and_period_and_a_refused_batch_consumes_nothing(
    federated: Federated, make_client: MakeClient
) -> None:
    store = InMemoryQuotaStore()
    client = make_client(1, store)
    _, blinded = _blind(INPUTS)
    three_elements = [b.hex() for b in blinded]
    ticket = federated.ticket(quota=5)
    parsed = tickets.Ticket.from_bytes(bytes.fromhex(ticket))

    assert _evaluate(client, ticket, three_elements).status_code == 200
    refused = _evaluate(client, ticket, three_elements)
    _assert_problem(refused, 429, "quota-exceeded")
    # 09:00 → the period ends at midnight, 15 hours later.
    assert refused.headers["retry-after"] == str(15 * 3600)
    assert store.used(parsed.pseudonym, parsed.period) == 3
    assert _evaluate(client, ticket, three_elements[:2]).status_code == 200
    assert store.used(parsed.pseudonym, parsed.period) == 5

    # A replayed or a fresh ticket of the same account and period draws on the same count.
    again = federated.ticket(quota=5)
    _assert_problem(_evaluate(client, again, three_elements[:1]), 429, "quota-exceeded")
    # Another account has its own quota.
    other = federated.ticket(account=b"B" * 16, quota=5)
    assert _evaluate(client, other, three_elements).status_code == 200
    # The next period starts afresh, under a new pseudonym.
    federated.clock.now_ms = START_MS + DAY
    tomorrow = federated.ticket(quota=5)
    assert tickets.Ticket.from_bytes(bytes.fromhex(tomorrow)).pseudonym != parsed.pseudonym
    assert _evaluate(client, tomorrow, three_elements).status_code == 200


def test_each_key_server_counts_for_itself(federated: Federated, make_client: MakeClient) -> None:
    first, second = make_client(1), make_client(2)
    _, blinded = _blind(INPUTS[:2])
    ticket = federated.ticket(quota=2)
    elements = [b.hex() for b in blinded]
    assert _evaluate(first, ticket, elements).status_code == 200
    assert _evaluate(second, ticket, elements).status_code == 200
    _assert_problem(_evaluate(first, ticket, elements), 429, "quota-exceeded")


def test_a_batch_above_the_ticket_quota_is_429(
    federated: Federated, make_client: MakeClient
) -> None:
    _, blinded = _blind(INPUTS)
    response = _evaluate(make_client(1), federated.ticket(quota=2), [b.hex() for b in blinded])
    _assert_problem(response, 429, "quota-exceeded")
    assert "allows 2 evaluations" in response.json()["detail"]


def test_retry_after_is_at_least_one_second(federated: Federated, make_client: MakeClient) -> None:
    # A ticket issued just before midnight, used just after: its period has ended.
    federated.clock.now_ms = START_MS + 15 * 3_600_000 - 1_000
    ticket = federated.ticket(quota=1)
    client = make_client(1)
    _, blinded = _blind(INPUTS[:1])
    assert _evaluate(client, ticket, [blinded[0].hex()]).status_code == 200
    federated.clock.now_ms += 30_000
    refused = _evaluate(client, ticket, [blinded[0].hex()])
    _assert_problem(refused, 429, "quota-exceeded")
    assert refused.headers["retry-after"] == "1"


def test_counts_of_past_periods_are_pruned(federated: Federated, make_client: MakeClient) -> None:
    store = InMemoryQuotaStore()
    client = make_client(1, store)
    _, blinded = _blind(INPUTS[:1])
    ticket = federated.ticket(quota=1)
    parsed = tickets.Ticket.from_bytes(bytes.fromhex(ticket))
    assert _evaluate(client, ticket, [blinded[0].hex()]).status_code == 200
    # Half an hour into the next day the ticket could still be valid: the count is kept.
    federated.clock.now_ms = START_MS + 15 * 3_600_000 + 30 * 60_000
    assert _evaluate(client, federated.ticket(), [blinded[0].hex()]).status_code == 200
    assert store.used(parsed.pseudonym, parsed.period) == 1
    # Two hours in, no ticket of yesterday can be accepted any more: the count goes.
    federated.clock.now_ms = START_MS + 17 * 3_600_000
    assert _evaluate(client, federated.ticket(), [blinded[0].hex()]).status_code == 200
    assert store.used(parsed.pseudonym, parsed.period) == 0


def test_unknown_routes_and_methods_are_problems(make_client: MakeClient) -> None:
    client = make_client(1)
    _assert_problem(client.get("/v1/nothing"), 404)
    wrong_method = client.get("/v1/evaluate")
    _assert_problem(wrong_method, 405)
    assert "POST" in wrong_method.headers["allow"]


class _BrokenStore(InMemoryQuotaStore):
    def consume(self, pseudonym: bytes, period: int, count: int, limit: int) -> bool:
        raise RuntimeError("database unreachable at postgresql://user:hunter2@db/quota")


def test_an_internal_error_is_a_bare_500(
    federated: Federated, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(1, _BrokenStore(), raise_server_exceptions=False)
    _, blinded = _blind(INPUTS[:1])
    with caplog.at_level(logging.INFO, logger="notalone"):
        response = _evaluate(client, federated.ticket(), [blinded[0].hex()])
    _assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "hunter2" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_logs_and_answers_hold_no_pseudonym_element_or_key(
    federated: Federated, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(1)
    _, blinded = _blind(INPUTS)
    elements = [b.hex() for b in blinded]
    ticket = federated.ticket(quota=3)
    pseudonym = tickets.Ticket.from_bytes(bytes.fromhex(ticket)).pseudonym.hex()
    with caplog.at_level(logging.DEBUG):
        responses = [
            _evaluate(client, ticket, elements),
            _evaluate(client, ticket, elements),  # 429
            _evaluate(client, ticket, [IDENTITY_HEX]),  # 422
            # Flip the signature's last byte: always a different, unsigned ticket.
            _evaluate(client, ticket[:-2] + f"{int(ticket[-2:], 16) ^ 1:02x}", elements),  # 401
        ]
    assert [r.status_code for r in responses] == [200, 429, 422, 401]
    assert "evaluated 3 element(s)" in caplog.text
    assert "quota of 3 used up" in caplog.text
    secrets = [pseudonym, ticket, *elements, federated.shares[0].secret_key.hex()]
    for secret in secrets:
        assert secret not in caplog.text
        for response in responses[1:]:
            assert secret not in response.text
