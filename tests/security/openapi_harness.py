"""What the schemathesis run of tests/security/test_openapi_fuzzing.py needs around it.

- `build_escrow(tmp_path)`: the escrow app on a migrated SQLite file, its key servers the
  real key-server apps reached in-process (so the relay answers, not 502), cheap Argon2id,
  no response floor on POST /v1/entries (it only pads time), and login rate limits raised
  so the fuzzer's own wrong guesses do not lock out the logins its links then make.
- `linked_schema(app)`: the app's OpenAPI document with OpenAPI links added, so the state
  machine follows register → login → entries, records, tickets → list → withdraw and
  reaches every operation. schemathesis infers a few links by itself (organization →
  invites, counselor → entries, entry → withdraw, record list → version and record);
  `LINKS` are the rest, and every operation no link leads to is reached from a new
  organization. They belong in the app's schema; until they are there, the test adds
  them here. The hex fields get formats of our own, for speed (see `_hex_formats`).
- `Served`: the app as a server runs it, counting the responses it starts.
- `Auth`: which credential each operation needs and who holds it now.
- `Tally`: requests sent per operation, and every distinct check failure.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from hypothesis import strategies as st

from notalone.crypto import aead
from notalone.storage.engine import Database
from notalone.web.app import build_services, create_app
from notalone.web.settings import EscrowSettings
from tests.services.conftest import Clock, make_bundle
from tests.web.conftest import OPERATOR_TOKEN, make_settings
from tests.web.test_keyserver_relay import KeyServerNetwork

# FastAPI's operationIds, named once.
CREATE_ORGANIZATION = "create_organization_v1_organizations_post"
CREATE_INVITES = "create_invites_v1_organizations__organization_id__invites_post"
REGISTER = "register_v1_accounts_post"
LOGIN_START = "login_start_v1_login_start_post"
LOGIN_FINISH = "login_finish_v1_login_finish_post"
LOGIN_RECOVERY = "login_recovery_v1_login_recovery_post"
LOGOUT = "logout_v1_logout_post"
CHANGE_PASSPHRASE = "change_passphrase_v1_account_passphrase_put"
GET_ACCOUNT = "get_account_v1_account_get"
DEPLOYMENT = "deployment_v1_deployment_get"
TICKET = "ticket_v1_tickets_post"
CREATE_ENTRY = "create_entry_v1_entries_post"
LIST_ENTRIES = "list_entries_v1_entries_get"
WITHDRAW_ENTRY = "withdraw_entry_v1_entries__entry_id__delete"
RELAY_KEYS = "keys_v1_keyservers__position__keys_get"
RELAY_EVALUATE = "evaluate_v1_keyservers__position__evaluate_post"
LIST_COUNSELORS = "list_counselors_v1_counselors_get"
REGISTER_COUNSELOR = "register_counselor_v1_counselors_post"
INBOX = "inbox_v1_counselor_inbox_get"
CREATE_RECORD = "create_record_v1_records_post"
LIST_RECORDS = "list_records_v1_records_get"
ADD_VERSION = "add_version_v1_records__record_id__versions_post"
GET_RECORD = "get_record_v1_records__record_id__get"
LOG_HEAD = "log_head_v1_log_head_get"
LOG_CONSISTENCY = "log_consistency_v1_log_consistency_get"
HEALTHZ = "healthz_healthz_get"
METRICS = "prometheus_metrics_get"
CREATE_ADMIN_ENROLLMENT = (
    "create_admin_enrollment_v1_organizations__organization_id__admin_enrollments_post"
)
CREATE_COUNSELOR_ENROLLMENT = "create_enrollment_v1_counselor_enrollments_post"
SURVIVOR_COUNSELORS = "survivor_counselors_v1_account_counselors_get"
CASES = "cases_v1_counselor_cases_get"
ADD_NOTE = "add_note_v1_counselor_cases__match_id__notes_post"
NOTES = "notes_v1_counselor_cases__match_id__notes_get"
SEND_REPORT = "send_report_v1_counselor_cases__match_id__reports_post"
SET_STATE = "set_state_v1_counselor_cases__match_id__state_put"
ORGANIZATION = "organization_v1_organization_get"
POOL = "pool_v1_organization_counselors_get"
ADD_TO_POOL = "add_to_pool_v1_organization_counselors__counselor_id__put"
REMOVE_FROM_POOL = "remove_from_pool_v1_organization_counselors__counselor_id__delete"
ADMIN_CREATE_INVITES = "create_invites_v1_organization_invites_post"
ADMIN_LIST_INVITES = "list_invites_v1_organization_invites_get"
ADMIN_REVOKE_INVITE = "revoke_invite_v1_organization_invites__invite_id__delete"
MEMBER_CODE = "member_code_v1_organization_member_codes_post"
REPORTS = "reports_v1_organization_reports_get"
TOTALS = "totals_v1_organization_totals_get"

OPERATOR_OPERATIONS = frozenset(
    {
        CREATE_ORGANIZATION,
        CREATE_INVITES,
        REGISTER_COUNSELOR,
        CREATE_ADMIN_ENROLLMENT,
        CREATE_COUNSELOR_ENROLLMENT,
    }
)
COUNSELOR_OPERATIONS = frozenset({INBOX, CASES, ADD_NOTE, NOTES, SEND_REPORT, SET_STATE})
#: The routes of an organization's admin (/v1/organization/…, singular).
ADMIN_OPERATIONS = frozenset(
    {
        ORGANIZATION,
        POOL,
        ADD_TO_POOL,
        REMOVE_FROM_POOL,
        ADMIN_CREATE_INVITES,
        ADMIN_LIST_INVITES,
        ADMIN_REVOKE_INVITE,
        MEMBER_CODE,
        REPORTS,
        TOTALS,
    }
)
SURVIVOR_OPERATIONS = frozenset(
    {
        LOGOUT,
        CHANGE_PASSPHRASE,
        GET_ACCOUNT,
        TICKET,
        CREATE_ENTRY,
        LIST_ENTRIES,
        WITHDRAW_ENTRY,
        CREATE_RECORD,
        LIST_RECORDS,
        ADD_VERSION,
        GET_RECORD,
        SURVIVOR_COUNSELORS,
    }
)
#: A session from a login, carried to what a logged-in survivor does next.
_SESSION = {"header.Authorization": "Bearer {$response.body#/token}"}
_SESSION_TARGETS = sorted(SURVIVOR_OPERATIONS)

#: (source operationId, status, link name, target operationId, parameters, requestBody)
LINKS: list[tuple[str, str, str, str, dict[str, Any], dict[str, Any] | None]] = [
    (CREATE_ORGANIZATION, "201", "Health", HEALTHZ, {}, None),
    (CREATE_ORGANIZATION, "201", "Metrics", METRICS, {}, None),
    (
        CREATE_INVITES,
        "201",
        "Register",
        REGISTER,
        {},
        {"invite_code": "$response.body#/invites/0/code"},
    ),
    (REGISTER, "201", "LoginStart", LOGIN_START, {}, {"username": "$response.body#/username"}),
    (
        REGISTER,
        "201",
        "LoginFinish",
        LOGIN_FINISH,
        {},
        {"username": "$response.body#/username", "auth_key": "$request.body#/auth_key"},
    ),
    (
        REGISTER,
        "201",
        "LoginRecovery",
        LOGIN_RECOVERY,
        {},
        {
            "username": "$response.body#/username",
            "recovery_auth_key": "$request.body#/recovery_auth_key",
        },
    ),
    (REGISTER, "201", "Deployment", DEPLOYMENT, {}, None),
    (REGISTER, "201", "Counselors", LIST_COUNSELORS, {}, None),
    *[(LOGIN_FINISH, "200", f"As{target}", target, _SESSION, None) for target in _SESSION_TARGETS],
    *[
        (LOGIN_RECOVERY, "200", f"As{target}", target, _SESSION, None)
        for target in _SESSION_TARGETS
    ],
    (TICKET, "200", "RelayKeys", RELAY_KEYS, {"path.position": 0}, None),
    (TICKET, "200", "RelayEvaluate", RELAY_EVALUATE, {"path.position": 1}, None),
    (CREATE_ENTRY, "201", "ListEntries", LIST_ENTRIES, {}, None),
    # Routes that lead nowhere, reached from a registration or a login alone, were seldom
    # chosen (GET /v1/account 1 to 7 times in 4,000 requests, /v1/logout sometimes never
    # in 2,500): reached from busier states too. Not GET /v1/account → logout: with that
    # link Hypothesis spent half of a run on GET /v1/account.
    (CREATE_ENTRY, "201", "Account", GET_ACCOUNT, {}, None),
    (CREATE_ENTRY, "201", "Counselors", SURVIVOR_COUNSELORS, {}, None),
    (LIST_ENTRIES, "200", "Counselors", SURVIVOR_COUNSELORS, {}, None),
    (CREATE_RECORD, "201", "Account", GET_ACCOUNT, {}, None),
    (LIST_ENTRIES, "200", "ChangePassphrase", CHANGE_PASSPHRASE, {}, None),
    (CREATE_RECORD, "201", "ChangePassphrase", CHANGE_PASSPHRASE, {}, None),
    (LIST_ENTRIES, "200", "Logout", LOGOUT, {}, None),
    (CREATE_ORGANIZATION, "201", "Deployment", DEPLOYMENT, {}, None),
    (CREATE_ORGANIZATION, "201", "Counselors", LIST_COUNSELORS, {}, None),
    (CREATE_ORGANIZATION, "201", "LoginStart", LOGIN_START, {}, None),
    # An admin's invites: listed, then revoked by id; the pool, then a counselor in it.
    (ADMIN_CREATE_INVITES, "201", "List", ADMIN_LIST_INVITES, {}, None),
    (
        ADMIN_LIST_INVITES,
        "200",
        "Revoke",
        ADMIN_REVOKE_INVITE,
        {"path.invite_id": "$response.body#/invites/0/id"},
        None,
    ),
    (
        POOL,
        "200",
        "Add",
        ADD_TO_POOL,
        {"path.counselor_id": "$response.body#/counselors/0/id"},
        None,
    ),
    (
        POOL,
        "200",
        "Remove",
        REMOVE_FROM_POOL,
        {"path.counselor_id": "$response.body#/counselors/0/id"},
        None,
    ),
    (CASES, "200", "Notes", NOTES, {"path.match_id": "$response.body#/cases/0/match_id"}, None),
    (
        LIST_ENTRIES,
        "200",
        "Withdraw",
        WITHDRAW_ENTRY,
        {"path.entry_id": "$response.body#/entries/0/entry_id"},
        None,
    ),
    (
        CREATE_RECORD,
        "201",
        "GetRecord",
        GET_RECORD,
        {"path.record_id": "$request.body#/record_id"},
        None,
    ),
    (
        CREATE_RECORD,
        "201",
        "AddVersion",
        ADD_VERSION,
        {"path.record_id": "$request.body#/record_id"},
        {"version": 2},
    ),
    (CREATE_RECORD, "201", "LogHead", LOG_HEAD, {}, None),
    (LOG_HEAD, "200", "Consistency", LOG_CONSISTENCY, {"query.old": 1}, None),
    (CREATE_ORGANIZATION, "201", "Consistency", LOG_CONSISTENCY, {"query.old": 0}, None),
    (
        REGISTER_COUNSELOR,
        "201",
        "Inbox",
        INBOX,
        {"header.Authorization": "Bearer {$response.body#/token}"},
        None,
    ),
]


def linked_schema(app: FastAPI) -> tuple[dict[str, Any], dict[str, st.SearchStrategy[str]]]:
    """The app's OpenAPI document with `LINKS` added to the responses they start from, and
    its hex fields given formats (see `_hex_formats`) with the strategies to register."""
    document = copy.deepcopy(app.openapi())
    formats = _hex_formats(document)
    by_id = {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
    }
    for source, status, name, target, parameters, body in LINKS:
        link: dict[str, Any] = {"operationId": target}
        if parameters:
            link["parameters"] = parameters
        if body is not None:
            link["requestBody"] = body
        assert target in by_id, target
        by_id[source]["responses"][status].setdefault("links", {})[name] = link
    # Every other operation (a route added since LINKS was written, too) is reached from
    # a new organization, so that no operation goes unfuzzed; `Auth` gives it a credential.
    targets = {target for _, _, _, target, _, _ in LINKS}
    hub = by_id[CREATE_ORGANIZATION]["responses"]["201"].setdefault("links", {})
    for operation_id in sorted(set(by_id) - targets - {CREATE_ORGANIZATION}):
        hub.setdefault(f"Then{operation_id}", {"operationId": operation_id})
    return document, formats


# --------------------------------------------------------------------------- hex fields

#: The app's hex patterns: exactly n characters, or pairs (whole bytes), or any count.
_EXACT = re.compile(r"^\^\[0-9a-f\]\{(\d+)\}\$$")
_PAIRS = "^(?:[0-9a-f]{2})+$"
_ANY = "^[0-9a-f]+$"
#: Long enough for every field's bounds to be met, short enough to keep bodies small.
LONGEST_DRAWN_BYTES = 512
#: Past the app's body limit in the test settings (16 KiB), for the 413 path.
OVERSIZED_CHARS = 20_000
#: One hex value in this many is malformed, and one malformed value in this many is
#: longer than the body limit.
MALFORMED_ONE_IN = 8
OVERSIZED_ONE_IN = 8


def _hex_formats(document: dict[str, Any]) -> dict[str, st.SearchStrategy[str]]:
    """Replace each hex `pattern` (and its length bounds) by a format of our own.

    Why: schemathesis draws pattern-bound strings character by character through
    Hypothesis' regex strategy (about 7 ms per field here, most of the run). The
    format's strategy draws bytes and hex-encodes them; one value in eight is malformed
    on purpose (odd length, upper case, a non-hex digit, empty, one byte too many) and
    one in 64 is longer than the body limit, so the hex decoders behind the patterns
    are fuzzed in positive steps too. Only generation changes: the app validates with
    its own models, and responses are checked against its unchanged response schemas.
    """
    formats: dict[str, st.SearchStrategy[str]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            pattern = node.get("pattern")
            exact = _EXACT.match(pattern) if isinstance(pattern, str) else None
            if exact is not None or pattern in (_PAIRS, _ANY):
                low = int(exact.group(1)) if exact else int(node.get("minLength", 1))
                high = int(exact.group(1)) if exact else int(node.get("maxLength", 2048))
                name = f"notalone-hex-{low}-{high}-{'any' if pattern == _ANY else 'even'}"
                formats[name] = _hex(low, high, pattern == _ANY)
                node["format"] = name
                for key in ("pattern", "minLength", "maxLength"):
                    node.pop(key, None)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    return formats


def _hex(low: int, high: int, odd_allowed: bool) -> st.SearchStrategy[str]:
    most = min(high // 2, max(low // 2, LONGEST_DRAWN_BYTES))
    valid = st.binary(min_size=(low + 1) // 2, max_size=most).map(bytes.hex)
    if odd_allowed:
        valid = valid | valid.filter(bool).map(lambda h: h[:-1] or h)
    malformed = st.one_of(
        valid.map(lambda h: h + "a"),
        valid.map(str.upper),
        valid.map(lambda h: "g" + h[1:]),
        st.just(""),
        st.just("ab" * (high // 2 + 1)),
    )

    def pick(drawn: tuple[int, str, str]) -> str:
        dice, good, bad = drawn
        if dice == MALFORMED_ONE_IN * OVERSIZED_ONE_IN - 1:
            return "0" * OVERSIZED_CHARS
        return bad if dice % MALFORMED_ONE_IN == MALFORMED_ONE_IN - 1 else good

    # A die rather than one_of: Hypothesis favours the first branch of a one_of (and the
    # ends of an integer range far less), which made most values malformed.
    dice = st.integers(0, MALFORMED_ONE_IN * OVERSIZED_ONE_IN - 1)
    return st.tuples(dice, valid, malformed).map(pick)


# --------------------------------------------------------------------------- the app


@dataclass
class Escrow:
    """The app under test and what the test needs beside it."""

    app: FastAPI
    settings: EscrowSettings
    database: Database


def build_escrow(tmp_path: Path) -> Escrow:
    url = f"sqlite:///{tmp_path / 'escrow.db'}"
    with Database(url) as migrating:
        migrating.upgrade()
    clock = Clock()
    settings = make_settings(
        url,
        clock,
        entry_response_floor_ms=0,
        max_failures_per_username=1_000_000,
        max_failures_per_address=1_000_000,
        ticket_quota=65_535,
    )
    database = Database(url)
    app = create_app(
        settings,
        build_services(settings, database),
        keyserver_transport=KeyServerNetwork(clock),
    )
    return Escrow(app, settings, database)


class Served:
    """The app as uvicorn runs it, counting the responses it starts (the server's side of
    the request count). An exception that escapes after the 500 was sent is noted (type,
    message, innermost frame of our code), not raised into the caller: Starlette
    re-raises it for the server to log, and an in-process transport would raise it into
    the fuzzer instead of handing over the 500."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.responses = 0
        self.raised: Counter[str] = Counter()
        #: Seconds spent inside the app, the rest of a run being schemathesis' own work.
        self.busy_s = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.responses += 1
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, counting)
        except Exception as error:  # noqa: BLE001 - every escape is a finding, noted.
            self.raised[_describe(error)] += 1
        finally:
            self.busy_s += time.perf_counter() - started


def _describe(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "/notalone/" in f.filename]
    where = f" at {frames[-1].filename.split('/src/')[-1]}:{frames[-1].lineno}" if frames else ""
    # One entry per fault, not per offset: "at position 3" and "at position 5" are one.
    message = re.sub(r"\d+", "N", str(error))
    return f"{type(error).__name__}: {message}{where}"


# --------------------------------------------------------------------------- credentials


def register_body(code: str) -> dict[str, str]:
    """A registration like the client's: a valid bundle for a fresh name."""
    letters = "".join(secrets.choice("abcdefgh") for _ in range(6))
    username = f"calm-{letters}-{secrets.randbelow(10**4):04d}"
    return {
        "username": username,
        "invite_code": code,
        "key_bundle": make_bundle(username).to_bytes().hex(),
        "auth_key": secrets.token_hex(32),
        "recovery_auth_key": secrets.token_hex(32),
    }


#: Of every four registrations and record writes the fuzzer sends, three are made
#: realistic (see `realistic`).
REALISTIC_OF_FOUR = 3
#: A record box: the AEAD version byte, then a nonce, ciphertext and tag's worth.
RECORD_BOX_BYTES = 96


def realistic(operation_id: str, body: Any, number: int) -> None:
    """Make a registration or a record write well-formed where random data never is, three
    times in four: a valid username with a bundle made for it (a bundle is an
    AccountKeyBundle naming its username), or a ciphertext with the AEAD version byte.

    Why: without this no registration succeeds and no record is stored, so the links
    that start from them (login, then everything a survivor does; versions, the log)
    are never followed. The fuzzer's other fields are kept; a body that is not an object
    with those fields as strings (negative data) is left alone."""
    if number % 4 >= REALISTIC_OF_FOUR or not isinstance(body, dict):
        return
    if operation_id == REGISTER:
        if all(isinstance(body.get(key), str) for key in ("username", "key_bundle")):
            made = register_body("")
            body["username"] = made["username"]
            body["key_bundle"] = made["key_bundle"]
    elif operation_id in (CREATE_RECORD, ADD_VERSION) and isinstance(body.get("ciphertext"), str):
        body["ciphertext"] = (aead.VERSION + secrets.token_bytes(RECORD_BOX_BYTES - 1)).hex()


@dataclass
class Auth:
    """Who the fuzzer acts as. `survivor` is a session of an account made before the run;
    a login the fuzzer makes replaces it for the rest of that scenario (`scenario`).
    `admin` is the token of an admin of the survivor's organization."""

    counselor: str
    admin: str
    survivor: str
    username: str
    auth_key: str
    scenario: str | None = None

    turn: int = 0

    def for_operation(self, operation_id: str, documents_401: bool) -> str | None:
        """The credential for this operation; None for a public one. An operation this
        harness does not know (a route added since) that documents a 401 gets each kind
        of credential in turn."""
        survivor = self.scenario or self.survivor
        if operation_id in OPERATOR_OPERATIONS:
            return OPERATOR_TOKEN
        if operation_id in COUNSELOR_OPERATIONS:
            return self.counselor
        if operation_id in ADMIN_OPERATIONS:
            return self.admin
        if operation_id in SURVIVOR_OPERATIONS:
            return survivor
        if not documents_401:
            return None
        self.turn += 1
        return (survivor, OPERATOR_TOKEN, self.counselor, self.admin)[self.turn % 4]


# --------------------------------------------------------------------------- counting


@dataclass
class Tally:
    """Requests sent, per operation and status; distinct failures, each with one example."""

    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: Requests that needed a credential, and those sent without one or with a wrong one.
    authenticated: int = 0
    unauthenticated: int = 0
    #: Logins made outside the fuzzer, after it logged the prepared survivor out.
    relogins: int = 0
    #: Registrations and record writes sent (see `realistic`).
    writes: int = 0
    #: Runs of the state machine that Hypothesis ended as flaky (see run_fuzzer).
    restarts: int = 0
    #: Responses the app started during the run, less the re-logins.
    served: int = 0
    #: Of them, those the app's own /metrics counter saw.
    metered: int = 0
    #: Seconds the app spent answering.
    busy_s: float = 0.0
    #: Exceptions that escaped the app (each after its 500), by description.
    raised: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.sent.values())
