"""The authorization matrix of the escrow: every role against every route and object.

Roles: nobody (no credential), a survivor who owns the object, another survivor, a
counselor who holds a package of the match, another counselor, the operator, a
survivor's token sent the wrong way (a bearer token as a cookie), the admin of the
survivors' organization and another organization's admin. For every route the app
serves (read from its OpenAPI schema, so a new route without a row here fails the test),
each role is either let through (any answer but 401/403/404) or refused: 401 for a
missing or wrong credential, 404 for another survivor's object, a case the counselor
holds no package of, or another organization's object (the answer a missing object
gets, so ids cannot be probed).

Where a credential travels in the body (registration, login) or the route is public by
design (deployment, counselors, the log, the key-server relay whose credential is the
ticket), every role passes the authorization step. Each refused write is also checked
to have changed nothing visible to its owner.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
import pytest

from notalone.crypto import aead
from tests.web.conftest import Counselor, Env, entry_body

ROLES = (
    "nobody",
    "owner",
    "other",
    "counselor",
    "other-counselor",
    "operator",
    "bearer-as-cookie",
    "org-admin",
    "other-org-admin",
)
PUBLIC = frozenset(ROLES)
SURVIVOR = frozenset({"owner", "other"})
OWNER = frozenset({"owner"})
COUNSELOR = frozenset({"counselor", "other-counselor"})
#: Case routes of a match "counselor" holds packages of: "other-counselor" holds none of
#: it and is refused with 404, the answer a match that does not exist gets.
CASE_OWNER = frozenset({"counselor"})
OPERATOR = frozenset({"operator"})
#: Admins of organizations X (the matrix organization) and Y; admin routes act on the
#: organization of the caller's token, so Y's admin passes them for Y's own objects.
ORG_ADMIN = frozenset({"org-admin", "other-org-admin"})
#: Routes naming one of X's objects: Y's admin is refused with 404, like "other" above.
ORG_ADMIN_OWNER = frozenset({"org-admin"})

#: (method, path template) -> the roles let through. "other" on an object route means a
#: survivor who does not own the object: refused with 404.
MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/v1/organizations"): OPERATOR,
    ("POST", "/v1/organizations/{organization_id}/invites"): OPERATOR,
    ("POST", "/v1/accounts"): PUBLIC,  # the invite code is the credential
    ("POST", "/v1/login/start"): PUBLIC,
    ("POST", "/v1/login/finish"): PUBLIC,  # the auth key is the credential
    ("POST", "/v1/login/recovery"): PUBLIC,
    ("POST", "/v1/logout"): SURVIVOR,
    ("PUT", "/v1/account/passphrase"): SURVIVOR,
    ("GET", "/v1/account"): SURVIVOR,
    ("GET", "/v1/deployment"): PUBLIC,
    ("POST", "/v1/tickets"): SURVIVOR,
    ("POST", "/v1/entries"): SURVIVOR,
    ("GET", "/v1/entries"): SURVIVOR,
    ("DELETE", "/v1/entries/{entry_id}"): OWNER,
    ("GET", "/v1/keyservers/{position}/keys"): PUBLIC,
    ("POST", "/v1/keyservers/{position}/evaluate"): PUBLIC,  # the ticket is the credential
    ("GET", "/v1/counselors"): PUBLIC,
    ("POST", "/v1/counselors"): OPERATOR,
    ("GET", "/v1/counselor/inbox"): COUNSELOR,
    ("POST", "/v1/records"): SURVIVOR,
    ("GET", "/v1/records"): SURVIVOR,
    ("POST", "/v1/records/{record_id}/versions"): OWNER,
    ("GET", "/v1/records/{record_id}"): OWNER,
    ("GET", "/v1/log/head"): PUBLIC,
    ("GET", "/v1/log/consistency"): PUBLIC,
    # -- organizations (issue 5) --
    ("GET", "/v1/organizations"): PUBLIC,
    ("POST", "/v1/organizations/{organization_id}/admin-enrollments"): OPERATOR,
    ("POST", "/v1/organization/enroll"): PUBLIC,  # the enrollment code is the credential
    ("GET", "/v1/organization"): ORG_ADMIN,
    ("POST", "/v1/organization/invites"): ORG_ADMIN,
    ("GET", "/v1/organization/invites"): ORG_ADMIN,
    ("DELETE", "/v1/organization/invites/{invite_id}"): ORG_ADMIN_OWNER,
    ("GET", "/v1/organization/counselors"): ORG_ADMIN,
    ("PUT", "/v1/organization/counselors/{counselor_id}"): ORG_ADMIN,
    ("DELETE", "/v1/organization/counselors/{counselor_id}"): ORG_ADMIN,
    ("GET", "/v1/organization/totals"): ORG_ADMIN,
    ("GET", "/v1/organization/reports"): ORG_ADMIN,
    ("GET", "/v1/account/counselors"): SURVIVOR,
    # -- counselor console (issue 5) --
    ("POST", "/v1/counselor-enrollments"): OPERATOR,
    ("POST", "/v1/counselor/enroll"): PUBLIC,  # the enrollment code is the credential
    ("GET", "/v1/counselor/cases"): COUNSELOR,
    ("PUT", "/v1/counselor/cases/{match_id}/state"): CASE_OWNER,
    ("POST", "/v1/counselor/cases/{match_id}/notes"): CASE_OWNER,
    ("GET", "/v1/counselor/cases/{match_id}/notes"): CASE_OWNER,
    ("POST", "/v1/counselor/cases/{match_id}/reports"): CASE_OWNER,
    # -- membership tokens (issue 5) --
    ("GET", "/v1/organizations/{organization_id}/issuer"): PUBLIC,
    ("POST", "/v1/organization/member-codes"): ORG_ADMIN,
    ("POST", "/v1/membership/tokens"): PUBLIC,  # the member code is the credential
}


LAST = frozenset({("POST", "/v1/logout"), ("DELETE", "/v1/entries/{entry_id}")})


@dataclass
class World:
    """Two survivors (one owns an entry and a record), a counselor, the operator."""

    env: Env
    headers: dict[str, dict[str, str]]
    cookies: dict[str, dict[str, str]]
    entry_id: str
    record_id: str
    organization_id: str
    invite_id: str = ""
    match_id: str = ""


def _box() -> bytes:
    # The server never opens a record box; any v1 AEAD box will do.
    return aead.seal(secrets.token_bytes(32), b"what happened", b"notalone/v1/record")


@pytest.fixture
def world(env: Env) -> World:
    ana = env.counselor("c-ana")
    ben = env.counselor("c-ben")
    owner, other = env.survivor(), env.survivor()
    entry = env.post_entry(owner, [env.slot(secrets.token_bytes(64), owner.account_id, ana)])
    assert entry.status_code == 201
    record_id = secrets.token_hex(16)
    made = env.client.post(
        "/v1/records",
        json={"record_id": record_id, "ciphertext": _box().hex()},
        headers=owner.headers,
    )
    assert made.status_code == 201
    organization = env.client.post(
        "/v1/organizations", json={"name": "Matrix org"}, headers=env.operator()
    ).json()["organization_id"]
    bearer_token = owner.headers["Authorization"].removeprefix("Bearer ")
    admin, invite_id = _org_admin(env, organization)
    other_admin, _ = _org_admin(
        env,
        env.client.post(
            "/v1/organizations", json={"name": "Matrix org Y"}, headers=env.operator()
        ).json()["organization_id"],
    )
    return World(
        env=env,
        headers={
            "nobody": {},
            "owner": owner.headers,
            "other": other.headers,
            "counselor": ana.headers(),
            "other-counselor": ben.headers(),
            "operator": env.operator(),
            "bearer-as-cookie": {},
            "org-admin": admin,
            "other-org-admin": other_admin,
        },
        cookies={"bearer-as-cookie": {env.settings.cookie_name: bearer_token}},
        entry_id=entry.json()["entry_id"],
        record_id=record_id,
        organization_id=organization,
        invite_id=invite_id,
        match_id=_match(env, ana),
    )


def _match(env: Env, counselor: Counselor) -> str:
    """Two more survivors name one person through `counselor`: a match of theirs."""
    y = secrets.token_bytes(64)
    for survivor in (env.survivor(), env.survivor()):
        made = env.post_entry(survivor, [env.slot(y, survivor.account_id, counselor)])
        assert made.status_code == 201, made.text
    [case] = env.client.get("/v1/counselor/cases", headers=counselor.headers()).json()["cases"]
    return str(case["match_id"])


def _org_admin(env: Env, organization_id: str) -> tuple[dict[str, str], str]:
    """An enrolled admin of the organization, and the id of an invite they made."""
    code = env.client.post(
        f"/v1/organizations/{organization_id}/admin-enrollments",
        json={"display_name": "Admin"},
        headers=env.operator(),
    ).json()["code"]
    enrolled = env.client.post(
        "/v1/organization/enroll", json={"code": code, "intake_public_key": secrets.token_hex(32)}
    )
    assert enrolled.status_code == 201, enrolled.text
    headers = {"Authorization": f"Bearer {enrolled.json()['token']}"}
    made = env.client.post("/v1/organization/invites", json={}, headers=headers)
    assert made.status_code == 201, made.text
    [invite] = env.client.get("/v1/organization/invites", headers=headers).json()["invites"]
    return headers, str(invite["id"])


def _body(world: World, method: str, template: str) -> dict[str, object] | None:
    """A body that passes validation where the route needs one, so that what the answer
    says is about who asked, not about the body."""
    if method in ("GET", "DELETE"):
        return None
    if template == "/v1/records/{record_id}/versions":
        return {"version": 2, "ciphertext": _box().hex()}
    if template == "/v1/entries":
        return entry_body([])  # refused for its content only after authentication
    # Valid case bodies: a case route's 404 for a match not held comes after validation.
    case_bodies: dict[str, dict[str, object]] = {
        "/v1/counselor/cases/{match_id}/state": {"state": "contacted"},
        "/v1/counselor/cases/{match_id}/notes": {"sealed": "01" + "00" * 60},
        "/v1/counselor/cases/{match_id}/reports": {
            "organization_id": world.organization_id,
            "sealed": "01" + "00" * 60,
        },
    }
    if template in case_bodies:
        return case_bodies[template]
    if template == "/v1/organization/member-codes":
        return {"email": "member@example.org"}
    return {}


def _path(world: World, template: str) -> str:
    return (
        template.replace("{entry_id}", world.entry_id)
        .replace("{record_id}", world.record_id)
        .replace("{organization_id}", world.organization_id)
        .replace("{position}", "0")
        .replace("{invite_id}", world.invite_id)
        .replace("{counselor_id}", "c-ana")
        .replace("{match_id}", world.match_id)
    )


def _ask(world: World, role: str, method: str, template: str) -> httpx.Response:
    client = world.env.client
    client.cookies.clear()
    for name, value in world.cookies.get(role, {}).items():
        client.cookies.set(name, value)
    try:
        return client.request(
            method,
            _path(world, template) + ("?old=1" if template == "/v1/log/consistency" else ""),
            json=_body(world, method, template),
            headers=world.headers[role],
        )
    finally:
        client.cookies.clear()


def _owner_view(world: World) -> tuple[object, ...]:
    owner = world.headers["owner"]
    client = world.env.client
    return (
        client.get("/v1/entries", headers=owner).json(),
        client.get(f"/v1/records/{world.record_id}", headers=owner).json(),
        client.get("/v1/organization/invites", headers=world.headers["org-admin"]).json(),
        client.get("/v1/counselor/cases", headers=world.headers["counselor"]).json(),
        client.get(
            f"/v1/counselor/cases/{world.match_id}/notes", headers=world.headers["counselor"]
        ).json(),
    )


def test_the_authorization_matrix(world: World) -> None:
    schema = world.env.app.openapi()
    served = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    assert served == set(MATRIX), "a route without a row (or a row without a route)"
    before = _owner_view(world)
    denials = 0
    # Every refused cell first: afterwards the owner's data must be exactly as before.
    for (method, template), allowed in sorted(MATRIX.items()):
        for role in ROLES:
            if role in allowed:
                continue
            response = _ask(world, role, method, template)
            where = f"{method} {template} as {role}: {response.status_code} {response.text[:120]}"
            denials += 1
            expected = 404 if role == "other" and allowed == OWNER else 401
            if role == "other-org-admin" and allowed == ORG_ADMIN_OWNER:
                expected = 404
            if role == "other-counselor" and allowed == CASE_OWNER:
                expected = 404
            assert response.status_code == expected, where
            assert response.headers["content-type"] == "application/problem+json", where
    assert _owner_view(world) == before, "a refused request changed the owner's data"
    # Then every allowed cell: past authorization (whatever the body makes of it). An
    # allowed logout or withdrawal would end what the other cells rely on: those last.
    for (method, template), allowed in sorted(MATRIX.items()):
        for role in sorted(allowed):
            if (method, template) in LAST:
                continue
            response = _ask(world, role, method, template)
            where = f"{method} {template} as {role}: {response.status_code} {response.text[:120]}"
            assert response.status_code not in (401, 403, 404), where
    # The cells skipped above, now: withdrawing is the owner's; logging out ends a session.
    assert _ask(world, "owner", "DELETE", "/v1/entries/{entry_id}").status_code == 204
    assert _ask(world, "other", "POST", "/v1/logout").status_code in (200, 204)
    assert _ask(world, "owner", "POST", "/v1/logout").status_code in (200, 204)
    assert _ask(world, "owner", "GET", "/v1/account").status_code == 401
    print(f"\nauthorization matrix: {len(MATRIX)} routes x {len(ROLES)} roles, {denials} denials")
    # Every row's refusals counted: dropping a row, or a role from one, fails here.
    assert denials >= 244
