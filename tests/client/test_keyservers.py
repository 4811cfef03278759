"""The key-server clients against real key-server apps of a 2-of-3 federation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from notalone.client.keyservers import (
    FederationClient,
    KeyServerClient,
    KeyServerUnavailableError,
    ServerEvent,
)
from notalone.crypto import group, oprf, threshold
from notalone.crypto.oprf import Mode
from notalone.errors import (
    EncodingError,
    InputError,
    InvalidElementError,
    LimitError,
    ThresholdError,
    TicketError,
)
from notalone.keyserver import KeyServerKey
from tests.client.conftest import DEPLOYMENT_ID, AppTransport, Deployed

INPUTS = [
    b"notalone/v1/id|email|canary.secret@example.org",
    b"notalone/v1/id|phone|+14155550134",
    b"notalone/v1/id|orgid|canary-employee-7",
]


def expected(deployed: Deployed, inputs: list[bytes]) -> list[bytes]:
    return [oprf.evaluate(deployed.secret_key, x, Mode.VOPRF) for x in inputs]


def assert_no_secret(error: BaseException) -> None:
    text = str(error)
    for secret in ("canary", "4155550134", "example.org"):
        assert secret not in text


# --------------------------------------------------------------------------- one server


def test_keys_are_parsed(deployed: Deployed) -> None:
    keys = deployed.server(2).keys()
    assert keys.index == 2
    assert keys.public_key == deployed.shares[1].public_key
    assert keys.federation == deployed.federation
    assert keys.deployment_id == DEPLOYMENT_ID
    assert keys.ticket_public_key == deployed.issuer.public_key
    assert (keys.suite, keys.mode) == ("ristretto255-SHA512", 1)


def test_one_server_answers_with_a_proof_that_combines(deployed: Deployed) -> None:
    blinds, blinded = zip(*(oprf.blind(x, Mode.VOPRF) for x in INPUTS), strict=True)
    ticket = deployed.ticket()
    answers = [deployed.server(i).evaluate(ticket, list(blinded)) for i in (1, 3)]
    assert [a.index for a in answers] == [1, 3]
    outputs = threshold.finalize_threshold(
        deployed.federation, INPUTS, list(blinds), list(blinded), answers
    )
    assert outputs == expected(deployed, INPUTS)


def test_an_expired_ticket_is_a_ticket_error(deployed: Deployed) -> None:
    old = deployed.ticket(at_ms=deployed.clock.now_ms - 3_600_000)
    _, blinded = oprf.blind(INPUTS[0], Mode.VOPRF)
    with pytest.raises(TicketError, match=r"ks1\.test answered 401 .*expired"):
        deployed.server(1).evaluate(old, [blinded])


def test_quota_exceeded_is_a_limit_error_with_retry_after(deployed: Deployed) -> None:
    _, blinded = oprf.blind(INPUTS[0], Mode.VOPRF)
    ticket = deployed.ticket(quota=1)
    server = deployed.server(1)
    server.evaluate(ticket, [blinded])
    with pytest.raises(LimitError, match="429") as caught:
        server.evaluate(ticket, [blinded])
    assert caught.value.retry_after_seconds == 15 * 3600  # 09:00 → midnight


def test_an_invalid_element_is_refused_with_the_servers_title(deployed: Deployed) -> None:
    with pytest.raises(InvalidElementError, match="422 Invalid blinded element"):
        deployed.server(1).evaluate(deployed.ticket(), [bytes(32)])


def test_a_batch_is_1_to_64_elements(deployed: Deployed) -> None:
    server = deployed.server(1)
    with pytest.raises(InputError, match="1 to 64"):
        server.evaluate(deployed.ticket(), [])
    assert deployed.evaluations() == 0


def test_a_wrong_path_is_an_input_error(deployed: Deployed) -> None:
    server = deployed.server(1)
    transport = deployed.transports[server.url]
    misplaced = KeyServerClient(server.url + "/nothing-here", httpx.Client(transport=transport))
    with pytest.raises(InputError, match="404"):
        misplaced.keys()


def test_a_network_error_names_the_server_but_not_the_request(deployed: Deployed) -> None:
    server = deployed.server(1)
    deployed.transports[server.url].down = True
    ticket = deployed.ticket()
    _, blinded = oprf.blind(INPUTS[0], Mode.VOPRF)
    with pytest.raises(KeyServerUnavailableError, match=r"http://ks1\.test.*ConnectError") as e:
        server.evaluate(ticket, [blinded])
    assert e.value.url == "http://ks1.test"
    assert ticket.hex() not in str(e.value)
    assert blinded.hex() not in str(e.value)
    assert e.value.__cause__ is None
    assert e.value.__suppress_context__


def mock_server(handler: Callable[[httpx.Request], httpx.Response]) -> KeyServerClient:
    return KeyServerClient(
        "https://ks.example", httpx.Client(transport=httpx.MockTransport(handler))
    )


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (
            httpx.Response(500, json={"title": "Internal Server Error"}),
            KeyServerUnavailableError,
            "500",
        ),
        (
            httpx.Response(502, text="<html>bad gateway</html>"),
            KeyServerUnavailableError,
            "502 Bad Gateway",
        ),
        (httpx.Response(200, text="not json"), EncodingError, "invalid JSON"),
        (httpx.Response(200, json=[1, 2]), EncodingError, "not an object"),
        (httpx.Response(200, json={"index": 1}), EncodingError, "malformed keys"),
        (
            httpx.Response(400, json={"title": "Invalid\nrequest\x1b[31m"}),
            EncodingError,
            r"400 Invalid\?request\?\[31m",
        ),
        (httpx.Response(429, json={"title": "Slow"}), LimitError, "429 Slow"),
        (httpx.Response(301, headers={"location": "/elsewhere"}), InputError, "301"),
    ],
)
def test_answers_map_to_errors(
    response: httpx.Response, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        mock_server(lambda _request: response).keys()
    if isinstance(caught.value, LimitError):
        assert caught.value.retry_after_seconds is None


def test_a_malformed_evaluation_is_an_encoding_error() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"index": 1, "evaluated_elements": ["00" * 32], "proof": "zz"}
        )

    with pytest.raises(EncodingError, match="malformed evaluation"):
        mock_server(handler).evaluate(b"t", [bytes(32)])


def test_an_evaluation_of_the_wrong_length_is_an_encoding_error() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"index": 1, "evaluated_elements": [], "proof": "00" * 64})

    with pytest.raises(EncodingError, match="answered 0 element"):
        mock_server(handler).evaluate(b"t", [bytes(32)])


@pytest.mark.parametrize("url", ["ftp://ks.example", "ks.example", "http://", "http://[::1"])
def test_a_server_url_must_be_http(url: str) -> None:
    with httpx.Client() as http, pytest.raises(InputError, match="http"):
        KeyServerClient(url, http)


def test_credentials_in_a_url_are_not_shown() -> None:
    with httpx.Client() as http:
        client = KeyServerClient("https://user:hunter2@ks.example/base/", http)
    assert client.url == "https://ks.example/base"
    assert "hunter2" not in repr(client)


# --------------------------------------------------------------------------- federation


def test_the_federation_evaluates_like_the_dealt_key(deployed: Deployed) -> None:
    events: list[ServerEvent] = []
    servers = [deployed.server(i) for i in (1, 2, 3)]
    client = deployed.federation_client(servers, events)
    assert client.evaluate(INPUTS, deployed.ticket()) == expected(deployed, INPUTS)
    # One batch, to τ servers only.
    assert deployed.evaluations() == 2
    assert [(e.url, e.outcome, e.valid) for e in events] == [
        ("http://ks1.test", "asking", 0),
        ("http://ks1.test", "answered", 1),
        ("http://ks2.test", "asking", 1),
        ("http://ks2.test", "answered", 2),
    ]
    assert {e.needed for e in events} == {2}
    # A second evaluation needs no second check of the keys.
    client.evaluator(deployed.ticket())([INPUTS[0]])
    keys_requests = sum(
        len([r for r in t.requests if r[1] == "/v1/keys"]) for t in deployed.transports.values()
    )
    assert keys_requests == 3


def test_one_server_down_the_others_answer(deployed: Deployed) -> None:
    events: list[ServerEvent] = []
    servers = [deployed.server(i) for i in (1, 2, 3)]
    deployed.transports["http://ks2.test"].down = True
    client = deployed.federation_client(servers, events)
    assert client.evaluate(INPUTS, deployed.ticket()) == expected(deployed, INPUTS)
    assert ("http://ks2.test", "unreachable") in [(e.url, e.outcome) for e in events]


def test_a_server_down_at_the_check_is_checked_again_when_it_is_back(deployed: Deployed) -> None:
    servers = [deployed.server(i) for i in (1, 2, 3)]
    client = deployed.federation_client(servers)
    deployed.transports["http://ks1.test"].down = True
    client.check()
    deployed.transports["http://ks1.test"].down = False
    assert client.evaluate(INPUTS, deployed.ticket()) == expected(deployed, INPUTS)
    assert deployed.transports["http://ks1.test"].evaluations() == 1


def test_a_server_with_a_wrong_key_is_excluded_and_named(deployed: Deployed) -> None:
    events: list[ServerEvent] = []
    servers = [deployed.rogue(1), deployed.server(2), deployed.server(3)]
    client = deployed.federation_client(servers, events)
    assert client.evaluate(INPUTS, deployed.ticket()) == expected(deployed, INPUTS)
    invalid = [e for e in events if e.outcome == "invalid"]
    assert [e.url for e in invalid] == ["http://ks1.test"]
    assert "does not verify" in invalid[0].reason


def test_two_bad_servers_are_a_threshold_error(deployed: Deployed) -> None:
    servers = [deployed.rogue(1), deployed.server(2), deployed.server(3)]
    deployed.transports["http://ks3.test"].down = True
    client = deployed.federation_client(servers)
    with pytest.raises(ThresholdError, match="1 of the 2 key servers needed") as caught:
        client.evaluate(INPUTS, deployed.ticket())
    assert "http://ks1.test: wrong answer" in str(caught.value)
    assert "http://ks3.test: unreachable" in str(caught.value)
    assert_no_secret(caught.value)


def test_all_servers_down_is_a_threshold_error(deployed: Deployed) -> None:
    servers = [deployed.server(i) for i in (1, 2, 3)]
    for transport in deployed.transports.values():
        transport.down = True
    with pytest.raises(ThresholdError, match="0 of the 2"):
        deployed.federation_client(servers).evaluate(INPUTS, deployed.ticket())


def test_an_expired_ticket_is_a_ticket_error_from_the_federation(deployed: Deployed) -> None:
    servers = [deployed.server(i) for i in (1, 2, 3)]
    old = deployed.ticket(at_ms=deployed.clock.now_ms - 3_600_000)
    with pytest.raises(TicketError, match=r"0 of the 2 .* 3 refused the evaluation ticket") as e:
        deployed.federation_client(servers).evaluate(INPUTS, old)
    assert_no_secret(e.value)


def test_quota_exceeded_is_a_limit_error_from_the_federation(deployed: Deployed) -> None:
    servers = [deployed.server(i) for i in (1, 2, 3)]
    with pytest.raises(LimitError, match="quota is used up") as caught:
        deployed.federation_client(servers).evaluate(INPUTS, deployed.ticket(quota=2))
    assert caught.value.retry_after_seconds == 15 * 3600


def test_a_server_advertising_other_keys_stops_everything_before_evaluation(
    deployed: Deployed,
) -> None:
    other_federation, other_shares = threshold.deal(group.random_scalar(), 2, 3)
    stranger = KeyServerKey(other_shares[2], other_federation, deployed.deployment)
    servers = [deployed.server(1), deployed.server(2), deployed.server(3, stranger)]
    with pytest.raises(ThresholdError, match=r"ks3\.test advertises a key for index 3"):
        deployed.federation_client(servers).evaluate(INPUTS, deployed.ticket())
    assert deployed.evaluations() == 0


def test_a_server_advertising_another_federation_is_refused(deployed: Deployed) -> None:
    other_federation, _ = threshold.deal(group.random_scalar(), 2, 3)
    confused = KeyServerKey(deployed.shares[2], other_federation, deployed.deployment)
    servers = [deployed.server(1), deployed.server(2), deployed.server(3, confused)]
    with pytest.raises(ThresholdError, match="another federation"):
        deployed.federation_client(servers).check()


def test_a_server_of_another_deployment_is_refused(deployed: Deployed) -> None:
    servers = [deployed.server(i) for i in (1, 2, 3)]
    client = FederationClient(deployed.federation, servers, deployment_id=b"\x01" * 16)
    with pytest.raises(ThresholdError, match="another deployment"):
        client.evaluate(INPUTS, deployed.ticket())
    assert deployed.evaluations() == 0


def test_two_servers_claiming_one_index_are_refused(deployed: Deployed) -> None:
    servers = [deployed.server(1), deployed.server(2)]
    twin = KeyServerClient(
        "http://twin.test", httpx.Client(transport=deployed.transports["http://ks1.test"])
    )
    with pytest.raises(ThresholdError, match="both claim index 1"):
        deployed.federation_client([*servers, twin]).check()


def test_a_server_with_malformed_keys_is_refused(deployed: Deployed) -> None:
    broken = KeyServerClient(
        "http://broken.test",
        httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(200, json={}))),
    )
    with pytest.raises(ThresholdError, match="did not say which keys"):
        deployed.federation_client([broken, deployed.server(2)]).check()


class Impostor(httpx.BaseTransport):
    """Advertises one server's keys but forwards evaluations to another."""

    def __init__(self, keys: AppTransport, evaluations: AppTransport) -> None:
        self.keys, self.evaluations = keys, evaluations

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = self.keys if request.url.path == "/v1/keys" else self.evaluations
        return target.handle_request(request)


def test_an_answer_under_another_index_is_excluded(deployed: Deployed) -> None:
    events: list[ServerEvent] = []
    one, two, three = (deployed.server(i) for i in (1, 2, 3))
    impostor = Impostor(deployed.transports[one.url], deployed.transports[two.url])
    lying = KeyServerClient("http://impostor.test", httpx.Client(transport=impostor))
    client = deployed.federation_client([lying, two, three], events)
    assert client.evaluate(INPUTS, deployed.ticket()) == expected(deployed, INPUTS)
    assert [e.url for e in events if e.outcome == "invalid"] == ["http://impostor.test"]


def test_a_federation_needs_tau_servers_and_a_sound_pin(deployed: Deployed) -> None:
    with pytest.raises(InputError, match="needs 2 key servers; 1 configured"):
        deployed.federation_client([deployed.server(1)])
    broken = threshold.Federation(
        2, deployed.federation.public_key, deployed.federation.share_public_keys[:1]
    )
    with pytest.raises(ThresholdError):
        FederationClient(broken, [deployed.server(1), deployed.server(2)])


def test_a_federation_evaluates_1_to_64_inputs(deployed: Deployed) -> None:
    client = deployed.federation_client([deployed.server(i) for i in (1, 2, 3)])
    with pytest.raises(InputError, match="1 to 64"):
        client.evaluate([], deployed.ticket())
    with pytest.raises(InputError, match="1 to 64"):
        client.evaluate([b"x"] * 65, deployed.ticket())
    assert deployed.evaluations() == 0


def test_reprs_hold_no_secret(deployed: Deployed) -> None:
    client = deployed.federation_client([deployed.server(i) for i in (1, 2, 3)])
    assert repr(client) == (
        "FederationClient(threshold=2, servers=['http://ks1.test', 'http://ks2.test', "
        "'http://ks3.test'])"
    )
    assert repr(client.servers[0]) == "KeyServerClient('http://ks1.test')"


def real_keys(deployed: Deployed, index: int) -> dict[str, Any]:
    server = deployed.server(index)
    body: dict[str, Any] = deployed.transports[server.url].client.get("/v1/keys").json()
    return body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("index", True),
        ("suite", 1),
        (
            "federation",
            {
                "threshold": 2,
                "public_key": "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
                "shares": {},
            },
        ),
    ],
)
def test_keys_of_the_wrong_type_are_malformed(
    deployed: Deployed, field: str, value: object
) -> None:
    body = {**real_keys(deployed, 1), field: value}
    with pytest.raises(EncodingError, match="malformed keys"):
        mock_server(lambda _request: httpx.Response(200, json=body)).keys()


def test_a_server_of_another_suite_is_refused(deployed: Deployed) -> None:
    body = {**real_keys(deployed, 1), "suite": "P256-SHA256"}
    other = mock_server(lambda _request: httpx.Response(200, json=body))
    with pytest.raises(ThresholdError, match="another OPRF suite"):
        deployed.federation_client([other, deployed.server(2)]).check()


def test_a_server_that_goes_down_after_the_check_is_skipped(deployed: Deployed) -> None:
    events: list[ServerEvent] = []
    client = deployed.federation_client([deployed.server(i) for i in (1, 2, 3)], events)
    client.check()
    deployed.transports["http://ks1.test"].down = True
    assert client.evaluate(INPUTS, deployed.ticket()) == expected(deployed, INPUTS)
    assert [(e.url, e.outcome) for e in events][:2] == [
        ("http://ks1.test", "asking"),
        ("http://ks1.test", "unreachable"),
    ]


def test_a_server_that_comes_back_with_other_keys_stops_the_evaluation(
    deployed: Deployed,
) -> None:
    other_federation, other_shares = threshold.deal(group.random_scalar(), 2, 3)
    stranger = deployed.server(
        1, KeyServerKey(other_shares[0], other_federation, deployed.deployment)
    )
    stranger_app = deployed.transports[stranger.url].client
    client = deployed.federation_client([deployed.server(i) for i in (1, 2, 3)])
    ks1 = deployed.transports["http://ks1.test"]
    ks1.down = True
    client.check()
    # The address now answers with another deployment's key server.
    ks1.down = False
    ks1.client = stranger_app
    with pytest.raises(ThresholdError, match=r"ks1\.test advertises a key"):
        client.evaluate(INPUTS, deployed.ticket())
    assert deployed.evaluations() == 0
