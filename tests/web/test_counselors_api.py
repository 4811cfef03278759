"""The counselor registry and inboxes through HTTP: vouching, fingerprints, tokens shown
once and stored as hashes, and refusals that never echo the request."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from notalone.crypto import hpke
from notalone.storage.models import Counselor, CounselorToken
from notalone.web.security import SECURITY_HEADERS
from tests.web.conftest import Env

BOTH = pytest.mark.parametrize("web_backend", ["sqlite", "postgresql"], indirect=True)


@BOTH
def test_the_operator_vouches_for_counselors_and_anyone_can_check(env: Env) -> None:
    ana = env.counselor("c-ana")
    env.counselor("c-ben")
    response = env.client.get("/v1/counselors")
    assert response.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    listed = response.json()["counselors"]
    assert [c["id"] for c in listed] == ["c-ana", "c-ben"]
    entry = listed[0]
    assert entry["display_name"] == "Counselor c-ana"
    assert entry["public_key"] == ana.public_key.hex()
    digest = hashlib.sha256(b"notalone/v1/counselor-fingerprint" + ana.public_key).hexdigest()
    assert entry["fingerprint"] == "-".join(digest[i : i + 4] for i in range(0, 32, 4))
    vouching = bytes.fromhex(env.client.get("/v1/deployment").json()["vouching_public_key"])
    message = b"notalone/v1/counselor" + bytes([5]) + b"c-ana" + ana.public_key
    Ed25519PublicKey.from_public_bytes(vouching).verify(
        bytes.fromhex(entry["vouching_signature"]), message
    )
    # The token is shown once and stored only as a hash.
    with env.database.read() as session:
        hashes = session.scalars(select(CounselorToken.token_hash)).all()
    assert len(hashes) == 2
    assert all(ana.token.encode() not in h and len(h) == 32 for h in hashes)
    assert env.client.get("/v1/counselor/inbox", headers=ana.headers()).json() == {"items": []}


def test_duplicates_and_bad_counselors_are_refused_without_echo(env: Env) -> None:
    ana = env.counselor("c-ana")
    _, fresh_key = hpke.generate_key_pair()
    cases = {
        409: [
            {"id": "c-ana", "display_name": "Again", "public_key": fresh_key.hex()},
            {"id": "c-other", "display_name": "Same key", "public_key": ana.public_key.hex()},
        ],
        422: [
            {"id": "-bad id!", "display_name": "Bad", "public_key": fresh_key.hex()},
            {"id": "c-blank", "display_name": "   ", "public_key": fresh_key.hex()},
        ],
        400: [
            {"id": "c-x", "display_name": "X", "public_key": "zz" * 32},
            {"id": "c-x", "display_name": "X", "public_key": fresh_key.hex(), "extra": 1},
        ],
    }
    for status, bodies in cases.items():
        for body in bodies:
            response = env.client.post("/v1/counselors", json=body, headers=env.operator())
            assert response.status_code == status, (body, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert str(body["public_key"]) not in response.text
            assert "bad id" not in response.text
    assert [c["id"] for c in env.client.get("/v1/counselors").json()["counselors"]] == ["c-ana"]


@BOTH
def test_notify_email_is_stored_normalized_and_never_listed(env: Env) -> None:
    env.counselor("c-ana", notify_email="Ana.Worker@Counsel.EXAMPLE")
    env.counselor("c-ben")
    listed = env.client.get("/v1/counselors")
    assert "ana.worker" not in listed.text.lower()
    assert "notify" not in listed.text
    with env.database.read() as session:
        stored = dict(session.execute(select(Counselor.id, Counselor.notify_email)).all())
    # The domain is lower-cased (email-validator's normalization); the local part is kept.
    assert stored == {"c-ana": "Ana.Worker@counsel.example", "c-ben": None}


def test_a_bad_notify_email_is_refused_without_echo(env: Env) -> None:
    _, key = hpke.generate_key_pair()
    for address, status in [
        ("not-an-address", 422),
        ("Ana <ana@counsel.example>", 422),
        ("ana@localhost", 422),
        ("ånå@counsel.example", 422),
        ("a" * 250 + "@counsel.example", 400),
        ("", 400),
    ]:
        body = {"id": "c-x", "display_name": "X", "public_key": key.hex(), "notify_email": address}
        response = env.client.post("/v1/counselors", json=body, headers=env.operator())
        assert response.status_code == status, (address, response.text)
        if address:
            assert address not in response.text
    assert env.client.get("/v1/counselors").json()["counselors"] == []
