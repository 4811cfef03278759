"""Key-share files: dealing, atomic private writes, and strict loading with clear errors."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notalone.crypto import group, oprf, threshold
from notalone.crypto.oprf import Mode
from notalone.errors import (
    EncodingError,
    InvalidElementError,
    NotAloneError,
    ThresholdError,
    VersionError,
)
from notalone.keyserver import keyfile
from notalone.protocol import tickets

DEPLOYMENT_ID = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


@pytest.fixture
def dealt() -> keyfile.DealtKeys:
    return keyfile.deal_keys(2, 3, deployment_id=DEPLOYMENT_ID)


@pytest.fixture
def written(dealt: keyfile.DealtKeys, tmp_path: Path) -> Path:
    keyfile.write_dealt_keys(dealt, tmp_path / "keys")
    return tmp_path / "keys"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _edit(path: Path, **changes: Any) -> None:
    document = json.loads(path.read_text())
    for name, value in changes.items():
        if value is None:
            del document[name]
        else:
            document[name] = value
    path.write_text(json.dumps(document))


def test_deal_write_and_load(dealt: keyfile.DealtKeys, written: Path) -> None:
    names = sorted(p.name for p in written.iterdir())
    assert names == [
        "escrow-ticket-key.json",
        "federation.json",
        "keyserver-1.json",
        "keyserver-2.json",
        "keyserver-3.json",
    ]
    assert _mode(written) == 0o700
    for name in names:
        expected = 0o644 if name == "federation.json" else 0o600
        assert _mode(written / name) == expected, name
    for share in dealt.shares:
        loaded = keyfile.load_key_file(written / f"keyserver-{share.index}.json")
        assert loaded.share == share
        assert loaded.federation == dealt.federation
        assert loaded.deployment == dealt.deployment
        assert loaded.deployment.deployment_id == DEPLOYMENT_ID
        assert loaded.deployment.ticket_period_ms == tickets.DEFAULT_PERIOD_MS
    info = keyfile.load_federation_file(written / "federation.json")
    assert info.federation == dealt.federation
    assert info.deployment == dealt.deployment
    public = (written / "federation.json").read_text()
    for share in dealt.shares:
        assert share.secret_key.hex() not in public


def test_the_shares_reconstruct_one_key(dealt: keyfile.DealtKeys, written: Path) -> None:
    # Any two shares evaluate like the key whose public key the federation announces.
    shares = [keyfile.load_key_file(written / f"keyserver-{i}.json").share for i in (1, 2, 3)]
    x = b"notalone/v1/id|email|jane@example.org"
    r, blinded = oprf.blind(x, Mode.VOPRF)
    answers = [threshold.evaluate_share(s, [blinded]) for s in shares]
    outputs = {
        threshold.finalize_threshold(dealt.federation, [x], [r], [blinded], list(pair))[0]
        for pair in ([answers[0], answers[1]], [answers[0], answers[2]], [answers[1], answers[2]])
    }
    assert len(outputs) == 1


def test_the_escrow_ticket_key_issues_tickets_key_servers_accept(
    dealt: keyfile.DealtKeys, written: Path
) -> None:
    issuer = keyfile.load_ticket_issuer(written / "escrow-ticket-key.json")
    assert issuer.public_key == dealt.deployment.ticket_public_key
    assert issuer.deployment_id == DEPLOYMENT_ID
    ticket = issuer.issue(b"A" * 16, 1_000_000_000_000, quota=8)
    loaded = keyfile.load_key_file(written / "keyserver-1.json")
    verified = tickets.verify_ticket(
        loaded.deployment.ticket_public_key, DEPLOYMENT_ID, ticket.to_bytes(), 1_000_000_000_000
    )
    assert verified.quota == 8


def test_a_given_ticket_key_writes_no_escrow_file(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    dealt = keyfile.deal_keys(1, 1, ticket_public_key=key, ticket_period_ms=3_600_000)
    assert dealt.ticket_signing_key is None
    paths = keyfile.write_dealt_keys(dealt, tmp_path)
    assert [p.name for p in paths] == ["keyserver-1.json", "federation.json"]
    loaded = keyfile.load_key_file(tmp_path / "keyserver-1.json")
    assert loaded.deployment.ticket_public_key == key
    assert loaded.deployment.ticket_period_ms == 3_600_000
    assert len(loaded.deployment.deployment_id) == 16


def test_existing_files_are_never_overwritten_without_force(
    dealt: keyfile.DealtKeys, written: Path
) -> None:
    before = {p.name: p.read_bytes() for p in written.iterdir()}
    again = keyfile.deal_keys(2, 3)
    with pytest.raises(FileExistsError, match="--force"):
        keyfile.write_dealt_keys(again, written)
    assert {p.name: p.read_bytes() for p in written.iterdir()} == before
    keyfile.write_dealt_keys(again, written, force=True)
    assert keyfile.load_key_file(written / "keyserver-1.json").share == again.shares[0]
    # No temporary file is left behind.
    assert sorted(before) == sorted(p.name for p in written.iterdir())


def test_a_race_for_one_file_is_lost_without_clobbering(
    dealt: keyfile.DealtKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer creates keyserver-2.json after the existence check: link() refuses.
    original = keyfile._write_atomic

    def racing(path: Path, data: bytes, mode: int, *, replace: bool) -> None:
        if path.name == "keyserver-2.json":
            path.write_text("theirs")
        original(path, data, mode, replace=replace)

    monkeypatch.setattr(keyfile, "_write_atomic", racing)
    with pytest.raises(FileExistsError):
        keyfile.write_dealt_keys(dealt, tmp_path)
    assert (tmp_path / "keyserver-2.json").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_dealing_arguments_are_checked() -> None:
    with pytest.raises(ThresholdError):
        keyfile.deal_keys(3, 2)
    with pytest.raises(EncodingError, match="deployment id"):
        keyfile.deal_keys(2, 3, deployment_id=b"short")
    with pytest.raises(EncodingError, match="ticket public key"):
        keyfile.deal_keys(2, 3, ticket_public_key=b"short")
    with pytest.raises(EncodingError, match="ticket period"):
        keyfile.deal_keys(2, 3, ticket_period_ms=10)
    with pytest.raises(EncodingError, match="ticket period"):
        keyfile.deal_keys(2, 3, ticket_period_ms=keyfile.MAX_PERIOD_MS + 1)


def _load_error(path: Path) -> NotAloneError:
    with pytest.raises(NotAloneError) as raised:
        keyfile.load_key_file(path)
    return raised.value


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"v": 2}, VersionError, "unknown key file version 2"),
        ({"v": None}, VersionError, "version None"),
        ({"kind": "notalone/federation"}, EncodingError, "expected a 'notalone/keyserver-share'"),
        ({"suite": "P256-SHA256"}, EncodingError, "another OPRF suite"),
        ({"mode": 0}, EncodingError, "another OPRF suite"),
        ({"index": 0}, EncodingError, "'index' must be an integer from 1 to 255"),
        ({"index": "1"}, EncodingError, "'index'"),
        ({"index": 3}, ThresholdError, "differs from the federation's entry"),
        ({"secret_key": None}, EncodingError, "'secret_key' must be 32 bytes"),
        ({"secret_key": "zz" * 32}, EncodingError, "'secret_key' must be 32 bytes"),
        ({"secret_key": "ff" * 32}, EncodingError, "not reduced"),
        ({"secret_key": "00" * 32}, EncodingError, "is zero"),
        ({"public_key": "AB" * 32}, EncodingError, "lower-case hex"),
        ({"deployment_id": "00" * 15}, EncodingError, "'deployment_id'"),
        ({"ticket_public_key": 7}, EncodingError, "'ticket_public_key'"),
        ({"ticket_period_ms": 999}, EncodingError, "'ticket_period_ms'"),
        ({"ticket_period_ms": True}, EncodingError, "'ticket_period_ms'"),
        ({"federation": []}, EncodingError, "'federation' must be an object"),
    ],
)
def test_load_errors_name_the_file_and_hide_the_secret(
    written: Path, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    path = written / "keyserver-1.json"
    secret = json.loads(path.read_text())["secret_key"]
    _edit(path, **changes)
    raised = _load_error(path)
    assert type(raised) is error
    assert str(raised).startswith(f"{path}: ")
    assert message in str(raised)
    assert secret not in str(raised)


def test_a_secret_that_does_not_match_its_public_key(written: Path) -> None:
    path = written / "keyserver-1.json"
    other = group.random_scalar()
    _edit(path, secret_key=other.hex())
    raised = _load_error(path)
    assert isinstance(raised, ThresholdError)
    assert "does not match its public key" in str(raised)
    assert other.hex() not in str(raised)


def test_an_inconsistent_federation_is_refused(written: Path) -> None:
    path = written / "keyserver-1.json"
    document = json.loads(path.read_text())
    document["federation"]["public_key"] = group.mult_base(group.random_scalar()).hex()
    path.write_text(json.dumps(document))
    raised = _load_error(path)
    assert isinstance(raised, ThresholdError)
    assert "inconsistent" in str(raised)


@pytest.mark.parametrize(
    ("federation", "error", "message"),
    [
        ({"threshold": 2, "public_key": "00" * 32, "shares": []}, EncodingError, "non-empty"),
        ({"threshold": 2, "public_key": "00" * 32, "shares": [1]}, EncodingError, "an object"),
        (
            {"threshold": 1, "public_key": "11" * 32, "shares": [{"index": 1, "public_key": "00"}]},
            EncodingError,
            "'public_key' must be 32 bytes",
        ),
    ],
)
def test_malformed_federations(
    written: Path, federation: dict[str, Any], error: type[Exception], message: str
) -> None:
    path = written / "federation.json"
    _edit(path, federation=federation)
    with pytest.raises(error, match=message):
        keyfile.load_federation_file(path)


def test_an_identity_public_key_is_named(written: Path) -> None:
    path = written / "federation.json"
    document = json.loads(path.read_text())
    document["federation"]["shares"][0]["public_key"] = "00" * 32
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidElementError, match=f"^{path}: .*identity"):
        keyfile.load_federation_file(path)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert "no such file" in str(_load_error(missing))
    directory = tmp_path / "dir.json"
    directory.mkdir()
    assert "cannot be read (IsADirectoryError)" in str(_load_error(directory))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe")
    assert "cannot be read (UnicodeDecodeError)" in str(_load_error(binary))
    broken = tmp_path / "broken.json"
    broken.write_text('{"secret_key": "abc')
    message = str(_load_error(broken))
    assert "not valid JSON" in message
    assert "abc" not in message
    array = tmp_path / "array.json"
    array.write_text("[]")
    assert "expected a JSON object" in str(_load_error(array))


def test_a_key_file_readable_by_others_is_loaded_with_a_warning(
    written: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = written / "keyserver-1.json"
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="notalone.keyserver"):
        keyfile.load_key_file(path)
    assert "readable by other users (mode 0644)" in caplog.text


def test_ticket_key_file_errors(written: Path) -> None:
    path = written / "escrow-ticket-key.json"
    other = Ed25519PrivateKey.generate().private_bytes_raw().hex()
    _edit(path, private_key=other)
    with pytest.raises(EncodingError, match=f"^{path}: .*does not match") as raised:
        keyfile.load_ticket_issuer(path)
    assert other not in str(raised.value)
    with pytest.raises(EncodingError, match="expected a 'notalone/escrow-ticket-key'"):
        keyfile.load_ticket_issuer(written / "federation.json")


def test_reprs_hold_no_secret(dealt: keyfile.DealtKeys, written: Path) -> None:
    loaded = keyfile.load_key_file(written / "keyserver-1.json")
    issuer = keyfile.load_ticket_issuer(written / "escrow-ticket-key.json")
    text = repr(dealt) + repr(loaded) + repr(issuer)
    assert dealt.ticket_secret is not None
    assert dealt.ticket_signing_key is not None
    for secret in [
        *(s.secret_key for s in dealt.shares),
        dealt.ticket_secret,
        dealt.ticket_signing_key.private_bytes_raw(),
    ]:
        assert secret.hex() not in text
