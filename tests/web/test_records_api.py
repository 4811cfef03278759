"""Records and the transparency log through HTTP: receipts that verify against the
deployment's log key, versions in order, other accounts' records as missing, and
consistency between tree heads. On SQLite, and the main path on PostgreSQL too."""

from __future__ import annotations

import secrets

import httpx
import pytest

from notalone.crypto import aead
from notalone.protocol.receipts import (
    Receipt,
    SignedTreeHead,
    verify_consistency_between,
    verify_receipt,
)
from notalone.web.security import SECURITY_HEADERS
from tests.web.conftest import Env, Survivor

PROBLEM = "application/problem+json"
BOTH = pytest.mark.parametrize("web_backend", ["sqlite", "postgresql"], indirect=True)


def _box(text: bytes = b"what happened") -> bytes:
    # The server never opens a box; any v1 AEAD box will do.
    return aead.seal(secrets.token_bytes(32), text, b"notalone/v1/record")


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    return dict(response.json())


def _log_key(env: Env) -> bytes:
    return bytes.fromhex(env.client.get("/v1/deployment").json()["log_public_key"])


def _create(env: Env, survivor: Survivor, record_id: bytes, box: bytes) -> Receipt:
    response = env.client.post(
        "/v1/records",
        json={"record_id": record_id.hex(), "ciphertext": box.hex()},
        headers=survivor.headers,
    )
    assert response.status_code == 201, response.text
    return Receipt.from_bytes(bytes.fromhex(response.json()["receipt"]))


def _add(
    env: Env, survivor: Survivor, record_id: bytes, version: int, box: bytes
) -> httpx.Response:
    return env.client.post(
        f"/v1/records/{record_id.hex()}/versions",
        json={"version": version, "ciphertext": box.hex()},
        headers=survivor.headers,
    )


def _head(env: Env) -> SignedTreeHead:
    response = env.client.get("/v1/log/head")
    assert response.status_code == 200, response.text
    return SignedTreeHead.from_bytes(bytes.fromhex(response.json()["tree_head"]))


@BOTH
def test_records_get_receipts_that_verify_and_versions_in_order(env: Env) -> None:
    survivor = env.survivor()
    key = _log_key(env)
    record_id = secrets.token_bytes(16)
    boxes = [_box(), _box(b"more"), _box(b"even more")]
    receipt = _create(env, survivor, record_id, boxes[0])
    assert verify_receipt(boxes[0], receipt, key) == env.clock()
    first_head = _head(env)
    for version, box in enumerate(boxes[1:], start=2):
        env.clock.now_ms += 1000
        response = _add(env, survivor, record_id, version, box)
        assert response.status_code == 201, response.text
        receipt = Receipt.from_bytes(bytes.fromhex(response.json()["receipt"]))
        assert verify_receipt(box, receipt, key) == env.clock()

    listed = env.client.get("/v1/records", headers=survivor.headers).json()["records"]
    assert [(r["record_id"], r["versions"]) for r in listed] == [(record_id.hex(), 3)]
    stored = env.client.get(f"/v1/records/{record_id.hex()}", headers=survivor.headers)
    assert stored.status_code == 200
    versions = stored.json()["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    for v, box in zip(versions, boxes, strict=True):
        assert bytes.fromhex(v["ciphertext"]) == box
        assert (
            verify_receipt(box, Receipt.from_bytes(bytes.fromhex(v["receipt"])), key)
            == (v["created_at_ms"])
        )

    latest = _head(env)
    assert latest.tree_size == 3
    proof = env.client.get("/v1/log/consistency", params={"old": 1, "new": 3}).json()
    assert SignedTreeHead.from_bytes(bytes.fromhex(proof["tree_head"])) == latest
    nodes = [bytes.fromhex(n) for n in proof["proof"]]
    verify_consistency_between(first_head, latest, nodes, key)
    by_default = env.client.get("/v1/log/consistency", params={"old": 1}).json()
    assert by_default == proof


def test_a_version_that_is_not_the_next_is_a_conflict(env: Env) -> None:
    survivor = env.survivor()
    record_id = secrets.token_bytes(16)
    _create(env, survivor, record_id, _box())
    for version in (1, 3):
        problem = _problem(_add(env, survivor, record_id, version, _box()), 409)
        assert "next must be 2" in str(problem["detail"])
    assert _add(env, survivor, record_id, 2, _box()).status_code == 201


def test_someone_elses_record_is_indistinguishable_from_a_missing_one(env: Env) -> None:
    owner, other = env.survivor(), env.survivor()
    record_id = secrets.token_bytes(16)
    _create(env, owner, record_id, _box())
    missing = secrets.token_bytes(16)
    for path in (f"/v1/records/{record_id.hex()}", f"/v1/records/{missing.hex()}"):
        assert record_id.hex() not in env.client.get(path, headers=other.headers).text
    theirs = _problem(env.client.get(f"/v1/records/{record_id.hex()}", headers=other.headers), 404)
    absent = _problem(env.client.get(f"/v1/records/{missing.hex()}", headers=other.headers), 404)
    assert theirs == absent
    add_theirs = _problem(_add(env, other, record_id, 2, _box()), 404)
    add_absent = _problem(_add(env, other, missing, 2, _box()), 404)
    assert add_theirs == add_absent == theirs
    assert env.client.get("/v1/records", headers=other.headers).json() == {"records": []}
    taken = env.client.post(
        "/v1/records",
        json={"record_id": record_id.hex(), "ciphertext": _box().hex()},
        headers=other.headers,
    )
    _problem(taken, 422)


def test_boxes_are_checked_and_never_echoed(env: Env) -> None:
    survivor = env.survivor()
    record_id = secrets.token_bytes(16)
    _create(env, survivor, record_id, _box())
    unversioned = b"\x02" + _box()[1:]
    response = _add(env, survivor, record_id, 2, unversioned)
    _problem(response, 400)
    assert unversioned.hex() not in response.text
    short = env.client.post(
        "/v1/records",
        json={"record_id": secrets.token_hex(16), "ciphertext": "01" * 10},
        headers=survivor.headers,
    )
    _problem(short, 422)
    assert "01" * 10 not in short.text
    malformed = env.client.post(
        "/v1/records", json={"record_id": "xyz", "ciphertext": "01"}, headers=survivor.headers
    )
    _problem(malformed, 400)
    assert "xyz" not in malformed.text


def test_a_replayed_record_upload_is_answered_from_storage(env: Env) -> None:
    survivor = env.survivor()
    body = {"record_id": secrets.token_hex(16), "ciphertext": _box().hex()}
    headers = {**survivor.headers, "Idempotency-Key": "record-1"}
    first = env.client.post("/v1/records", json=body, headers=headers)
    again = env.client.post("/v1/records", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert again.headers["idempotent-replayed"] == "true"
    assert _head(env).tree_size == 1


def test_the_log_routes_are_public_and_check_their_sizes(env: Env) -> None:
    _problem(env.client.get("/v1/log/head"), 404)
    _problem(env.client.get("/v1/log/consistency", params={"old": 0}), 422)
    survivor = env.survivor()
    _create(env, survivor, secrets.token_bytes(16), _box())
    assert _head(env).tree_size == 1
    _problem(env.client.get("/v1/log/consistency", params={"old": 2}), 422)
    _problem(env.client.get("/v1/log/consistency", params={"old": 0, "new": 5}), 422)
    _problem(env.client.get("/v1/log/consistency", params={"old": -1}), 400)
    empty = env.client.get("/v1/log/consistency", params={"old": 1, "new": 1})
    assert empty.json()["proof"] == []
