"""The deployment, ticket and entry routes end to end through HTTP: matching, the escrow
not being an oracle, withdrawal, forged and foreign slots, idempotency, authorization and
the settings that configure them. On SQLite, and the match path on PostgreSQL too."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from notalone.crypto import group
from notalone.errors import DecryptionError, EncodingError, InputError, VersionError
from notalone.keyserver.keyfile import deal_keys, write_dealt_keys
from notalone.protocol import slots as slot_recipes
from notalone.protocol.tickets import verify_ticket
from notalone.storage.slots import SlotRepository
from notalone.web.app import build_services, create_app
from notalone.web.security import SECURITY_HEADERS
from notalone.web.settings import EscrowSettings, load_settings
from tests.services.conftest import SERVER_SECRET
from tests.web.conftest import (
    DEPLOYMENT_ID,
    FEDERATION,
    KEY_SERVERS,
    LOG_KEY,
    OPERATOR_TOKEN,
    TICKET_KEY,
    TICKET_QUOTA,
    TICKET_SECRET,
    VOUCHING_KEY,
    Counselor,
    Env,
    Survivor,
    entry_body,
)

PROBLEM = "application/problem+json"
BOTH = pytest.mark.parametrize("web_backend", ["sqlite", "postgresql"], indirect=True)
#: Headers that differ between any two responses whatever they answer.
VARYING = {"date", "x-request-id"}


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail"}
    return dict(body)


def _secure(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


def _inbox(env: Env, counselor: Counselor) -> list[dict[str, object]]:
    response = env.client.get("/v1/counselor/inbox", headers=counselor.headers())
    assert response.status_code == 200, response.text
    _secure(response)
    return list(response.json()["items"])


def _entries(env: Env, survivor: Survivor) -> list[dict[str, object]]:
    response = env.client.get("/v1/entries", headers=survivor.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


def _y() -> bytes:
    # A random OPRF output: the OPRF itself is exercised by the key-server tests.
    return secrets.token_bytes(64)


# -- the match path ----------------------------------------------------------------------


@BOTH
def test_two_survivors_match_and_each_counselor_opens_only_theirs(env: Env) -> None:
    ana, ben = env.counselor("c-ana"), env.counselor("c-ben")
    first, second = env.survivor(), env.survivor()
    deployment = env.client.get("/v1/deployment").json()
    ticket_key = bytes.fromhex(deployment["ticket_public_key"])
    for survivor in (first, second):
        response = env.client.post("/v1/tickets", headers=survivor.headers)
        assert response.status_code == 200, response.text
        _secure(response)
        wire = bytes.fromhex(response.json()["ticket"])
        ticket = verify_ticket(ticket_key, DEPLOYMENT_ID, wire, env.clock())
        assert ticket.quota == TICKET_QUOTA
        assert ticket.expires_ms == response.json()["expires_ms"]
    y = _y()
    made = [
        env.slot(y, first.account_id, ana, contact="signal:first"),
        env.slot(y, second.account_id, ben, contact="signal:second"),
    ]
    for survivor, slot in zip((first, second), made, strict=True):
        response = env.post_entry(survivor, [slot])
        assert response.status_code == 201, response.text
        _secure(response)

    matches = SlotRepository(env.database).matches_for_tag(made[0].tag)
    assert len(matches) == 1
    assert [slot_id for slot_id, _ in matches[0].members] == [s.slot_id for s in made]
    for counselor, other, slot, contact in (
        (ana, ben, made[0], "signal:first"),
        (ben, ana, made[1], "signal:second"),
    ):
        items = _inbox(env, counselor)
        assert len(items) == 1
        item = items[0]
        assert item["slot_id"] == slot.slot_id.hex()
        assert item["other_counselors"] == [other.id]
        inner = bytes.fromhex(str(item["inner"]))
        package = slot_recipes.open_package(
            counselor.private_key, DEPLOYMENT_ID, slot.slot_id, inner
        )
        assert package.contact == contact
        assert package.identifiers[0][1] == "Perp@Example.org"
        with pytest.raises(DecryptionError):
            slot_recipes.open_package(other.private_key, DEPLOYMENT_ID, slot.slot_id, inner)


def test_the_entry_answer_is_the_same_matched_or_not(env: Env) -> None:
    ana = env.counselor("c-ana")
    first, second, third = env.survivor(), env.survivor(), env.survivor()
    y = _y()
    lonely = env.post_entry(first, [env.slot(y, first.account_id, ana)])
    matched = env.post_entry(second, [env.slot(y, second.account_id, ana)])
    unrelated = env.post_entry(third, [env.slot(_y(), third.account_id, ana)])
    assert len(_inbox(env, ana)) == 2  # the second entry did match
    for response in (lonely, matched, unrelated):
        assert response.status_code == 201
        assert response.json() == {"entry_id": response.json()["entry_id"]}

    def shape(response: httpx.Response) -> tuple[object, ...]:
        headers = {k: v for k, v in response.headers.items() if k not in VARYING}
        body = response.content.replace(response.json()["entry_id"].encode(), b"ID")
        return response.status_code, headers, len(response.content), body

    assert shape(lonely) == shape(matched) == shape(unrelated)
    views = [_entries(env, s) for s in (first, second, third)]
    for view in views:
        assert len(view) == 1
        assert [s["state"] for s in view[0]["slots"]] == ["sealed"]  # type: ignore[index]
        assert set(view[0]) == {
            "entry_id",
            "entry_copy",
            "created_at_ms",
            "withdrawn_at_ms",
            "slots",
        }


def test_withdrawn_before_a_match_is_never_matched(env: Env) -> None:
    ana = env.counselor("c-ana")
    first, second = env.survivor(), env.survivor()
    y = _y()
    entry_id = secrets.token_bytes(16)
    assert env.post_entry(first, [env.slot(y, first.account_id, ana)], entry_id=entry_id)
    for _ in range(2):  # withdrawing again changes nothing
        response = env.client.delete(f"/v1/entries/{entry_id.hex()}", headers=first.headers)
        assert response.status_code == 204
        _secure(response)
    assert env.post_entry(second, [env.slot(y, second.account_id, ana)]).status_code == 201
    assert _inbox(env, ana) == []
    view = _entries(env, first)[0]
    assert view["withdrawn_at_ms"] == env.clock()
    assert [s["state"] for s in view["slots"]] == ["withdrawn"]  # type: ignore[attr-defined]


def test_only_the_owner_withdraws_and_others_get_the_missing_answer(env: Env) -> None:
    ana = env.counselor("c-ana")
    owner, stranger = env.survivor(), env.survivor()
    entry_id = secrets.token_bytes(16)
    env.post_entry(owner, [env.slot(_y(), owner.account_id, ana)], entry_id=entry_id)
    theirs = _problem(
        env.client.delete(f"/v1/entries/{entry_id.hex()}", headers=stranger.headers), 404
    )
    missing = _problem(
        env.client.delete(f"/v1/entries/{secrets.token_hex(16)}", headers=stranger.headers), 404
    )
    assert theirs == missing
    assert entry_id.hex() not in json.dumps(theirs)
    assert [s["state"] for s in _entries(env, owner)[0]["slots"]] == ["sealed"]  # type: ignore[attr-defined]


def test_a_forged_slot_neither_blocks_nor_fakes_a_match(env: Env) -> None:
    ana, ben = env.counselor("c-ana"), env.counselor("c-ben")
    honest, forger, late = env.survivor(), env.survivor(), env.survivor()
    y = _y()
    genuine = env.slot(y, honest.account_id, ana)
    assert env.post_entry(honest, [genuine]).status_code == 201
    real = env.slot(y, forger.account_id, ben)
    forged = slot_recipes.Slot(
        real.slot_id,
        real.account_id,
        real.tag,
        real.x,
        group.random_scalar(),  # a random share at the forger's own abscissa
        real.outer,
        real.counselor_id,
    )
    assert env.post_entry(forger, [forged]).status_code == 201
    assert _inbox(env, ana) == _inbox(env, ben) == []  # no fake match
    joined = env.slot(y, late.account_id, ben)
    assert env.post_entry(late, [joined]).status_code == 201  # not blocked
    assert [i["slot_id"] for i in _inbox(env, ana)] == [genuine.slot_id.hex()]
    assert [i["slot_id"] for i in _inbox(env, ben)] == [joined.slot_id.hex()]
    matches = SlotRepository(env.database).matches_for_tag(y and genuine.tag)
    assert [m for m, _ in matches[0].members] == [genuine.slot_id, joined.slot_id]
    assert [s["state"] for s in _entries(env, forger)[0]["slots"]] == ["sealed"]  # type: ignore[attr-defined]


def test_a_slot_at_another_accounts_abscissa_is_refused_and_nothing_stored(env: Env) -> None:
    ana = env.counselor("c-ana")
    caller, other = env.survivor(), env.survivor()
    theirs = env.slot(_y(), other.account_id, ana)
    body = entry_body([env.slot(_y(), caller.account_id, ana), theirs])
    response = env.client.post("/v1/entries", json=body, headers=caller.headers)
    problem = _problem(response, 422)
    _secure(response)
    assert "abscissa" in str(problem["detail"])
    for value in (theirs.x.hex(), theirs.share.hex(), str(body["entry_id"])):
        assert value not in response.text
    assert _entries(env, caller) == []


def test_the_same_person_twice_from_one_account_never_matches(env: Env) -> None:
    ana = env.counselor("c-ana")
    survivor = env.survivor()
    y = _y()
    assert env.post_entry(survivor, [env.slot(y, survivor.account_id, ana)]).status_code == 201
    again = env.post_entry(survivor, [env.slot(y, survivor.account_id, ana)])
    assert "already holds a slot" in str(_problem(again, 422)["detail"])
    assert _inbox(env, ana) == []
    # The entry and its slots are one transaction: the refused entry left nothing.
    entries = _entries(env, survivor)
    assert [len(e["slots"]) for e in entries] == [1]  # type: ignore[arg-type]


def test_refused_entries_write_nothing(env: Env) -> None:
    ana = env.counselor("c-ana")
    survivor = env.survivor()
    y = _y()
    slot = env.slot(y, survivor.account_id, ana)
    unknown = slot_recipes.Slot(
        slot.slot_id, slot.account_id, slot.tag, slot.x, slot.share, slot.outer, "c-nobody"
    )
    cases = {
        "unknown counselor": [unknown],
        "same slot id": [slot, env.slot(_y(), survivor.account_id, ana)],
        "same identifier": [slot, env.slot(y, survivor.account_id, ana)],
    }
    cases["same slot id"][1] = slot_recipes.Slot(
        slot.slot_id, *list(vars(cases["same slot id"][1]).values())[1:]
    )
    for name, slots in cases.items():
        response = env.post_entry(survivor, slots)
        assert response.status_code == 422, name
    too_many = entry_body([slot] * 17)
    assert (
        env.client.post("/v1/entries", json=too_many, headers=survivor.headers).status_code == 400
    )
    malformed = entry_body([slot])
    malformed["slots"][0]["share"] = "zz" * 32  # type: ignore[index]
    assert (
        env.client.post("/v1/entries", json=malformed, headers=survivor.headers).status_code == 400
    )
    assert _entries(env, survivor) == []


def test_a_replayed_idempotency_key_gives_the_same_answer_and_one_entry(env: Env) -> None:
    ana = env.counselor("c-ana")
    survivor = env.survivor()
    body = entry_body([env.slot(_y(), survivor.account_id, ana)])
    headers = {**survivor.headers, "Idempotency-Key": "entry-1"}
    first = env.client.post("/v1/entries", json=body, headers=headers)
    again = env.client.post("/v1/entries", json=body, headers=headers)
    assert (first.status_code, first.content) == (again.status_code, again.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert len(_entries(env, survivor)) == 1
    other = entry_body([env.slot(_y(), survivor.account_id, ana)])
    _problem(env.client.post("/v1/entries", json=other, headers=headers), 409)
    assert len(_entries(env, survivor)) == 1


# -- the deployment and tickets -----------------------------------------------------------


def test_the_deployment_is_public(env: Env) -> None:
    response = env.client.get("/v1/deployment")
    assert response.status_code == 200
    _secure(response)
    body = response.json()
    assert body["deployment_id"] == DEPLOYMENT_ID.hex()
    assert body["match_threshold"] == 2
    assert body["key_servers"] == list(KEY_SERVERS)
    assert body["federation"]["threshold"] == FEDERATION.threshold
    assert body["federation"]["public_key"] == FEDERATION.public_key.hex()
    assert [s["index"] for s in body["federation"]["shares"]] == [1, 2, 3]
    assert body["ticket_public_key"] == TICKET_KEY.public_key().public_bytes_raw().hex()
    assert body["log_public_key"] == LOG_KEY.public_key().public_bytes_raw().hex()
    assert body["vouching_public_key"] == VOUCHING_KEY.public_key().public_bytes_raw().hex()


def test_a_ticket_names_a_pseudonym_that_is_stable_within_a_period(env: Env) -> None:
    survivor, other = env.survivor(), env.survivor()
    key = TICKET_KEY.public_key().public_bytes_raw()

    def ticket(headers: dict[str, str]) -> bytes:
        wire = bytes.fromhex(env.client.post("/v1/tickets", headers=headers).json()["ticket"])
        return verify_ticket(key, DEPLOYMENT_ID, wire, env.clock()).pseudonym

    assert ticket(survivor.headers) == ticket(survivor.headers) != ticket(other.headers)


# -- authorization and errors ---------------------------------------------------------------


SURVIVOR_ROUTES = (
    ("POST", "/v1/tickets"),
    ("POST", "/v1/entries"),
    ("GET", "/v1/entries"),
    ("DELETE", "/v1/entries/" + "ab" * 16),
    ("POST", "/v1/records"),
    ("POST", "/v1/records/" + "ab" * 16 + "/versions"),
    ("GET", "/v1/records"),
    ("GET", "/v1/records/" + "ab" * 16),
)


def test_every_route_refuses_the_wrong_caller(env: Env) -> None:
    ana = env.counselor("c-ana")
    survivor = env.survivor()
    wrong = {
        "none": {},
        "invalid": {"Authorization": "Bearer " + secrets.token_hex(32)},
        "malformed": {"Authorization": "Basic abc"},
        "counselor": ana.headers(),
        "operator": {"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    }
    for method, path in SURVIVOR_ROUTES:
        for name, headers in wrong.items():
            response = env.client.request(method, path, headers=headers)
            _problem(response, 401)
            assert response.headers["www-authenticate"] == 'Bearer realm="notalone"', name
            _secure(response)
    for name, headers in {**wrong, "survivor": survivor.headers}.items():
        if name == "counselor":
            continue
        response = env.client.get("/v1/counselor/inbox", headers=headers)
        _problem(response, 401)
        _secure(response)
    operator_only = {"id": "c-new", "display_name": "New", "public_key": "11" * 32}
    for name, headers in {**wrong, "survivor": survivor.headers}.items():
        if name == "operator":
            continue
        response = env.client.post("/v1/counselors", json=operator_only, headers=headers)
        _problem(response, 401)
        _secure(response)
    assert len(env.client.get("/v1/counselors").json()["counselors"]) == 1


def test_the_escrow_routes_exist_only_with_the_deployments_keys(env: Env) -> None:
    settings = EscrowSettings(
        database_url=env.settings.database_url,
        server_secret=SERVER_SECRET,
        operator_token=OPERATOR_TOKEN,
    )
    services = build_services(settings, env.database)
    assert services.escrow is None
    assert services.records is None
    with TestClient(create_app(settings, services), base_url="https://testserver") as client:
        assert client.get("/v1/deployment").status_code == 404
        assert client.get("/healthz").status_code == 200


# -- settings -------------------------------------------------------------------------------


def _write(path: Path, document: dict[str, object]) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_settings_load_from_a_config_file_and_the_dealt_key_files(tmp_path: Path) -> None:
    dealt = deal_keys(2, 3)
    write_dealt_keys(dealt, tmp_path / "keys")
    config = {
        "database_url": "sqlite:///escrow.db",
        "server_secret": SERVER_SECRET.hex(),
        "operator_token": OPERATOR_TOKEN,
        "federation_file": "keys/federation.json",
        "ticket_key_file": "keys/escrow-ticket-key.json",
        "key_servers": list(KEY_SERVERS),
        "log_signing_key": secrets.token_hex(32),
        "vouching_key": secrets.token_hex(32),
        "match_threshold": 3,
        "ticket_quota": 100,
    }
    settings = load_settings(_write(tmp_path / "escrow.json", config))
    assert settings.deployment_id == dealt.deployment.deployment_id
    assert settings.federation == dealt.federation
    assert settings.escrow_policy().match_threshold == 3
    assert settings.ticket_issuer().public_key == dealt.deployment.ticket_public_key
    text = repr(settings)
    for secret in (config["log_signing_key"], config["vouching_key"], SERVER_SECRET.hex()):
        assert str(secret) not in text
    assert "ticket_secret" not in text

    refusals = {
        "needs its deployment keys": {
            k: v for k, v in config.items() if k not in {"federation_file", "ticket_key_file"}
        }
        | {"log_signing_key": None, "vouching_key": None},
        "missing": {k: v for k, v in config.items() if k != "vouching_key"},
        "one URL per key server": config | {"key_servers": KEY_SERVERS[:2]},
        "differs": config | {"deployment_id": secrets.token_hex(16)},
        "no such file": config | {"federation_file": "keys/nothing.json"},
        "lower-case hex": config | {"vouching_key": "ZZ" * 32},
        "32-byte": config | {"vouching_key": "ab" * 16},
        "match threshold": config | {"match_threshold": 1},
        "unknown settings": config | {"colour": "red"},
        "http": config | {"key_servers": ["ftp://a", "ftp://b", "ftp://c"]},
        "must differ": config | {"key_servers": [KEY_SERVERS[0]] * 3},
        "a path": config | {"federation_file": 3},
        "a list": config | {"key_servers": "http://a"},
        "member_tokens_per_period must be": config | {"member_tokens_per_period": "3"},
        "tokens_per_period must be 1 to": config | {"member_tokens_per_period": 17},
        "member_code_ttl_s must be": config | {"member_code_ttl_s": 0},
        "at least a minute": config | {"member_code_ttl_s": 59},
    }
    for expected, values in refusals.items():
        path = _write(tmp_path / "bad.json", values)
        with pytest.raises(InputError, match=expected) as caught:
            load_settings(path)
        for secret in (str(config["log_signing_key"]), str(config["vouching_key"])):
            assert secret not in str(caught.value)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        load_settings(tmp_path / "broken.json")
    with pytest.raises(InputError, match="JSON object"):
        load_settings(_write(tmp_path / "list.json", []))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no such file"):
        load_settings(tmp_path / "absent.json")


def test_the_key_files_are_checked(tmp_path: Path) -> None:
    dealt = deal_keys(2, 3)
    keys = tmp_path / "keys"
    write_dealt_keys(dealt, keys)
    federation = json.loads((keys / "federation.json").read_text())
    base = {
        "database_url": "sqlite:///escrow.db",
        "server_secret": SERVER_SECRET.hex(),
        "operator_token": OPERATOR_TOKEN,
        "ticket_key_file": "keys/escrow-ticket-key.json",
        "key_servers": list(KEY_SERVERS),
        "log_signing_key": secrets.token_hex(32),
        "vouching_key": secrets.token_hex(32),
    }
    bad_federations: dict[str, object] = {
        "version": federation | {"v": 2},
        "expected a": federation | {"kind": "other"},
        "suite": federation | {"suite": "P-256"},
        "must be an object": federation | {"federation": []},
        "non-empty list": federation | {"federation": {"shares": []}},
        "each entry": federation | {"federation": {"shares": [1]}},
        "integer": federation | {"ticket_period_ms": 5},
        "lower-case hex": federation | {"deployment_id": "AB" * 16},
        "hex": federation | {"deployment_id": "zz" * 16},
        "JSON object": [],
    }
    for expected, document in bad_federations.items():
        (tmp_path / "federation.json").write_text(json.dumps(document))
        config = base | {"federation_file": "federation.json"}
        with pytest.raises((InputError, VersionError), match=expected):
            load_settings(_write(tmp_path / "escrow.json", config))
    (tmp_path / "federation.json").write_bytes(b"\xff")
    with pytest.raises(EncodingError, match="cannot be read"):
        load_settings(
            _write(tmp_path / "escrow.json", base | {"federation_file": "federation.json"})
        )
    ticket = json.loads((keys / "escrow-ticket-key.json").read_text())
    (tmp_path / "ticket.json").write_text(json.dumps(ticket | {"ticket_secret": "00"}))
    config = base | {"federation_file": "keys/federation.json", "ticket_key_file": "ticket.json"}
    with pytest.raises(EncodingError, match="ticket_secret"):
        load_settings(_write(tmp_path / "escrow.json", config))
    other = Path(tmp_path / "other")
    write_dealt_keys(deal_keys(2, 3, deployment_id=dealt.deployment.deployment_id), other)
    mixed = base | {
        "federation_file": "keys/federation.json",
        "ticket_key_file": "other/escrow-ticket-key.json",
    }
    with pytest.raises(InputError, match=r"differs|does not match"):
        load_settings(_write(tmp_path / "escrow.json", mixed))


def test_settings_refuse_a_partial_or_inconsistent_deployment() -> None:
    good: dict[str, object] = {
        "database_url": "sqlite:///x.db",
        "server_secret": SERVER_SECRET,
        "operator_token": OPERATOR_TOKEN,
        "deployment_id": DEPLOYMENT_ID,
        "federation": FEDERATION,
        "key_servers": KEY_SERVERS,
        "ticket_signing_key": TICKET_KEY,
        "ticket_secret": TICKET_SECRET,
        "log_signing_key": LOG_KEY,
        "vouching_key": VOUCHING_KEY,
    }
    assert EscrowSettings(**good).escrow_configured  # type: ignore[arg-type]
    refusals = {
        "missing: log_signing_key": {"log_signing_key": None},
        "deployment_id": {"deployment_id": b"short"},
        "ticket_secret": {"ticket_secret": b"short"},
        "ticket_period_ms": {"ticket_period_ms": 10},
        "ticket_lifetime_ms": {"ticket_lifetime_ms": 0},
        "ticket quota": {"ticket_quota": 70_000},
        "match threshold": {"match_threshold": 17},
        "Ed25519": {"vouching_key": "not a key"},
    }
    for expected, change in refusals.items():
        with pytest.raises(InputError, match=expected):
            EscrowSettings(**(good | change))  # type: ignore[arg-type]
