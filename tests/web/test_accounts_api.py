"""The account routes end to end through HTTP, on SQLite (and a subset on PostgreSQL)."""

from __future__ import annotations

import logging
import secrets

import httpx
import pytest
from sqlalchemy import func, select

from notalone.protocol.accounts import ARGON2_DEFAULT, AccountKeyBundle
from notalone.storage.models import Account
from tests.services.conftest import rewrapped
from tests.web.conftest import MAX_FAILURES_PER_USERNAME, Env

# Not the example name of the username error message, which the test of echoes would find.
USERNAME = "mossy-walrus-7731"
PROBLEM = "application/problem+json"
BOTH = pytest.mark.parametrize("web_backend", ["sqlite", "postgresql"], indirect=True)


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == status
    return dict(body)


def _accounts(env: Env) -> int:
    with env.database.read() as session:
        return int(session.scalar(select(func.count()).select_from(Account)) or 0)


# -- registration ------------------------------------------------------------------------


@BOTH
def test_register_with_a_valid_invite(env: Env) -> None:
    code = env.invite(max_uses=2)
    body = env.register_body(USERNAME, code)
    response = env.client.post("/v1/accounts", json=body)
    assert response.status_code == 201
    made = response.json()
    assert made["username"] == USERNAME
    assert len(made["account_id"]) == 32
    env.register("mossy-walrus-7732", code)
    refused = _problem(
        env.client.post("/v1/accounts", json=env.register_body("mossy-walrus-7733", code)), 422
    )
    assert "used up" in str(refused["detail"])
    assert _accounts(env) == 2


def test_expired_invite_is_refused(env: Env) -> None:
    code = env.invite(max_uses=5, ttl_seconds=60)
    env.clock.now_ms += 60_000
    refused = _problem(env.client.post("/v1/accounts", json=env.register_body(USERNAME, code)), 422)
    assert "expired" in str(refused["detail"])


def test_duplicate_username_is_refused_clearly(env: Env) -> None:
    code = env.invite(max_uses=2)
    env.register(USERNAME, code)
    refused = _problem(env.client.post("/v1/accounts", json=env.register_body(USERNAME, code)), 409)
    assert refused["detail"] == "this username is taken; generate another one and register again"


def test_malformed_registration_is_400_without_echo(env: Env) -> None:
    body = env.register_body(USERNAME, env.invite())
    body["auth_key"] = "zz" + body["auth_key"][2:]
    refused = _problem(env.client.post("/v1/accounts", json=body), 400)
    assert "auth_key" in str(refused["detail"])
    assert body["auth_key"] not in str(refused)
    extra = {**env.register_body(USERNAME, env.invite()), "admin": True}
    _problem(env.client.post("/v1/accounts", json=extra), 400)


# -- login ---------------------------------------------------------------------------------


def test_login_start_does_not_reveal_which_names_exist(env: Env) -> None:
    env.register(USERNAME)
    known = env.client.post("/v1/login/start", json={"username": USERNAME})
    unknown = env.client.post("/v1/login/start", json={"username": "misty-otter-0001"})
    again = env.client.post("/v1/login/start", json={"username": "Misty Otter 0001"})
    assert known.status_code == unknown.status_code == 200
    assert set(known.json()) == set(unknown.json()) == {"salt", "time_cost", "memory_kib"}
    assert len(known.json()["salt"]) == len(unknown.json()["salt"]) == 32
    assert unknown.json() == again.json()
    assert (unknown.json()["time_cost"], unknown.json()["memory_kib"]) == (
        ARGON2_DEFAULT.time_cost,
        ARGON2_DEFAULT.memory_kib,
    )
    assert known.headers.keys() == unknown.headers.keys()


@BOTH
def test_bearer_login_returns_the_bundle_and_works(env: Env) -> None:
    registered = env.register(USERNAME)
    response = env.login(USERNAME, registered["auth_key"])
    assert response.status_code == 200
    session = response.json()
    assert session["kind"] == "bearer"
    assert session["key_bundle"] == registered["key_bundle"]
    assert "set-cookie" not in response.headers
    headers = {"Authorization": f"Bearer {session['token']}"}
    account = env.client.get("/v1/account", headers=headers)
    assert account.status_code == 200
    assert account.json()["username"] == USERNAME
    # A bearer token is not accepted as a cookie.
    env.client.cookies.set(env.settings.cookie_name, session["token"])
    _problem(env.client.get("/v1/account"), 401)


def test_cookie_login_sets_a_strict_cookie(env: Env) -> None:
    registered = env.register(USERNAME)
    response = env.login(USERNAME, registered["auth_key"], kind="cookie")
    assert response.status_code == 200
    assert "token" not in response.json()
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "domain" not in attributes
    assert cookie.startswith("__Host-notalone-session=")
    assert env.client.get("/v1/account").status_code == 200
    logout = env.client.post("/v1/logout")
    assert logout.status_code == 204
    assert "max-age=0" in logout.headers["set-cookie"].lower()
    _problem(env.client.get("/v1/account"), 401)


def test_wrong_auth_key_is_401_and_counts_until_429(env: Env) -> None:
    registered = env.register(USERNAME)
    for _ in range(MAX_FAILURES_PER_USERNAME):
        refused = _problem(env.login(USERNAME, secrets.token_hex(32)), 401)
        assert refused["detail"] == "the username or passphrase is wrong"
    limited = env.login(USERNAME, registered["auth_key"])
    _problem(limited, 429)
    assert limited.headers["retry-after"] == "60"
    env.clock.now_ms += 60_000
    assert env.login(USERNAME, registered["auth_key"]).status_code == 200
    metrics = env.client.get("/metrics").text
    assert "notalone_logins_failed_total 3" in metrics
    assert "notalone_logins_limited_total 1" in metrics
    assert "notalone_logins_ok_total 1" in metrics


def test_unknown_user_fails_like_a_wrong_key(env: Env) -> None:
    env.register(USERNAME)
    wrong = _problem(env.login(USERNAME, secrets.token_hex(32)), 401)
    unknown = _problem(env.login("misty-otter-0001", secrets.token_hex(32)), 401)
    assert wrong == unknown


def test_recovery_login(env: Env) -> None:
    registered = env.register(USERNAME)
    response = env.client.post(
        "/v1/login/recovery",
        json={"username": USERNAME, "recovery_auth_key": registered["recovery_auth_key"]},
    )
    assert response.status_code == 200
    assert response.json()["key_bundle"] == registered["key_bundle"]
    wrong = env.client.post(
        "/v1/login/recovery",
        json={"username": USERNAME, "recovery_auth_key": registered["auth_key"]},
    )
    _problem(wrong, 401)


@BOTH
def test_logout_revokes_the_session(env: Env) -> None:
    registered = env.register(USERNAME)
    headers = env.bearer(USERNAME, registered["auth_key"])
    assert env.client.post("/v1/logout", headers=headers).status_code == 204
    _problem(env.client.get("/v1/account", headers=headers), 401)
    _problem(env.client.post("/v1/logout", headers=headers), 401)


def test_routes_need_a_session(env: Env) -> None:
    refused = _problem(env.client.get("/v1/account"), 401)
    assert "log in" in str(refused["detail"])
    basic = env.client.get("/v1/account", headers={"Authorization": "Basic eDp5"})
    _problem(basic, 401)
    assert env.client.get("/v1/account").headers["www-authenticate"] == 'Bearer realm="notalone"'


# -- passphrase change ---------------------------------------------------------------------


def _change_body(registered: dict[str, str]) -> dict[str, str]:
    bundle = AccountKeyBundle.from_bytes(bytes.fromhex(registered["key_bundle"]))
    return {"key_bundle": rewrapped(bundle).to_bytes().hex(), "auth_key": secrets.token_hex(32)}


@BOTH
def test_passphrase_change_revokes_other_sessions_and_the_old_key(env: Env) -> None:
    registered = env.register(USERNAME)
    other = env.bearer(USERNAME, registered["auth_key"])
    mine = env.bearer(USERNAME, registered["auth_key"])
    change = _change_body(registered)
    response = env.client.put("/v1/account/passphrase", json=change, headers=mine)
    assert response.status_code == 200
    assert response.json() == {"status": "changed"}
    assert env.client.get("/v1/account", headers=mine).status_code == 200
    _problem(env.client.get("/v1/account", headers=other), 401)
    _problem(env.login(USERNAME, registered["auth_key"]), 401)
    new = env.login(USERNAME, change["auth_key"])
    assert new.status_code == 200
    assert new.json()["key_bundle"] == change["key_bundle"]


# -- idempotency ---------------------------------------------------------------------------


@BOTH
def test_idempotent_registration_replays_and_registers_once(env: Env) -> None:
    body = env.register_body(USERNAME, env.invite(max_uses=5))
    headers = {"Idempotency-Key": "register-1"}
    first = env.client.post("/v1/accounts", json=body, headers=headers)
    second = env.client.post("/v1/accounts", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second.headers["idempotent-replayed"] == "true"
    assert _accounts(env) == 1
    changed = {**body, "auth_key": secrets.token_hex(32)}
    conflict = _problem(env.client.post("/v1/accounts", json=changed, headers=headers), 409)
    assert "Idempotency-Key" in str(conflict["detail"])
    assert _accounts(env) == 1


def test_idempotent_passphrase_change(env: Env) -> None:
    registered = env.register(USERNAME)
    headers = {**env.bearer(USERNAME, registered["auth_key"]), "Idempotency-Key": "pw-1"}
    change = _change_body(registered)
    first = env.client.put("/v1/account/passphrase", json=change, headers=headers)
    second = env.client.put("/v1/account/passphrase", json=change, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert env.client.get("/metrics").text.count("notalone_passphrase_changes_total 1") == 1
    other = _change_body(registered)
    _problem(env.client.put("/v1/account/passphrase", json=other, headers=headers), 409)
    bad_key = {**headers, "Idempotency-Key": "two\tparts"}
    _problem(env.client.put("/v1/account/passphrase", json=other, headers=bad_key), 422)


# -- operator ------------------------------------------------------------------------------


def test_operator_routes_need_the_operator_token(env: Env) -> None:
    _problem(env.client.post("/v1/organizations", json={"name": "X"}), 401)
    wrong = {"Authorization": "Bearer " + "x" * 40}
    _problem(env.client.post("/v1/organizations", json={"name": "X"}, headers=wrong), 401)
    made = env.client.post("/v1/organizations", json={"name": "X"}, headers=env.operator())
    assert made.status_code == 201
    again = env.client.post("/v1/organizations", json={"name": "X"}, headers=env.operator())
    _problem(again, 409)
    missing = env.client.post(
        f"/v1/organizations/{'0' * 32}/invites", json={}, headers=env.operator()
    )
    _problem(missing, 422)
    survivor = env.register(USERNAME)
    as_survivor = env.bearer(USERNAME, survivor["auth_key"])
    _problem(env.client.post("/v1/organizations", json={"name": "Y"}, headers=as_survivor), 401)


# -- nothing identifying leaks -----------------------------------------------------------


def test_errors_and_logs_never_echo_input(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        registered = env.register(USERNAME)
        secrets_sent = [USERNAME, registered["auth_key"], registered["recovery_auth_key"]]
        responses = [
            env.client.post("/v1/accounts", json=env.register_body(USERNAME, env.invite())),
            env.client.post("/v1/accounts", json={**registered, "username": USERNAME.upper()}),
            env.client.post("/v1/accounts", json={**registered, "invite_code": "x" * 65}),
            env.login(USERNAME, registered["recovery_auth_key"]),
            env.login(USERNAME, registered["auth_key"][:-2]),
            env.login(USERNAME + "x", registered["auth_key"]),
            env.client.post("/v1/login/start", json={"username": USERNAME + "!!"}),
            env.client.post(
                "/v1/login/recovery",
                json={"username": USERNAME, "recovery_auth_key": registered["auth_key"]},
            ),
            env.client.get("/v1/account", headers={"Authorization": f"Bearer {USERNAME}"}),
            env.client.post("/v1/login/start", content=b"{" + USERNAME.encode()),
        ]
        for response in responses:
            assert response.status_code >= 400
            assert response.headers["content-type"] == PROBLEM
            for secret in secrets_sent:
                assert secret not in response.text
                assert secret.upper() not in response.text
        metrics = env.client.get("/metrics").text
    for secret in secrets_sent:
        assert secret not in caplog.text
        assert secret not in metrics


def test_metrics_carry_no_identifier(env: Env) -> None:
    registered = env.register(USERNAME)
    session = env.login(USERNAME, registered["auth_key"]).json()
    env.client.get("/v1/account", headers={"Authorization": f"Bearer {session['token']}"})
    code = env.invite()
    response = env.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "notalone_registrations_total 1" in text
    assert "notalone_logins_ok_total 1" in text
    assert 'route="/v1/organizations/{organization_id}/invites",status="201"' in text
    assert 'route="/v1/account",status="200"' in text
    for value in (
        USERNAME,
        session["account_id"],
        session["token"],
        registered["auth_key"],
        code,
        "testclient",
    ):
        assert value not in text
    for line in text.splitlines():
        assert line.startswith("#") or line.startswith("notalone_")
        assert line.startswith("#") or line.rsplit(" ", 1)[1].isdigit()
