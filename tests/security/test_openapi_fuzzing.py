"""schemathesis against the escrow's OpenAPI schema, stateful: ≥ 10,000 requests, 0 failures.

(10,000 at full size, in `make test-slow`; 2,500 in `make test`: tests/sizes.py.)

The app (`notalone.web.app.create_app`, SQLite in tmp_path, the real key-server apps
behind the relay) is called in-process through schemathesis' ASGI transport. Its schema,
with the OpenAPI links of tests/security/openapi_harness.py added, drives schemathesis'
state machine (Hypothesis): scenarios chain organization → invites → register → login →
tickets, entries, records → list → withdraw, new versions, the log, the relay and the
inbox, with positive and (one step in ten, schemathesis' mix) negative data.

Credentials the schema does not describe (it declares no security scheme; see the report
in the harness) are added here: the operator token on operator routes, a counselor's
token on the inbox, and on survivor routes the session of the scenario's last successful
login, else that of an account registered before the run. One authenticated request in
`UNAUTHENTICATED_EVERY` goes without its credential or with a wrong one, so 401s are
fuzzed too. Three registrations in four get a valid username and a bundle made for it,
and three record writes in four a versioned box (random bytes never form either), so
that logins and all that follows them, record versions and the log, are reached.

Every response is checked for: no 5xx (`not_a_server_error`), the documented status,
content type (problems are application/problem+json) and body schema. A failure is
recorded, not raised, so one run lists every distinct failure (check, operation,
status) with a reproducing curl command; the test then asserts there were none. An
exception that escapes the app after its 500 is noted with the line it came from. The
requests are counted per operation where they are sent, and the count must equal the
responses the app started (counted by a wrapper around it), so the figure is what the
server answered; /metrics' own count is printed beside it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Flaky
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.stateful.state_machine import APIStateMachine
from schemathesis.python import asgi
from schemathesis.specs.openapi import unregister_string_format
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security import openapi_harness as harness
from tests.security.openapi_harness import Auth, Escrow, Tally
from tests.sizes import size
from tests.web.conftest import OPERATOR_TOKEN

# Quick in `make test`, at full size in `make test-slow` (tests/sizes.py).
pytestmark = pytest.mark.slow

#: At least this many fuzzed requests must reach the app.
MIN_REQUESTS = size("NOTALONE_OPENAPI_REQUESTS", full=10_000, quick=2_500)
#: Steps of a scenario: longer scenarios reach deeper states and cost Hypothesis less
#: per request.
STEPS = 50
UNAUTHENTICATED_EVERY = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def escrow(tmp_path: Path) -> Iterator[Escrow]:
    made = harness.build_escrow(tmp_path)
    try:
        yield made
    finally:
        # The ASGI transport keeps the app's lifespan running for the process; end it.
        asgi.shutdown_lifespans()
        made.database.dispose()


def _credentials(app: Any) -> Auth:
    """An organization with an enrolled admin, a counselor and a logged-in survivor of
    that organization, made before the run."""
    client = TestClient(app, base_url="http://testserver")
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    made = client.post("/v1/organizations", json={"name": "Fuzzing org"}, headers=operator)
    assert made.status_code == 201, made.text
    invites = client.post(
        f"/v1/organizations/{made.json()['organization_id']}/invites",
        json={"count": 1},
        headers=operator,
    )
    assert invites.status_code == 201, invites.text
    body = harness.register_body(invites.json()["invites"][0]["code"])
    assert client.post("/v1/accounts", json=body).status_code == 201
    counselor = client.post(
        "/v1/counselors",
        json={"id": "c-fuzz", "display_name": "Fuzz", "public_key": "ab" * 32},
        headers=operator,
    )
    assert counselor.status_code == 201, counselor.text
    enrollment = client.post(
        f"/v1/organizations/{made.json()['organization_id']}/admin-enrollments",
        json={"display_name": "Fuzz admin"},
        headers=operator,
    )
    assert enrollment.status_code == 201, enrollment.text
    admin = client.post(
        "/v1/organization/enroll",
        json={"code": enrollment.json()["code"], "intake_public_key": "cd" * 32},
    )
    assert admin.status_code == 201, admin.text
    auth = Auth(
        counselor.json()["token"], admin.json()["token"], "", body["username"], body["auth_key"]
    )
    auth.survivor = _login(client, auth)
    return auth


def _login(client: TestClient, auth: Auth) -> str:
    response = client.post(
        "/v1/login/finish", json={"username": auth.username, "auth_key": auth.auth_key}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _machine(
    schema: Any, escrow: Escrow, auth: Auth, tally: Tally, operation_ids: dict[str, str]
) -> type[APIStateMachine]:
    base: type[APIStateMachine] = schema.as_state_machine()
    session = asgi.get_client(schema.app)
    # No proxy settings to read from the environment for every request (about 1 ms each).
    session.trust_env = False
    relogin = TestClient(escrow.app, base_url="http://testserver")

    class Fuzzing(base):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            auth.scenario = None

        def before_call(self, case: Any) -> None:
            operation = operation_ids[case.operation.label]
            if operation in (harness.REGISTER, harness.CREATE_RECORD, harness.ADD_VERSION):
                tally.writes += 1
                harness.realistic(operation, case.body, tally.writes)
            if case.headers and "Authorization" in case.headers:
                return  # a link carried a session or token from an earlier response
            token = auth.for_operation(
                operation, "401" in case.operation.definition.raw["responses"]
            )
            if token is None:
                return
            tally.authenticated += 1
            if tally.authenticated % UNAUTHENTICATED_EVERY == 0:
                tally.unauthenticated += 1
                if tally.unauthenticated % 2:
                    return
                token = "wrong-" + token[::-1]
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"session": session}

        def call(self, case: Any, **kwargs: Any) -> Any:
            tally.sent[case.operation.label] += 1
            response = super().call(case, **kwargs)
            tally.statuses[response.status_code] += 1
            tally.by_operation[(case.operation.label, response.status_code)] += 1
            return response

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            operation = operation_ids[case.operation.label]
            used = (case.headers or {}).get("Authorization", "")
            if operation in (harness.LOGIN_FINISH, harness.LOGIN_RECOVERY):
                if response.status_code == 200 and response.json().get("token"):
                    auth.scenario = response.json()["token"]
                return
            if used != f"Bearer {auth.survivor}":
                return
            # The fuzzer ended the prepared survivor's session, or changed its passphrase
            # (which keeps this session): log in again so later scenarios get past 401.
            if operation == harness.CHANGE_PASSPHRASE and response.status_code == 200:
                auth.auth_key = case.body["auth_key"]
            if operation == harness.LOGOUT and response.status_code == 204:
                tally.relogins += 1
                auth.survivor = _login(relogin, auth)

        def validate_response(self, response: Any, case: Any, *_: Any, **kwargs: Any) -> None:
            try:
                case.validate_response(
                    response, checks=CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder
                )
            except FailureGroup as group:
                for failure in group.exceptions:
                    _record(tally, case, response, failure, str(group))
            except Failure as failure:
                _record(tally, case, response, failure, str(failure))

    return Fuzzing


def _record(tally: Tally, case: Any, response: Any, failure: Failure, report: str) -> None:
    key = (failure.title, case.operation.label, str(response.status_code))
    tally.failures.setdefault(key, report)


def _metered(app: Any) -> int:
    """Requests the app answered, by its own counter."""
    text: str = app.state.metrics.render()
    return sum(
        int(m.group(1))
        for m in re.finditer(r"^notalone_http_requests_total\{.*\} (\d+)$", text, re.M)
    )


def run_fuzzer(escrow: Escrow, requests: int) -> Tally:
    """Run the state machine, scenarios of up to STEPS steps, until it has sent at least
    `requests` requests."""
    document, formats = harness.linked_schema(escrow.app)
    for name, strategy in formats.items():
        schemathesis.openapi.format(name, strategy)
    try:
        return _run(escrow, document, requests)
    finally:
        for name in formats:
            unregister_string_format(name)


def _run(escrow: Escrow, document: dict[str, Any], requests: int) -> Tally:
    schema = schemathesis.openapi.from_dict(document)
    served = harness.Served(escrow.app)
    schema.app = served
    operation_ids = {
        f"{method.upper()} {path}": operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    auth = _credentials(escrow.app)
    tally = Tally()
    metered = _metered(escrow.app)
    machine = _machine(schema, escrow, auth, tally, operation_ids)
    left = requests * 11 // (10 * STEPS) + 1
    while tally.total < requests:
        try:
            machine.run(settings=_settings(left))
        except Flaky:
            # The app's state differs from the one Hypothesis recorded for this draw (a
            # server is not a pure function of the draw): start again, as schemathesis'
            # own engine does.
            tally.restarts += 1
        # Until enough requests were sent, with the scenarios still needed (a scenario
        # runs STEPS steps at most, fewer when Hypothesis ends it early).
        left = (requests - tally.total) * 11 // (10 * STEPS) + 1
    # The re-logins go around the wrapper, straight to the app.
    tally.served = served.responses
    tally.metered = _metered(escrow.app) - metered - tally.relogins
    tally.raised = served.raised
    tally.busy_s = served.busy_s
    return tally


def _settings(scenarios: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=scenarios,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        # Failures are collected, never raised: nothing to shrink.
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def _print(tally: Tally, elapsed: float, cpu: float) -> None:
    print(
        f"\n[openapi fuzzing] {tally.total:,} requests in {elapsed:.1f} s ({cpu:.1f} s of "
        f"CPU); the app started "
        f"{tally.served:,} responses in {tally.busy_s:.1f} s, its /metrics counted "
        f"{tally.metered:,}"
    )
    for label, count in sorted(tally.sent.items(), key=lambda item: -item[1]):
        answers = ", ".join(
            f"{status}: {n}"
            for (op, status), n in sorted(tally.by_operation.items())
            if op == label
        )
        print(f"[openapi fuzzing]   {count:6,}  {label}  ({answers})")
    statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(tally.statuses.items()))
    print(f"[openapi fuzzing]   statuses {statuses}")
    print(
        f"[openapi fuzzing]   {tally.unauthenticated:,} sent without or with a wrong credential; "
        f"{tally.relogins} re-logins; {tally.restarts} restarts; "
        f"{len(tally.failures)} distinct failures"
    )
    for raised, count in tally.raised.items():
        print(f"[openapi fuzzing] RAISED {count} times in the app: {raised}")
    for (title, label, status), report in tally.failures.items():
        print(f"[openapi fuzzing] FAILURE {title} — {label} → {status}\n{report}")


def _verify(tally: Tally, paths: set[str]) -> None:
    """What a run must show: every request answered and counted, enough of them, every
    operation reached, 401s among the answers, and no failure."""
    assert tally.served == tally.total, "the app answered another number of requests"
    assert tally.total >= MIN_REQUESTS, f"only {tally.total} requests were sent"
    reached = {label.split(" ", 1)[1] for label in tally.sent}
    assert reached == paths, f"never reached: {sorted(paths - reached)}"
    assert tally.statuses[401] > 0, "no request went without a valid credential"
    assert tally.raised == {}, f"exceptions escaped the app: {dict(tally.raised)}"
    assert tally.failures == {}, f"{len(tally.failures)} distinct failures, printed above"


def test_stateful_fuzzing_finds_no_failure(escrow: Escrow) -> None:
    started, cpu = time.monotonic(), time.process_time()
    tally = run_fuzzer(escrow, MIN_REQUESTS)
    _print(tally, time.monotonic() - started, time.process_time() - cpu)
    _verify(tally, set(escrow.app.openapi()["paths"]))


def test_the_count_is_of_requests_the_app_answered(escrow: Escrow) -> None:
    """The counting cannot pass vacuously: a short run counts exactly what the app
    served, and the check above refuses it for being short."""
    tally = run_fuzzer(escrow, 20)
    assert 0 < tally.total == tally.served < MIN_REQUESTS
    with pytest.raises(AssertionError, match=f"only {tally.total} requests were sent"):
        _verify(tally, set(escrow.app.openapi()["paths"]))
