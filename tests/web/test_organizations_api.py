"""The organization routes: admin enrollment and the intake key, invites (revoked ones
register nobody), the counselor pool (and its enforcement on entries), totals with small
counts hidden, and the intake of sealed reports. Who may call what is in
test_authorization_matrix.py; here, what each route does."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from notalone.crypto import hpke
from notalone.protocol.reports import open_report, seal_report
from notalone.services.escrow import OUTSIDE_POOL
from notalone.services.organizations import FEWER_THAN_5, INTAKE_KEY_DIFFERS, INVITE_REVOKED
from notalone.storage.models import Case, MatchMember, Report
from tests.web.conftest import Counselor, Env, Survivor


@dataclass
class Org:
    """An organization with one enrolled admin."""

    id: str
    name: str
    private_key: bytes
    public_key: bytes
    headers: dict[str, str]


def _enrollment(env: Env, organization_id: str, name: str = "Dana") -> str:
    made = env.client.post(
        f"/v1/organizations/{organization_id}/admin-enrollments",
        json={"display_name": name, "ttl_seconds": 3600},
        headers=env.operator(),
    )
    assert made.status_code == 201, made.text
    assert made.json()["expires_at_ms"] == env.clock.now_ms + 3600 * 1000
    return str(made.json()["code"])


def _org(env: Env, name: str | None = None) -> Org:
    name = name or f"Org {secrets.token_hex(3)}"
    made = env.client.post("/v1/organizations", json={"name": name}, headers=env.operator())
    assert made.status_code == 201, made.text
    organization_id = made.json()["organization_id"]
    private_key, public_key = hpke.generate_key_pair()
    enrolled = env.client.post(
        "/v1/organization/enroll",
        json={"code": _enrollment(env, organization_id), "intake_public_key": public_key.hex()},
    )
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["organization_id"] == organization_id
    headers = {"Authorization": f"Bearer {enrolled.json()['token']}"}
    return Org(organization_id, name, private_key, public_key, headers)


def _invite(env: Env, org: Org, count: int = 1, max_uses: int = 1) -> list[str]:
    made = env.client.post(
        "/v1/organization/invites", json={"count": count, "max_uses": max_uses}, headers=org.headers
    )
    assert made.status_code == 201, made.text
    return [str(i["code"]) for i in made.json()["invites"]]


def test_enrollment_sets_the_intake_key_and_a_second_admin_must_bring_it(env: Env) -> None:
    made = env.client.post("/v1/organizations", json={"name": "Acme"}, headers=env.operator())
    organization_id = made.json()["organization_id"]
    listed = env.client.get("/v1/organizations").json()["organizations"]
    assert {"id": organization_id, "name": "Acme", "intake_public_key": None} in listed
    missing = env.client.post(
        f"/v1/organizations/{secrets.token_hex(16)}/admin-enrollments",
        json={"display_name": "X"},
        headers=env.operator(),
    )
    assert missing.status_code == 404
    key = secrets.token_hex(32)
    code = _enrollment(env, organization_id)
    for bad, status in (("00" * 32, 422), ("zz" * 32, 400), (key[:62], 400)):
        refused = env.client.post(
            "/v1/organization/enroll", json={"code": code, "intake_public_key": bad}
        )
        assert refused.status_code == status, refused.text
    enrolled = env.client.post(
        "/v1/organization/enroll", json={"code": code.lower(), "intake_public_key": key}
    )
    assert enrolled.status_code == 201, enrolled.text
    again = env.client.post(
        "/v1/organization/enroll", json={"code": code, "intake_public_key": key}
    )
    assert again.status_code == 422
    assert again.headers["content-type"] == "application/problem+json"
    assert code not in again.text
    listed = env.client.get("/v1/organizations").json()["organizations"]
    assert {"id": organization_id, "name": "Acme", "intake_public_key": key} in listed
    # Another key: 409, and the code still works with the organization's key.
    second = _enrollment(env, organization_id, "Eli")
    other = env.client.post(
        "/v1/organization/enroll",
        json={"code": second, "intake_public_key": secrets.token_hex(32)},
    )
    assert other.status_code == 409
    assert other.json()["detail"] == INTAKE_KEY_DIFFERS
    admin = {"Authorization": f"Bearer {enrolled.json()['token']}"}
    view = env.client.get("/v1/organization", headers=admin).json()
    assert [a["display_name"] for a in view["admins"]] == ["Dana"]
    env.clock.now_ms += 1000
    ok = env.client.post("/v1/organization/enroll", json={"code": second, "intake_public_key": key})
    assert ok.status_code == 201
    view = env.client.get("/v1/organization", headers=admin).json()
    assert (view["id"], view["name"], view["intake_public_key"]) == (organization_id, "Acme", key)
    assert [a["display_name"] for a in view["admins"]] == ["Dana", "Eli"]
    # A token is not accepted once altered.
    forged = enrolled.json()["token"][:-1] + ("0" if enrolled.json()["token"][-1] != "0" else "1")
    assert (
        env.client.get(
            "/v1/organization", headers={"Authorization": f"Bearer {forged}"}
        ).status_code
        == 401
    )


def test_invites_are_listed_without_their_codes_and_a_revoked_one_is_refused(env: Env) -> None:
    org, other = _org(env), _org(env)
    used, spare = _invite(env, org, count=2, max_uses=2)
    _invite(env, other)
    env.survivor(used)
    listed = env.client.get("/v1/organization/invites", headers=org.headers)
    assert used not in listed.text
    assert spare not in listed.text
    invites = listed.json()["invites"]
    assert sorted(i["uses"] for i in invites) == [0, 1]
    assert all(i["max_uses"] == 2 and not i["revoked"] for i in invites)
    # Revoke both; the other organization's admin cannot even see them.
    theirs = env.client.get("/v1/organization/invites", headers=other.headers).json()["invites"]
    assert {i["id"] for i in theirs}.isdisjoint({i["id"] for i in invites})
    for invite in invites:
        stranger = env.client.delete(
            f"/v1/organization/invites/{invite['id']}", headers=other.headers
        )
        assert stranger.status_code == 404
        revoked = env.client.delete(f"/v1/organization/invites/{invite['id']}", headers=org.headers)
        assert revoked.status_code == 204
    assert all(
        i["revoked"]
        for i in env.client.get("/v1/organization/invites", headers=org.headers).json()["invites"]
    )
    for code in (used, spare):
        refused = env.client.post("/v1/accounts", json=env.register_body("calm-otter-0042", code))
        assert refused.status_code == 422
        assert refused.json()["detail"] == INVITE_REVOKED
    unknown = env.client.delete(f"/v1/organization/invites/{'ab' * 8}", headers=org.headers)
    assert unknown.status_code == 404
    assert env.client.delete("/v1/organization/invites/xyz", headers=org.headers).status_code == 400
    assert [i["revoked"] for i in theirs] == [False]


def _entry(env: Env, survivor: Survivor, counselor_id: str, keys: dict[str, Counselor]) -> int:
    counselor = keys[counselor_id]
    return env.post_entry(
        survivor, [env.slot(secrets.token_bytes(64), survivor.account_id, counselor)]
    ).status_code


def test_the_pool_narrows_what_survivors_see_and_may_name(env: Env) -> None:
    counselors = {c: env.counselor(c) for c in ("c-ana", "c-ben")}
    org, other = _org(env), _org(env)
    survivor = env.survivor(_invite(env, org)[0])
    outsider = env.survivor(_invite(env, other)[0])

    def offered(who: Survivor) -> list[str]:
        answer = env.client.get("/v1/account/counselors", headers=who.headers)
        assert answer.status_code == 200
        return [c["id"] for c in answer.json()["counselors"]]

    assert offered(survivor) == ["c-ana", "c-ben"]
    assert (
        env.client.put("/v1/organization/counselors/c-ana", headers=org.headers).status_code == 204
    )
    assert (
        env.client.put("/v1/organization/counselors/c-ana", headers=org.headers).status_code == 204
    )
    pool = env.client.get("/v1/organization/counselors", headers=org.headers).json()["counselors"]
    assert [(c["id"], c["in_pool"]) for c in pool] == [("c-ana", True), ("c-ben", False)]
    everyone = env.client.get("/v1/counselors").json()["counselors"]
    assert [{k: v for k, v in c.items() if k != "in_pool"} for c in pool] == everyone
    mine = env.client.get("/v1/account/counselors", headers=survivor.headers).json()["counselors"]
    assert mine == everyone[:1]
    assert offered(outsider) == ["c-ana", "c-ben"]
    # An entry naming a counselor outside the pool: 422, nothing stored.
    refused = env.post_entry(
        survivor,
        [
            env.slot(secrets.token_bytes(64), survivor.account_id, counselors["c-ana"]),
            env.slot(secrets.token_bytes(64), survivor.account_id, counselors["c-ben"]),
        ],
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == OUTSIDE_POOL
    assert env.client.get("/v1/entries", headers=survivor.headers).json()["entries"] == []
    assert _entry(env, survivor, "c-ana", counselors) == 201
    assert _entry(env, outsider, "c-ben", counselors) == 201
    assert (
        env.client.put("/v1/organization/counselors/c-nobody", headers=org.headers).status_code
        == 404
    )
    assert (
        env.client.put("/v1/organization/counselors/-bad", headers=org.headers).status_code == 422
    )
    assert (
        env.client.delete("/v1/organization/counselors/c-ana", headers=org.headers).status_code
        == 204
    )
    assert (
        env.client.delete("/v1/organization/counselors/c-ana", headers=org.headers).status_code
        == 204
    )
    assert offered(survivor) == ["c-ana", "c-ben"]
    assert _entry(env, survivor, "c-ben", counselors) == 201


def _quarter(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def test_totals_hide_every_count_under_5(env: Env) -> None:
    counselors = {"c-ana": env.counselor("c-ana")}
    # Five quarters with 0, 1, 4, 5 and 6 entries: the first quarter is the org's own.
    start = datetime(2026, 1, 15, tzinfo=UTC)
    env.clock.now_ms = int(start.timestamp() * 1000)
    org = _org(env)
    expected = {}
    for quarter, count in enumerate((0, 1, 4, 5, 6)):
        moment = datetime(2026 + quarter // 4, 3 * (quarter % 4) + 1, 20, tzinfo=UTC)
        env.clock.now_ms = int(moment.timestamp() * 1000)
        # A survivor of this quarter (sessions do not outlive a quarter).
        survivor = env.survivor(_invite(env, org)[0])
        for _ in range(count):
            assert _entry(env, survivor, "c-ana", counselors) == 201
        expected[_quarter(env.clock.now_ms)] = count if count >= 5 else FEWER_THAN_5
    answer = env.client.get("/v1/organization/totals", headers=org.headers)
    assert answer.status_code == 200
    quarters = answer.json()["quarters"]
    assert [q["quarter"] for q in quarters] == [
        "2027-Q1",
        "2026-Q4",
        "2026-Q3",
        "2026-Q2",
        "2026-Q1",
    ]
    assert {q["quarter"]: q["entries"] for q in quarters} == expected
    assert {q["matches"] for q in quarters} == {FEWER_THAN_5}
    # No small number leaves the server, in any shape.
    for quarter in quarters:
        for value in (quarter["entries"], quarter["matches"]):
            assert value == FEWER_THAN_5 or (isinstance(value, int) and value >= 5)
    other = _org(env)
    assert {
        q["entries"]
        for q in env.client.get("/v1/organization/totals", headers=other.headers).json()["quarters"]
    } == {FEWER_THAN_5}


def test_reports_arrive_sealed_for_their_organization_only(env: Env) -> None:
    ana = env.counselor("c-ana")
    org, other = _org(env, "Acme"), _org(env)
    y = secrets.token_bytes(64)
    for _ in range(env.settings.match_threshold):
        survivor = env.survivor(_invite(env, org)[0])
        assert env.post_entry(survivor, [env.slot(y, survivor.account_id, ana)]).status_code == 201
    with env.database.read() as session:
        match_id = session.scalars(select(MatchMember.match_id)).first()
    assert match_id is not None
    sealed = seal_report(org.public_key, bytes.fromhex(org.id), match_id, "A formal report.")
    with env.database.transaction() as session:
        session.add(
            Case(counselor_id="c-ana", match_id=match_id, state="contacted", updated_at_ms=1)
        )
        session.flush()
        session.add(
            Report(
                id=secrets.token_bytes(16),
                organization_id=bytes.fromhex(org.id),
                counselor_id="c-ana",
                match_id=match_id,
                sealed=sealed,
                created_at_ms=env.clock.now_ms,
            )
        )
    [report] = env.client.get("/v1/organization/reports", headers=org.headers).json()["reports"]
    assert (report["match_id"], report["counselor_id"], report["counselor_name"]) == (
        match_id.hex(),
        "c-ana",
        "Counselor c-ana",
    )
    opened = open_report(
        org.private_key, bytes.fromhex(org.id), match_id, bytes.fromhex(report["sealed"])
    )
    assert opened == "A formal report."
    assert env.client.get("/v1/organization/reports", headers=other.headers).json() == {
        "reports": []
    }
    totals = env.client.get("/v1/organization/totals", headers=org.headers).json()["quarters"]
    assert totals[0]["matches"] == FEWER_THAN_5


@pytest.mark.parametrize("web_backend", ["postgresql"], indirect=True)
def test_enrollment_and_revocation_on_postgresql(env: Env) -> None:
    org = _org(env)
    [code] = _invite(env, org)
    [invite] = env.client.get("/v1/organization/invites", headers=org.headers).json()["invites"]
    assert (
        env.client.delete(
            f"/v1/organization/invites/{invite['id']}", headers=org.headers
        ).status_code
        == 204
    )
    refused = env.client.post("/v1/accounts", json=env.register_body("calm-otter-0007", code))
    assert refused.json()["detail"] == INVITE_REVOKED
