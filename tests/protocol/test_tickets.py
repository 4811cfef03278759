"""Evaluation tickets: encoding, signature, validity window, pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from notalone.errors import EncodingError, SignatureError, TicketError, VersionError
from notalone.protocol import tickets
from notalone.protocol.tickets import Ticket, TicketIssuer, verify_ticket

DEPLOYMENT = bytes.fromhex("00112233445566778899aabbccddeeff")
OTHER_DEPLOYMENT = bytes(16)
SECRET = bytes(range(32))
ACCOUNT = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
DAY = tickets.DEFAULT_PERIOD_MS
NOW = 20_000 * DAY + 12 * 3_600_000  # noon, day 20,000 after the epoch
# RFC 8032 TEST 1: a public test key, so the pinned ticket below can be reproduced.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)


@pytest.fixture
def issuer(signing_key: Ed25519PrivateKey) -> TicketIssuer:
    return TicketIssuer(signing_key, SECRET, DEPLOYMENT)


def _resign(signing_key: Ed25519PrivateKey, ticket: Ticket, **changes: object) -> bytes:
    """A ticket with some fields changed, properly signed: for checks after the signature."""
    fields = {
        "deployment_id": ticket.deployment_id,
        "pseudonym": ticket.pseudonym,
        "period": ticket.period,
        "not_before_ms": ticket.not_before_ms,
        "expires_ms": ticket.expires_ms,
        "quota": ticket.quota,
        "signature": ticket.signature,
        **changes,
    }
    unsigned = Ticket(**fields)  # type: ignore[arg-type]
    signed = Ticket(**{**fields, "signature": signing_key.sign(unsigned.message())})  # type: ignore[arg-type]
    return signed.to_bytes()


def test_round_trip(issuer: TicketIssuer) -> None:
    ticket = issuer.issue(ACCOUNT, NOW, quota=25)
    wire = ticket.to_bytes()
    assert len(wire) == tickets.TICKET_BYTES == 135
    assert wire[0] == 1
    assert Ticket.from_bytes(wire) == ticket
    verified = verify_ticket(issuer.public_key, DEPLOYMENT, wire, NOW)
    assert verified == ticket
    assert verified.period == 20_000
    assert verified.not_before_ms == NOW
    assert verified.expires_ms == NOW + tickets.DEFAULT_LIFETIME_MS
    assert verified.quota == 25
    assert verified.pseudonym == tickets.pseudonym(SECRET, ACCOUNT, 20_000)


def test_message_and_wire_layout_follow_the_spec(issuer: TicketIssuer) -> None:
    ticket = issuer.issue(ACCOUNT, NOW, quota=7)
    fields = struct.pack(">IQQH", ticket.period, NOW, ticket.expires_ms, 7)
    assert ticket.message() == b"notalone/v1/ticket" + DEPLOYMENT + ticket.pseudonym + fields
    assert len(ticket.message()) == tickets.MESSAGE_BYTES == 88
    assert ticket.to_bytes() == b"\x01" + DEPLOYMENT + ticket.pseudonym + fields + ticket.signature


def test_pinned_ticket_under_the_rfc8032_test_key(issuer: TicketIssuer) -> None:
    # A regression vector for the browser and any other implementation (Ed25519 is
    # deterministic); computed by this implementation, not an independent source.
    assert issuer.public_key.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    pseudonym = tickets.pseudonym(SECRET, ACCOUNT, 20_000)
    expected = hmac.new(
        SECRET, b"notalone/v1/ticket-pseudonym" + ACCOUNT + (20_000).to_bytes(4), hashlib.sha256
    ).digest()
    assert pseudonym == expected
    wire = issuer.issue(ACCOUNT, NOW, quota=25).to_bytes()
    assert wire.hex() == (
        "0100112233445566778899aabbccddeeff9c0dfca4811b43d88cfc38587aae6ae398f2"
        "79baa0098416ca0d31c98fe0bdb200004e20000001925766ae0000000192576b41e000"
        "195c27bf8cfd9d392622c7355c39fcce95ba7a3a0c0841027c3c44fb313dda0392efb5"
        "356a07b41beca67334c8824ac9fb7ae59b599ddbbea904d9a454a3185c03"
    )
    assert wire[1:-64] == DEPLOYMENT + expected + struct.pack(
        ">IQQH", 20_000, NOW, NOW + 300_000, 25
    )


@pytest.mark.parametrize(
    ("offset", "what"),
    [
        (1, "deployment id"),
        (17, "pseudonym"),
        (49, "period"),
        (53, "not_before_ms"),
        (61, "expires_ms"),
        (69, "quota"),
        (71, "signature R"),
        (134, "signature S"),
    ],
)
def test_every_tampered_field_breaks_the_signature(
    issuer: TicketIssuer, offset: int, what: str
) -> None:
    wire = bytearray(issuer.issue(ACCOUNT, NOW, quota=25).to_bytes())
    wire[offset] ^= 0x01
    with pytest.raises(SignatureError):
        verify_ticket(issuer.public_key, DEPLOYMENT, bytes(wire), NOW)


def test_another_escrow_key_is_refused(issuer: TicketIssuer) -> None:
    wire = issuer.issue(ACCOUNT, NOW, quota=25).to_bytes()
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(SignatureError, match="not signed by this escrow"):
        verify_ticket(other, DEPLOYMENT, wire, NOW)


def test_validity_window_with_skew(issuer: TicketIssuer) -> None:
    wire = issuer.issue(ACCOUNT, NOW, quota=1).to_bytes()
    expires = NOW + tickets.DEFAULT_LIFETIME_MS
    skew = tickets.DEFAULT_SKEW_MS
    verify_ticket(issuer.public_key, DEPLOYMENT, wire, NOW - skew)
    verify_ticket(issuer.public_key, DEPLOYMENT, wire, expires + skew - 1)
    with pytest.raises(TicketError, match="not valid yet"):
        verify_ticket(issuer.public_key, DEPLOYMENT, wire, NOW - skew - 1)
    with pytest.raises(TicketError, match="expired"):
        verify_ticket(issuer.public_key, DEPLOYMENT, wire, expires + skew)
    with pytest.raises(TicketError, match="expired"):
        verify_ticket(issuer.public_key, DEPLOYMENT, wire, expires, skew_ms=0)


def test_other_deployment_is_refused(signing_key: Ed25519PrivateKey) -> None:
    elsewhere = TicketIssuer(signing_key, SECRET, OTHER_DEPLOYMENT)
    wire = elsewhere.issue(ACCOUNT, NOW, quota=1).to_bytes()
    with pytest.raises(TicketError, match="another deployment"):
        verify_ticket(elsewhere.public_key, DEPLOYMENT, wire, NOW)


def test_lifetime_is_capped_by_the_verifier(
    signing_key: Ed25519PrivateKey, issuer: TicketIssuer
) -> None:
    ticket = issuer.issue(ACCOUNT, NOW, quota=1)
    too_long = _resign(signing_key, ticket, expires_ms=NOW + tickets.MAX_LIFETIME_MS + 1)
    with pytest.raises(TicketError, match="longer than 3600 s"):
        verify_ticket(issuer.public_key, DEPLOYMENT, too_long, NOW)
    just_right = _resign(signing_key, ticket, expires_ms=NOW + tickets.MAX_LIFETIME_MS)
    verify_ticket(issuer.public_key, DEPLOYMENT, just_right, NOW)
    with pytest.raises(TicketError, match="longer than 60 s"):
        verify_ticket(issuer.public_key, DEPLOYMENT, just_right, NOW, max_lifetime_ms=60_000)


def test_empty_or_inverted_window_is_refused(
    signing_key: Ed25519PrivateKey, issuer: TicketIssuer
) -> None:
    ticket = issuer.issue(ACCOUNT, NOW, quota=1)
    for expires in (NOW, NOW - 1):
        wire = _resign(signing_key, ticket, expires_ms=expires)
        with pytest.raises(TicketError, match="expires before"):
            verify_ticket(issuer.public_key, DEPLOYMENT, wire, NOW)


def test_period_must_match_the_start(signing_key: Ed25519PrivateKey, issuer: TicketIssuer) -> None:
    ticket = issuer.issue(ACCOUNT, NOW, quota=1)
    wire = _resign(signing_key, ticket, period=ticket.period + 1)
    with pytest.raises(TicketError, match="period"):
        verify_ticket(issuer.public_key, DEPLOYMENT, wire, NOW)
    # A key server configured with another period length refuses the escrow's tickets.
    good = ticket.to_bytes()
    with pytest.raises(TicketError, match="period"):
        verify_ticket(issuer.public_key, DEPLOYMENT, good, NOW, period_ms=3_600_000)


def test_a_ticket_issued_late_in_a_period_stays_in_it(issuer: TicketIssuer) -> None:
    late = 20_001 * DAY - 1
    wire = issuer.issue(ACCOUNT, late, quota=1).to_bytes()
    ticket = verify_ticket(issuer.public_key, DEPLOYMENT, wire, late + 120_000)
    assert ticket.period == 20_000
    assert tickets.period_end_ms(ticket.period) == 20_001 * DAY


def test_unknown_version_and_wrong_lengths(issuer: TicketIssuer) -> None:
    wire = issuer.issue(ACCOUNT, NOW, quota=1).to_bytes()
    with pytest.raises(VersionError, match="0x02"):
        Ticket.from_bytes(b"\x02" + wire[1:])
    with pytest.raises(VersionError):
        verify_ticket(issuer.public_key, DEPLOYMENT, b"\x00" + wire[1:], NOW)
    for bad in (wire[:-1], wire + b"\x00", b"\x01"):
        with pytest.raises(EncodingError, match="exactly 135 bytes"):
            verify_ticket(issuer.public_key, DEPLOYMENT, bad, NOW)
    for empty in (b"", "01" * 135):
        with pytest.raises(EncodingError, match="non-empty bytes"):
            Ticket.from_bytes(empty)  # type: ignore[arg-type]


def test_verifier_arguments_are_checked(issuer: TicketIssuer) -> None:
    wire = issuer.issue(ACCOUNT, NOW, quota=1).to_bytes()
    key = issuer.public_key
    with pytest.raises(EncodingError, match="public key"):
        verify_ticket(key[:31], DEPLOYMENT, wire, NOW)
    with pytest.raises(EncodingError, match="deployment id"):
        verify_ticket(key, DEPLOYMENT.hex().encode(), wire, NOW)
    with pytest.raises(EncodingError, match="now_ms"):
        verify_ticket(key, DEPLOYMENT, wire, -1)
    with pytest.raises(EncodingError, match="skew_ms"):
        verify_ticket(key, DEPLOYMENT, wire, NOW, skew_ms=tickets.MAX_LIFETIME_MS + 1)
    with pytest.raises(EncodingError, match="at least 1000 ms"):
        verify_ticket(key, DEPLOYMENT, wire, NOW, period_ms=999)
    with pytest.raises(EncodingError, match="positive"):
        verify_ticket(key, DEPLOYMENT, wire, NOW, max_lifetime_ms=0)


def test_ticket_fields_are_checked() -> None:
    good = {
        "deployment_id": DEPLOYMENT,
        "pseudonym": bytes(32),
        "period": 1,
        "not_before_ms": 1,
        "expires_ms": 2,
        "quota": 1,
        "signature": bytes(64),
    }
    Ticket(**good)  # type: ignore[arg-type]
    for name, bad in [
        ("deployment_id", bytes(15)),
        ("pseudonym", bytes(33)),
        ("period", 2**32),
        ("not_before_ms", -1),
        ("expires_ms", 2**64),
        ("quota", 2**16),
        ("quota", True),
        ("signature", "00" * 64),
    ]:
        with pytest.raises(EncodingError):
            Ticket(**{**good, name: bad})  # type: ignore[arg-type]


def test_pseudonym_changes_across_periods_and_accounts() -> None:
    base = tickets.pseudonym(SECRET, ACCOUNT, 100)
    assert len(base) == 32
    assert tickets.pseudonym(SECRET, ACCOUNT, 100) == base
    assert tickets.pseudonym(SECRET, ACCOUNT, 101) != base
    assert tickets.pseudonym(SECRET, bytes(16), 100) != base
    assert tickets.pseudonym(bytes(32), ACCOUNT, 100) != base


@given(
    account=st.binary(min_size=16, max_size=16),
    period=st.integers(0, tickets.MAX_U32 - 1),
)
def test_consecutive_periods_never_share_a_pseudonym(account: bytes, period: int) -> None:
    assert tickets.pseudonym(SECRET, account, period) != tickets.pseudonym(
        SECRET, account, period + 1
    )


def test_pseudonym_arguments_are_checked() -> None:
    with pytest.raises(EncodingError, match="ticket secret"):
        tickets.pseudonym(SECRET[:31], ACCOUNT, 1)
    with pytest.raises(EncodingError, match="account id"):
        tickets.pseudonym(SECRET, ACCOUNT + b"\x00", 1)
    with pytest.raises(EncodingError, match="period"):
        tickets.pseudonym(SECRET, ACCOUNT, 2**32)


def test_periods() -> None:
    assert tickets.period_of(0) == 0
    assert tickets.period_of(DAY - 1) == 0
    assert tickets.period_of(DAY) == 1
    assert tickets.period_of(7_200_000, period_ms=3_600_000) == 2
    assert tickets.period_end_ms(2, period_ms=3_600_000) == 10_800_000
    with pytest.raises(EncodingError, match="period must be"):
        tickets.period_of(2**32 * 1_000, period_ms=1_000)
    with pytest.raises(EncodingError, match="at least 1000 ms"):
        tickets.period_end_ms(1, period_ms=1)
    with pytest.raises(EncodingError, match="time"):
        tickets.period_of(-5)


def test_issuer_settings_are_checked(signing_key: Ed25519PrivateKey) -> None:
    with pytest.raises(EncodingError, match="Ed25519 private key"):
        TicketIssuer(RFC8032_SEED, SECRET, DEPLOYMENT)  # type: ignore[arg-type]
    with pytest.raises(EncodingError, match="ticket secret"):
        TicketIssuer(signing_key, SECRET + b"\x00", DEPLOYMENT)
    with pytest.raises(EncodingError, match="deployment id"):
        TicketIssuer(signing_key, SECRET, DEPLOYMENT[:8])
    with pytest.raises(EncodingError, match="at least 1000 ms"):
        TicketIssuer(signing_key, SECRET, DEPLOYMENT, period_ms=10)
    with pytest.raises(EncodingError, match="lifetime"):
        TicketIssuer(signing_key, SECRET, DEPLOYMENT, lifetime_ms=tickets.MAX_LIFETIME_MS + 1)
    with pytest.raises(EncodingError, match="positive"):
        TicketIssuer(signing_key, SECRET, DEPLOYMENT, lifetime_ms=0)


def test_issue_arguments_are_checked(issuer: TicketIssuer) -> None:
    with pytest.raises(EncodingError, match="quota"):
        issuer.issue(ACCOUNT, NOW, quota=70_000)
    # Only a period long enough to keep the period number in u32 can reach this check.
    long_periods = TicketIssuer(issuer.signing_key, SECRET, DEPLOYMENT, period_ms=2**63)
    with pytest.raises(EncodingError, match="expires_ms"):
        long_periods.issue(ACCOUNT, tickets.MAX_U64 - 1, quota=1)


def test_reprs_hide_the_secret_and_the_pseudonym(issuer: TicketIssuer) -> None:
    ticket = issuer.issue(ACCOUNT, NOW, quota=3)
    text = repr(ticket) + str(ticket) + repr(issuer) + str(issuer)
    for hidden in (SECRET, ticket.pseudonym, ticket.signature, RFC8032_SEED):
        assert hidden.hex() not in text
        assert repr(hidden) not in text
    assert "quota=3" in repr(ticket)
    assert "period=20000" in repr(ticket)
