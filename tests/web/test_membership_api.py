"""Membership tokens over HTTP (docs/protocol.md §15): member codes by mail only, blind
issuance within a quota, registration with a token that works once, unlinkability."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from notalone.crypto import group, hpke, oprf
from notalone.crypto.oprf import Mode
from notalone.protocol import membership as m
from notalone.services.notifications import (
    MEMBER_CODE_SUBJECT,
    NotificationService,
    RecordingMailer,
)
from notalone.storage.engine import Database
from notalone.storage.models import Account, MemberCode, MemberIssuance, MemberMail, SpentToken
from notalone.storage.outbox import SqlOutbox
from notalone.web.app import build_services, create_app
from tests.services.conftest import SERVER_SECRET, make_bundle
from tests.upstack import free_port
from tests.web.conftest import Env

PROBLEM = "application/problem+json"
QUARTER_MS = 92 * 24 * 3_600_000


@dataclass
class Org:
    """An organization with an enrolled admin."""

    id: str
    admin: dict[str, str]


def make_org(env: Env) -> Org:
    made = env.client.post(
        "/v1/organizations", json={"name": f"Org {secrets.token_hex(4)}"}, headers=env.operator()
    )
    assert made.status_code == 201, made.text
    organization_id = made.json()["organization_id"]
    enrollment = env.client.post(
        f"/v1/organizations/{organization_id}/admin-enrollments",
        json={"display_name": "Admin"},
        headers=env.operator(),
    )
    assert enrollment.status_code == 201, enrollment.text
    _, public_key = hpke.generate_key_pair()
    enrolled = env.client.post(
        "/v1/organization/enroll",
        json={"code": enrollment.json()["code"], "intake_public_key": public_key.hex()},
    )
    assert enrolled.status_code == 201, enrolled.text
    return Org(organization_id, {"Authorization": f"Bearer {enrolled.json()['token']}"})


def mail_code(env: Env, org: Org, email: str) -> str:
    """Ask for a member code to `email`; read it from the mail owed (the test's mailbox)."""
    response = env.client.post(
        "/v1/organization/member-codes", json={"email": email}, headers=org.admin
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": True}
    with env.database.read() as session:
        secret = session.scalars(
            select(MemberMail.secret)
            .where(MemberMail.delivered_at_ms.is_(None))
            .order_by(MemberMail.id.desc())
            .limit(1)
        ).one()
    assert secret is not None
    return secret


@dataclass
class Asked:
    """An issuance request's answer, and the member's state to finalize it with."""

    status_code: int
    content_type: str
    body: dict[str, Any]
    pending: m.PendingTokens

    def json(self) -> dict[str, Any]:
        return self.body


def ask_tokens(env: Env, org: Org, code: str, count: int) -> Asked:
    pending = m.blind_tokens(bytes.fromhex(org.id), count)
    response = env.client.post(
        "/v1/membership/tokens",
        json={
            "organization_id": org.id,
            "code": code,
            "blinded": [b.hex() for b in pending.blinded],
        },
    )
    return Asked(response.status_code, response.headers["content-type"], response.json(), pending)


def issuer_key(env: Env, org: Org) -> bytes:
    response = env.client.get(f"/v1/organizations/{org.id}/issuer")
    assert response.status_code == 200, response.text
    return bytes.fromhex(response.json()["public_key"])


def get_tokens(env: Env, org: Org, code: str, count: int) -> list[m.Token]:
    response = ask_tokens(env, org, code, count)
    assert response.status_code == 200, response.body
    body = response.json()
    return m.finalize_tokens(
        response.pending,
        issuer_key(env, org),
        [bytes.fromhex(e) for e in body["evaluated"]],
        bytes.fromhex(body["proof"]),
    )


def token_json(token: m.Token) -> dict[str, str]:
    return {
        "organization_id": token.organization_id.hex(),
        "input": token.input.hex(),
        "output": token.output.hex(),
    }


def register_body(username: str, token: m.Token | None) -> dict[str, object]:
    body: dict[str, object] = {
        "username": username,
        "key_bundle": make_bundle(username).to_bytes().hex(),
        "auth_key": secrets.token_hex(32),
        "recovery_auth_key": secrets.token_hex(32),
    }
    if token is not None:
        body["membership_token"] = token_json(token)
    return body


def username() -> str:
    letters = "".join(secrets.choice("abcdefgh") for _ in range(6))
    return f"calm-{letters}-{secrets.randbelow(10**4):04d}"


def accounts_in(env: Env, org: Org) -> int:
    with env.database.read() as session:
        return len(
            session.scalars(
                select(Account.id).where(Account.organization_id == bytes.fromhex(org.id))
            ).all()
        )


# --------------------------------------------------------------------------- the flow


def test_a_member_gets_tokens_by_mailed_code_and_each_registers_once(env: Env) -> None:
    org = make_org(env)
    code = mail_code(env, org, "Ana.Member@Example.org")
    tokens = get_tokens(env, org, code, 2)
    assert len(tokens) == 2
    first = env.client.post("/v1/accounts", json=register_body(username(), tokens[0]))
    assert first.status_code == 201, first.text
    assert first.json()["organization_id"] == org.id
    again = env.client.post("/v1/accounts", json=register_body(username(), tokens[0]))
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert "already been used" in again.json()["detail"]
    second = env.client.post("/v1/accounts", json=register_body(username(), tokens[1]))
    assert second.status_code == 201, second.text
    assert accounts_in(env, org) == 2
    # The registered account can log in like any other.
    assert env.login(first.json()["username"], "00" * 32).status_code == 401


def test_unknown_expired_used_and_foreign_codes_get_one_answer(env: Env) -> None:
    org, other = make_org(env), make_org(env)
    used = mail_code(env, org, "used@example.org")
    assert ask_tokens(env, org, used, 1).status_code == 200
    expired = mail_code(env, org, "late@example.org")
    foreign = mail_code(env, other, "other@example.org")
    env.clock.now_ms += 72 * 3_600_000
    fresh = mail_code(env, org, "fresh@example.org")
    answers = [
        ask_tokens(env, org, used, 1),
        ask_tokens(env, org, expired, 1),
        ask_tokens(env, org, m.new_code(), 1),
        ask_tokens(env, org, foreign, 1),
        ask_tokens(env, org, "not a code", 1),
    ]
    assert {(a.status_code, a.json()["detail"]) for a in answers} == {(422, m.CODE_REFUSED)}
    # None of those refusals spent anything: the fresh code still works, once.
    assert ask_tokens(env, org, fresh, 1).status_code == 200
    assert ask_tokens(env, org, fresh, 1).status_code == 422


def test_tokens_per_member_per_quarter_are_bounded(env: Env) -> None:
    org = make_org(env)
    assert env.services.membership is not None
    quota = env.services.membership.policy.tokens_per_period
    assert quota == 3
    assert ask_tokens(env, org, mail_code(env, org, "ana@example.org"), 2).status_code == 200
    # The same member (the address differs only in case): one token left this quarter.
    code = mail_code(env, org, "ANA@Example.ORG")
    over = ask_tokens(env, org, code, 2)
    assert over.status_code == 429
    assert over.content_type == PROBLEM
    assert "3 registration tokens" in over.json()["detail"]
    assert ask_tokens(env, org, code, 1).status_code == 200  # the refusal spent nothing
    assert ask_tokens(env, org, mail_code(env, org, "ana@example.org"), 1).status_code == 429
    # Another member has their own count; the next quarter starts afresh.
    assert ask_tokens(env, org, mail_code(env, org, "ben@example.org"), 3).status_code == 200
    env.clock.now_ms += QUARTER_MS
    assert ask_tokens(env, org, mail_code(env, org, "ana@example.org"), 3).status_code == 200
    with env.database.read() as session:
        counts = sorted(session.scalars(select(MemberIssuance.tokens_issued)).all())
    assert counts == [3, 3, 3]
    # More than the quota in one request is refused before any code is looked at.
    too_many = ask_tokens(env, org, m.new_code(), quota + 1)
    assert too_many.status_code == 422


def test_invalid_elements_are_refused_before_the_code_is_spent(env: Env) -> None:
    org = make_org(env)
    code = mail_code(env, org, "ana@example.org")
    for element in (bytes(32).hex(), "ff" * 32):
        response = env.client.post(
            "/v1/membership/tokens",
            json={"organization_id": org.id, "code": code, "blinded": [element]},
        )
        assert response.status_code == 422, response.text
    assert ask_tokens(env, org, code, 1).status_code == 200


def test_registration_takes_exactly_one_of_invite_and_token(env: Env) -> None:
    org = make_org(env)
    (token,) = get_tokens(env, org, mail_code(env, org, "ana@example.org"), 1)
    both = register_body(username(), token) | {"invite_code": env.invite()}
    neither = register_body(username(), None)
    for body in (both, neither):
        response = env.client.post("/v1/accounts", json=body)
        assert response.status_code == 422
        assert "exactly one" in response.text
    forged = m.Token(token.organization_id, token.input, bytes(64))
    other = make_org(env)
    moved = m.Token(bytes.fromhex(other.id), token.input, token.output)
    for bad in (forged, moved):
        response = env.client.post("/v1/accounts", json=register_body(username(), bad))
        assert response.status_code == 422
        assert response.json()["detail"] == m.TOKEN_REFUSED
    assert accounts_in(env, org) == accounts_in(env, other) == 0
    # Nothing was spent by those refusals.
    assert env.client.post("/v1/accounts", json=register_body(username(), token)).status_code == 201
    # Invite codes still work as before.
    env.register(username())


def test_a_taken_username_does_not_spend_the_token(env: Env) -> None:
    org = make_org(env)
    (token,) = get_tokens(env, org, mail_code(env, org, "ana@example.org"), 1)
    taken = username()
    env.register(taken)
    response = env.client.post("/v1/accounts", json=register_body(taken, token))
    assert response.status_code == 409
    assert "already been used" not in response.json()["detail"]
    assert env.client.post("/v1/accounts", json=register_body(username(), token)).status_code == 201


def test_only_an_organization_admin_sends_member_codes(env: Env) -> None:
    org = make_org(env)
    survivor = env.survivor()
    for headers in ({}, survivor.headers, env.operator(), {"Authorization": "Bearer nope"}):
        response = env.client.post(
            "/v1/organization/member-codes", json={"email": "a@example.org"}, headers=headers
        )
        assert response.status_code == 401, headers
    # Too long for the model: 400; well-sized but not a plain address: 422. Neither echoes it.
    for bad, status in (
        ("not an address", 422),
        ("Ana <ana@example.org>", 422),
        ("a" * 250 + "@x.org", 400),
    ):
        response = env.client.post(
            "/v1/organization/member-codes", json={"email": bad}, headers=org.admin
        )
        assert response.status_code == status
        assert bad not in response.text
    with env.database.read() as session:
        assert session.scalars(select(MemberMail.id)).all() == []


def test_issuer_key_is_public_and_the_one_proofs_verify_against(env: Env) -> None:
    org = make_org(env)
    response = env.client.get(f"/v1/organizations/{org.id}/issuer")
    assert response.status_code == 200
    body = response.json()
    seed = m.issuer_seed(SERVER_SECRET)
    assert body["public_key"] == m.issuer_key_pair(seed, bytes.fromhex(org.id))[1].hex()
    assert body["tokens_per_period"] == 3
    assert body["period"] == m.period_of(env.clock.now_ms)
    assert (body["suite"], body["mode"]) == ("ristretto255-SHA512", 1)
    missing = env.client.get(f"/v1/organizations/{secrets.token_hex(16)}/issuer")
    assert missing.status_code == 404


def test_the_code_mail_is_delivered_then_address_and_code_are_erased(env: Env) -> None:
    org = make_org(env)
    code = mail_code(env, org, "Ana.Member@Example.org")
    with env.database.read() as session:
        (stored,) = session.scalars(select(MemberCode)).all()
        assert stored.code_hash == m.code_hash(code)
        assert b"ana" not in stored.member_pseudonym.lower()
    mailer = RecordingMailer()
    service = NotificationService(SqlOutbox(env.database), mailer, env.clock)
    mailer.failing = "refused"
    assert service.deliver_due().failed == 1
    mailer.failing = None
    env.clock.now_ms += 60_000
    assert service.deliver_due().delivered == 1
    (email,) = mailer.sent
    assert email.to == "ana.member@example.org"
    assert email.subject == MEMBER_CODE_SUBJECT
    assert code in email.body
    assert org.id not in email.body
    with env.database.read() as session:
        (row,) = session.scalars(select(MemberMail)).all()
        assert (row.recipient, row.secret, row.attempts) == (None, None, 2)
        assert row.delivered_at_ms == env.clock.now_ms
    assert service.deliver_due().delivered == 0
    # The code works after its mail is gone: only its hash was needed.
    assert ask_tokens(env, org, code, 1).status_code == 200


# --------------------------------------------------------------------------- unlinkability


def test_issuance_and_redemption_share_no_value_and_the_server_cannot_pair_them(
    env: Env,
) -> None:
    org = make_org(env)
    organization_id = bytes.fromhex(org.id)
    public_key = issuer_key(env, org)
    transcripts = []
    tokens = []
    for email in ("ana@example.org", "ben@example.org"):
        response = ask_tokens(env, org, mail_code(env, org, email), 1)
        assert response.status_code == 200
        body = response.json()
        seen = {response.pending.blinded[0], *map(bytes.fromhex, body["evaluated"])}
        seen.add(bytes.fromhex(body["proof"]))
        transcripts.append(seen)
        tokens.extend(
            m.finalize_tokens(
                response.pending,
                public_key,
                [bytes.fromhex(e) for e in body["evaluated"]],
                bytes.fromhex(body["proof"]),
            )
        )
    # Redeemed in the other order, at the same instant.
    for token in reversed(tokens):
        created = env.client.post("/v1/accounts", json=register_body(username(), token))
        assert created.status_code == 201
    redeemed = [{t.input, t.output} for t in tokens]
    issued = set().union(*transcripts)
    assert all(issued.isdisjoint(values) for values in redeemed)
    # Every 32- or 64-byte window of the redeemed values is absent from what was issued.
    for values in redeemed:
        for value in values:
            assert all(value not in seen_value for seen_value in issued)
    # What the server stores after both redemptions: nothing ties a spent token to a code,
    # a pseudonym or an issuance (the rows hold no issuance value and no member value).
    with env.database.read() as session:
        spent = session.execute(select(SpentToken.token_input, SpentToken.spent_at_ms)).all()
        pseudonyms = set(session.scalars(select(MemberCode.member_pseudonym)).all())
        code_hashes = set(session.scalars(select(MemberCode.code_hash)).all())
    assert {row.token_input for row in spent} == {t.input for t in tokens}
    assert len({row.spent_at_ms for row in spent}) == 1
    assert not ({row.token_input for row in spent} & (pseudonyms | code_hashes | issued))
    # Both tokens verify under the one published key: the server has no per-member key
    # that would tell it whose token it is holding.
    secret_key = m.issuer_key_pair(m.issuer_seed(SERVER_SECRET), organization_id)[0]
    for token in tokens:
        m.verify_token(secret_key, token)
    # A blinded element is a uniformly random group element whatever the input: the same
    # token input blinded twice gives unrelated elements, so no transcript fits one token
    # better than another.
    x = tokens[0].input
    again = {oprf.blind(x, Mode.VOPRF)[1] for _ in range(8)}
    assert len(again) == 8
    assert not again & issued
    h = group.hash_to_group(x, b"HashToGroup-" + oprf.context_string(Mode.VOPRF))
    assert h not in issued


# --------------------------------------------------------------------------- races


@pytest.mark.parametrize("web_backend", ["sqlite", "postgresql"], indirect=True)
def test_one_token_redeemed_100_times_at_once_registers_exactly_one_account(
    env: Env, database_url: str
) -> None:
    """Real HTTP to uvicorn, 100 threads released together on one token."""
    org = make_org(env)
    (token,) = get_tokens(env, org, mail_code(env, org, "ana@example.org"), 1)
    bodies = [register_body(username(), token) for _ in range(100)]
    database = Database(database_url)
    app = create_app(env.settings, build_services(env.settings, database))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="critical")
    )
    thread = threading.Thread(target=server.run, name="escrow", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive()
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        barrier = threading.Barrier(len(bodies))
        base = f"http://127.0.0.1:{port}"

        # One client (thread-safe), a connection per request: building 100 clients would
        # cost more than the redemptions themselves.
        limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
        with httpx.Client(base_url=base, timeout=60, limits=limits) as client:

            def redeem(body: dict[str, object]) -> tuple[int, str]:
                barrier.wait(timeout=30)
                response = client.post("/v1/accounts", json=body)
                return response.status_code, response.json().get("detail", "")

            with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
                results = list(pool.map(redeem, bodies))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        database.dispose()
    assert not thread.is_alive()
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 99}, statuses
    assert {detail for status, detail in results if status == 409} == {
        "this membership token has already been used; each registers one account"
    }
    assert accounts_in(env, org) == 1
    with env.database.read() as session:
        assert len(session.scalars(select(SpentToken.token_input)).all()) == 1
