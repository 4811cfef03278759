"""The counselor console's API: enrollment in the browser, cases, notes, formal reports."""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from notalone.crypto import hpke
from notalone.protocol import casework, reports, slots
from notalone.services.escrow import counselor_fingerprint, vouching_message
from notalone.storage.models import Case, CaseNote, CounselorEnrollment, Report
from tests.web.conftest import DEPLOYMENT_ID, Counselor, Env


def _code(env: Env, counselor_id: str, **extra: object) -> str:
    made = env.client.post(
        "/v1/counselor-enrollments",
        json={"counselor_id": counselor_id, "display_name": f"Dr {counselor_id}", **extra},
        headers=env.operator(),
    )
    assert made.status_code == 201, made.text
    assert made.json()["expires_at_ms"] > env.clock.now_ms
    return str(made.json()["code"])


def _enroll(env: Env, counselor_id: str) -> Counselor:
    private, public = hpke.generate_key_pair()
    made = env.client.post(
        "/v1/counselor/enroll", json={"code": _code(env, counselor_id), "public_key": public.hex()}
    )
    assert made.status_code == 201, made.text
    return Counselor(counselor_id, private, public, made.json()["token"])


def _match(env: Env, *counselors: Counselor, contact: str = "signal:me") -> bytes:
    """One survivor per counselor names the same person: a match; its id."""
    y = secrets.token_bytes(64)
    for counselor in counselors:
        survivor = env.survivor()
        made = env.post_entry(survivor, [env.slot(y, survivor.account_id, counselor, contact)])
        assert made.status_code == 201, made.text
    cases = env.client.get("/v1/counselor/cases", headers=counselors[0].headers()).json()
    return bytes.fromhex(cases["cases"][0]["match_id"])


def _intake_key(env: Env) -> tuple[bytes, bytes, bytes]:
    """An organization with an enrolled admin: (organization id, private, public)."""
    organization = env.client.post(
        "/v1/organizations", json={"name": f"Org {secrets.token_hex(3)}"}, headers=env.operator()
    ).json()["organization_id"]
    code = env.client.post(
        f"/v1/organizations/{organization}/admin-enrollments",
        json={"display_name": "Admin"},
        headers=env.operator(),
    ).json()["code"]
    private, public = hpke.generate_key_pair()
    enrolled = env.client.post(
        "/v1/organization/enroll", json={"code": code, "intake_public_key": public.hex()}
    )
    assert enrolled.status_code == 201, enrolled.text
    return bytes.fromhex(organization), private, public


# -- enrollment ----------------------------------------------------------------------------


def test_a_counselor_enrolls_the_key_made_in_their_browser(env: Env) -> None:
    _, public = hpke.generate_key_pair()
    code = _code(env, "c-lee", notify_email="Lee@Example.org")
    made = env.client.post("/v1/counselor/enroll", json={"code": code, "public_key": public.hex()})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["id"] == "c-lee"
    assert body["fingerprint"] == counselor_fingerprint(public)
    vouching = env.services.escrow.vouching_public_key  # type: ignore[union-attr]
    Ed25519PublicKey.from_public_bytes(vouching).verify(
        bytes.fromhex(body["vouching_signature"]), vouching_message("c-lee", public)
    )
    listed = env.client.get("/v1/counselors").json()["counselors"]
    assert [c for c in listed if c["id"] == "c-lee"] == [
        {
            "id": "c-lee",
            "display_name": "Dr c-lee",
            "public_key": public.hex(),
            "fingerprint": body["fingerprint"],
            "vouching_signature": body["vouching_signature"],
        }
    ]
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert env.client.get("/v1/counselor/cases", headers=headers).json() == {"cases": []}
    # The code worked once; a second use changes nothing and does not echo the code.
    again = env.client.post(
        "/v1/counselor/enroll", json={"code": code, "public_key": secrets.token_hex(32)}
    )
    assert again.status_code == 422
    assert again.headers["content-type"] == "application/problem+json"
    assert code not in again.text
    assert "already used" in again.json()["detail"]
    assert len(env.client.get("/v1/counselors").json()["counselors"]) == len(listed)


def test_unknown_expired_and_taken_enrollments_change_nothing(env: Env) -> None:
    taken = env.counselor("c-old")
    unknown = env.client.post(
        "/v1/counselor/enroll",
        json={"code": "ABCD-EFGH-JKMN-PQRS-TVWX", "public_key": secrets.token_hex(32)},
    )
    assert unknown.status_code == 422
    # A key already registered: 409, and the code stays good for another key.
    code = _code(env, "c-new")
    clash = env.client.post(
        "/v1/counselor/enroll", json={"code": code, "public_key": taken.public_key.hex()}
    )
    assert clash.status_code == 409
    with env.database.read() as session:
        row = session.scalars(
            select(CounselorEnrollment).where(CounselorEnrollment.counselor_id == "c-new")
        ).one()
        assert row.used_at_ms is None
    # An id already registered gets no code.
    refused = env.client.post(
        "/v1/counselor-enrollments",
        json={"counselor_id": "c-old", "display_name": "Dr Old"},
        headers=env.operator(),
    )
    assert refused.status_code == 409
    # Expired: the clock passes the code's lifetime.
    short = _code(env, "c-short", ttl_seconds=60)
    env.clock.now_ms += 60_000
    expired = env.client.post(
        "/v1/counselor/enroll", json={"code": short, "public_key": secrets.token_hex(32)}
    )
    assert expired.status_code == 422
    ids = {c["id"] for c in env.client.get("/v1/counselors").json()["counselors"]}
    assert ids == {"c-old"}
    # The clashing code still works, typed in lower case without dashes.
    typed = code.replace("-", "").lower()
    ok = env.client.post(
        "/v1/counselor/enroll", json={"code": typed, "public_key": secrets.token_hex(32)}
    )
    assert ok.status_code == 201, ok.text


def test_bad_enrollment_requests_are_refused(env: Env) -> None:
    operator = env.operator()
    # 400: the body's shape; 422: content the rules refuse.
    for body, status in (
        ({"counselor_id": "-bad", "display_name": "X"}, 422),
        ({"counselor_id": "c-x", "display_name": "   "}, 422),
        ({"counselor_id": "c-x", "display_name": "X", "notify_email": "not an address"}, 422),
        ({"counselor_id": "c-x", "display_name": "X", "ttl_seconds": 0}, 400),
        ({"counselor_id": "c-x", "display_name": "X", "ttl_seconds": 91 * 86400}, 400),
        ({"counselor_id": "c-x", "display_name": "X", "extra": 1}, 400),
    ):
        response = env.client.post("/v1/counselor-enrollments", json=body, headers=operator)
        assert response.status_code == status, body
        assert "not an address" not in response.text
    for body, status in (
        ({"code": "x", "public_key": "00" * 32}, 422),
        ({"code": "x", "public_key": "zz"}, 400),
        ({"code": "x"}, 400),
    ):
        assert env.client.post("/v1/counselor/enroll", json=body).status_code == status, body
    with env.database.read() as session:
        assert session.scalars(select(CounselorEnrollment)).first() is None


# -- cases ---------------------------------------------------------------------------------


def test_cases_packages_and_other_counselors(env: Env) -> None:
    ana, ben = _enroll(env, "c-ana"), _enroll(env, "c-ben")
    match_id = _match(env, ana, ben, contact="Signal +1 555 0100")
    [case] = env.client.get("/v1/counselor/cases", headers=ana.headers()).json()["cases"]
    assert case["match_id"] == match_id.hex()
    assert case["state"] == "new"
    assert case["other_counselors"] == [{"id": "c-ben", "display_name": "Dr c-ben"}]
    [package] = case["packages"]
    opened = slots.open_package(
        ana.private_key,
        DEPLOYMENT_ID,
        bytes.fromhex(package["slot_id"]),
        bytes.fromhex(package["inner"]),
    )
    assert opened.contact == "Signal +1 555 0100"
    # Ben's view holds Ben's package only.
    [ben_case] = env.client.get("/v1/counselor/cases", headers=ben.headers()).json()["cases"]
    assert ben_case["packages"][0]["slot_id"] != package["slot_id"]
    assert ben_case["other_counselors"] == [{"id": "c-ana", "display_name": "Dr c-ana"}]


def test_case_states_move_forward_only(env: Env) -> None:
    ana = _enroll(env, "c-ana")
    match_id = _match(env, ana, ana).hex()
    url = f"/v1/counselor/cases/{match_id}/state"
    env.clock.now_ms += 1000
    moved = env.client.put(url, json={"state": "contacted"}, headers=ana.headers())
    assert moved.status_code == 200, moved.text
    assert (moved.json()["state"], moved.json()["updated_at_ms"]) == ("contacted", env.clock.now_ms)
    assert len(moved.json()["packages"]) == 2
    for back in ("new", "contacted"):
        refused = env.client.put(url, json={"state": back}, headers=ana.headers())
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
    assert env.client.put(url, json={"state": "closed"}, headers=ana.headers()).status_code == 200
    assert env.client.put(url, json={"state": "open"}, headers=ana.headers()).status_code == 400
    [case] = env.client.get("/v1/counselor/cases", headers=ana.headers()).json()["cases"]
    assert case["state"] == "closed"


def test_notes_are_sealed_to_the_counselors_own_key(env: Env) -> None:
    ana, ben = _enroll(env, "c-ana"), _enroll(env, "c-ben")
    match_id = _match(env, ana, ben)
    url = f"/v1/counselor/cases/{match_id.hex()}/notes"
    sealed = casework.seal_case_note(ana.public_key, "c-ana", match_id, "Called her back.")
    made = env.client.post(url, json={"sealed": sealed.hex()}, headers=ana.headers())
    assert made.status_code == 201, made.text
    [note] = env.client.get(url, headers=ana.headers()).json()["notes"]
    assert note["id"] == made.json()["id"]
    opened = casework.open_case_note(
        ana.private_key, "c-ana", match_id, bytes.fromhex(note["sealed"])
    )
    assert opened == "Called her back."
    # Ben shares the match but not Ana's notes.
    assert env.client.get(url, headers=ben.headers()).json() == {"notes": []}
    for bad, status in (("02" + "00" * 60, 422), ("0", 400), ("", 400), ("zz", 400)):
        refused = env.client.post(url, json={"sealed": bad}, headers=ana.headers())
        assert refused.status_code == status, bad
    assert len(env.client.get(url, headers=ana.headers()).json()["notes"]) == 1


def test_a_match_not_held_is_the_same_404_as_no_match(env: Env) -> None:
    ana, ben, cy = _enroll(env, "c-ana"), _enroll(env, "c-ben"), _enroll(env, "c-cy")
    match_id = _match(env, ana, ben).hex()
    organization_id, _, _ = _intake_key(env)
    answers = []
    for match in (match_id, secrets.token_hex(16)):
        base = f"/v1/counselor/cases/{match}"
        for method, path, body in (
            ("PUT", "/state", {"state": "contacted"}),
            ("POST", "/notes", {"sealed": "01" + "00" * 60}),
            ("GET", "/notes", None),
            (
                "POST",
                "/reports",
                {"organization_id": organization_id.hex(), "sealed": "01" + "00" * 60},
            ),
        ):
            response = env.client.request(method, base + path, json=body, headers=cy.headers())
            assert response.status_code == 404, (method, path)
            answers.append((method, path, response.json()))
    assert answers[:4] == answers[4:]
    with env.database.read() as session:
        for model in (Case, CaseNote, Report):
            assert session.scalars(select(model)).first() is None


def test_a_formal_report_reaches_the_organization_sealed(env: Env) -> None:
    ana = _enroll(env, "c-ana")
    match_id = _match(env, ana, ana)
    organization_id, private, public = _intake_key(env)
    text = "Formal report: two survivors named the same manager."
    sealed = reports.seal_report(public, organization_id, match_id, text)
    made = env.client.post(
        f"/v1/counselor/cases/{match_id.hex()}/reports",
        json={"organization_id": organization_id.hex(), "sealed": sealed.hex()},
        headers=ana.headers(),
    )
    assert made.status_code == 201, made.text
    with env.database.read() as session:
        row = session.get(Report, bytes.fromhex(made.json()["id"]))
        assert row is not None
        assert (row.organization_id, row.counselor_id, row.match_id) == (
            organization_id,
            "c-ana",
            match_id,
        )
        assert reports.open_report(private, organization_id, match_id, row.sealed) == text
    # An organization without an intake key (or none at all): 422, nothing stored.
    bare = env.client.post(
        "/v1/organizations", json={"name": "No key yet"}, headers=env.operator()
    ).json()["organization_id"]
    for organization in (bare, secrets.token_hex(16)):
        refused = env.client.post(
            f"/v1/counselor/cases/{match_id.hex()}/reports",
            json={"organization_id": organization, "sealed": sealed.hex()},
            headers=ana.headers(),
        )
        assert refused.status_code == 422
        assert "intake key" in refused.json()["detail"]
    with env.database.read() as session:
        assert len(session.scalars(select(Report)).all()) == 1


def test_casework_routes_need_a_counselor_token(env: Env) -> None:
    survivor = env.survivor()
    for headers in ({}, survivor.headers, {"Authorization": "Bearer " + "0" * 64}):
        assert env.client.get("/v1/counselor/cases", headers=headers).status_code == 401
    assert (
        env.client.post(
            "/v1/counselor-enrollments", json={"counselor_id": "c-x", "display_name": "X"}
        ).status_code
        == 401
    )
