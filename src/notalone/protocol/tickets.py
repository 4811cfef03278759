"""Evaluation tickets: the escrow's permission for one account to use the key servers.

A key server evaluates blinded elements only for a bearer of a valid ticket, and at most
`quota` elements per ticket pseudonym and period. Without tickets the threshold OPRF
would be an oracle: anyone could evaluate every phone number and so learn every tag.

The escrow signs (Ed25519) a short-lived ticket for an authenticated account. The ticket
names the account only by a pseudonym that changes every period,

    pseudonym = HMAC-SHA-256(ticket_secret, "notalone/v1/ticket-pseudonym" ‖ account_id (16)
                             ‖ period u32)                                       32 bytes
    period    = floor(time_ms / period_ms)

so a key server can count one account's evaluations within a period but cannot follow
the account from one period to the next, nor learn its id.

Byte encodings (integers are unsigned big-endian; sizes in bytes):

    signed bytes  "notalone/v1/ticket" (18) ‖ deployment_id (16) ‖ pseudonym (32)
                  ‖ period u32 ‖ not_before_ms u64 ‖ expires_ms u64 ‖ quota u16    = 88
    wire          0x01 ‖ deployment_id ‖ pseudonym ‖ period ‖ not_before_ms ‖ expires_ms
                  ‖ quota ‖ signature (64)                                          = 135

Times are milliseconds since the Unix epoch, passed in by the caller; nothing here reads
a clock. A ticket holds no secret, but its pseudonym links requests within a period, so
it is kept out of reprs (and, by the key server, out of logs).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field, replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from notalone.errors import EncodingError, SignatureError, TicketError, VersionError

# Domain separators: a ticket signature can never be valid for another message the
# escrow's key signs, and a v2 ticket can never verify as v1.
TICKET_DOMAIN = b"notalone/v1/ticket"
PSEUDONYM_DOMAIN = b"notalone/v1/ticket-pseudonym"
# The version marker that opens every ticket on the wire.
VERSION = b"\x01"

DEPLOYMENT_ID_BYTES = 16
ACCOUNT_ID_BYTES = 16
SECRET_BYTES = 32
PSEUDONYM_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

MAX_U16 = 2**16 - 1
MAX_U32 = 2**32 - 1
MAX_U64 = 2**64 - 1

#: Default period of the pseudonym and of the quota: one day.
DEFAULT_PERIOD_MS = 86_400_000
#: Periods shorter than a second would exhaust u32 within decades and make no sense.
MIN_PERIOD_MS = 1_000
#: A ticket is meant for the evaluation that follows its issue, not to be stored.
DEFAULT_LIFETIME_MS = 5 * 60_000
#: The longest lifetime a verifier accepts, whatever the escrow signed.
MAX_LIFETIME_MS = 60 * 60_000
#: Clock difference tolerated between the escrow and a key server.
DEFAULT_SKEW_MS = 60_000

_FIELDS = struct.Struct(f">{DEPLOYMENT_ID_BYTES}s{PSEUDONYM_BYTES}sIQQH")
BODY_BYTES = _FIELDS.size  # 70
MESSAGE_BYTES = len(TICKET_DOMAIN) + BODY_BYTES  # 88
TICKET_BYTES = len(VERSION) + BODY_BYTES + SIGNATURE_BYTES  # 135


def period_of(time_ms: int, period_ms: int = DEFAULT_PERIOD_MS) -> int:
    """The period that `time_ms` falls in: floor(time_ms / period_ms), a u32."""
    _check_int(time_ms, MAX_U64, "time")
    _check_period_ms(period_ms)
    period = time_ms // period_ms
    _check_int(period, MAX_U32, "period")
    return period


def period_end_ms(period: int, period_ms: int = DEFAULT_PERIOD_MS) -> int:
    """The first millisecond after `period`: when a quota counted in it no longer applies."""
    _check_int(period, MAX_U32, "period")
    _check_period_ms(period_ms)
    return (period + 1) * period_ms


def pseudonym(ticket_secret: bytes, account_id: bytes, period: int) -> bytes:
    """The account's ticket pseudonym for `period` (HMAC-SHA-256, 32 bytes)."""
    if not isinstance(ticket_secret, bytes) or len(ticket_secret) != SECRET_BYTES:
        raise EncodingError(f"the escrow's ticket secret is {SECRET_BYTES} bytes")
    if not isinstance(account_id, bytes) or len(account_id) != ACCOUNT_ID_BYTES:
        raise EncodingError(f"an account id is {ACCOUNT_ID_BYTES} bytes")
    message = PSEUDONYM_DOMAIN + account_id + _check_int(period, MAX_U32, "period").to_bytes(4)
    return hmac.new(ticket_secret, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class Ticket:
    """A signed permission to have up to `quota` elements evaluated in `period`."""

    deployment_id: bytes
    # The pseudonym links a period's requests; keep it out of reprs and so out of logs.
    pseudonym: bytes = field(repr=False)
    period: int
    not_before_ms: int
    expires_ms: int
    quota: int
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_bytes(self.deployment_id, DEPLOYMENT_ID_BYTES, "a deployment id")
        _check_bytes(self.pseudonym, PSEUDONYM_BYTES, "a ticket pseudonym")
        _check_int(self.period, MAX_U32, "period")
        _check_int(self.not_before_ms, MAX_U64, "not_before_ms")
        _check_int(self.expires_ms, MAX_U64, "expires_ms")
        _check_int(self.quota, MAX_U16, "quota")
        _check_bytes(self.signature, SIGNATURE_BYTES, "an Ed25519 signature")

    def message(self) -> bytes:
        """The bytes the escrow's signature covers."""
        return TICKET_DOMAIN + self._body()

    def to_bytes(self) -> bytes:
        """The versioned wire form (135 bytes), as the client hands it to a key server."""
        return VERSION + self._body() + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> Ticket:
        """Parse the wire form; raises VersionError or EncodingError. Verifies nothing."""
        if not isinstance(data, bytes) or not data:
            raise EncodingError("an evaluation ticket must be non-empty bytes")
        if data[:1] != VERSION:
            raise VersionError(
                f"unknown evaluation ticket version {data[0]:#04x}; this version reads 0x01"
            )
        if len(data) != TICKET_BYTES:
            raise EncodingError(f"a v1 evaluation ticket is exactly {TICKET_BYTES} bytes")
        body = data[len(VERSION) : len(VERSION) + BODY_BYTES]
        deployment_id, pseudonym_, period, not_before_ms, expires_ms, quota = _FIELDS.unpack(body)
        return cls(
            deployment_id,
            pseudonym_,
            period,
            not_before_ms,
            expires_ms,
            quota,
            data[len(VERSION) + BODY_BYTES :],
        )

    def _body(self) -> bytes:
        return _FIELDS.pack(
            self.deployment_id,
            self.pseudonym,
            self.period,
            self.not_before_ms,
            self.expires_ms,
            self.quota,
        )


@dataclass(frozen=True)
class TicketIssuer:
    """The escrow's side: its signing key, pseudonym secret and deployment settings."""

    signing_key: Ed25519PrivateKey = field(repr=False)
    ticket_secret: bytes = field(repr=False)
    deployment_id: bytes
    period_ms: int = DEFAULT_PERIOD_MS
    lifetime_ms: int = DEFAULT_LIFETIME_MS

    def __post_init__(self) -> None:
        if not isinstance(self.signing_key, Ed25519PrivateKey):
            raise EncodingError("a ticket issuer needs an Ed25519 private key")
        _check_bytes(self.ticket_secret, SECRET_BYTES, "the escrow's ticket secret")
        _check_bytes(self.deployment_id, DEPLOYMENT_ID_BYTES, "a deployment id")
        _check_period_ms(self.period_ms)
        _check_lifetime(self.lifetime_ms, MAX_LIFETIME_MS)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key key servers verify tickets with."""
        return self.signing_key.public_key().public_bytes_raw()

    def issue(self, account_id: bytes, now_ms: int, quota: int) -> Ticket:
        """Sign a ticket for `account_id`, valid from now_ms for the issuer's lifetime.

        The period is the one `now_ms` falls in, so a key server can tell when the quota
        it counts for this ticket starts afresh.
        """
        _check_int(quota, MAX_U16, "quota")
        period = period_of(now_ms, self.period_ms)
        expires_ms = now_ms + self.lifetime_ms
        _check_int(expires_ms, MAX_U64, "expires_ms")
        unsigned = Ticket(
            deployment_id=self.deployment_id,
            pseudonym=pseudonym(self.ticket_secret, account_id, period),
            period=period,
            not_before_ms=now_ms,
            expires_ms=expires_ms,
            quota=quota,
            signature=bytes(SIGNATURE_BYTES),
        )
        return replace(unsigned, signature=self.signing_key.sign(unsigned.message()))


def verify_ticket(
    public_key_bytes: bytes,
    deployment_id: bytes,
    wire: bytes,
    now_ms: int,
    *,
    skew_ms: int = DEFAULT_SKEW_MS,
    period_ms: int = DEFAULT_PERIOD_MS,
    max_lifetime_ms: int = MAX_LIFETIME_MS,
) -> Ticket:
    """Parse and check a ticket as a key server must before evaluating anything.

    Raises VersionError or EncodingError for a malformed ticket, SignatureError if the
    escrow's key did not sign it, and TicketError if it is for another deployment, not
    yet valid, expired (both with `skew_ms` of tolerance), valid for longer than
    `max_lifetime_ms`, or dated in another period than its own. The signature is checked
    first, so nothing unauthenticated is reasoned about.
    """
    ticket = Ticket.from_bytes(wire)
    _check_bytes(public_key_bytes, PUBLIC_KEY_BYTES, "the escrow's Ed25519 ticket public key")
    _check_bytes(deployment_id, DEPLOYMENT_ID_BYTES, "a deployment id")
    _check_int(now_ms, MAX_U64, "now_ms")
    _check_int(skew_ms, MAX_LIFETIME_MS, "skew_ms")
    _check_period_ms(period_ms)
    _check_lifetime(max_lifetime_ms, MAX_U64)
    public_key = Ed25519PublicKey.from_public_bytes(public_key_bytes)
    try:
        public_key.verify(ticket.signature, ticket.message())
    except InvalidSignature as e:
        raise SignatureError("the evaluation ticket is not signed by this escrow's key") from e
    if ticket.deployment_id != deployment_id:
        raise TicketError("the evaluation ticket is for another deployment")
    if ticket.expires_ms <= ticket.not_before_ms:
        raise TicketError("the evaluation ticket expires before it becomes valid")
    if ticket.expires_ms - ticket.not_before_ms > max_lifetime_ms:
        raise TicketError(
            f"the evaluation ticket is valid for longer than {max_lifetime_ms // 1000} s; "
            "the escrow must issue shorter-lived tickets"
        )
    if now_ms + skew_ms < ticket.not_before_ms:
        raise TicketError("the evaluation ticket is not valid yet; check the clocks")
    if now_ms >= ticket.expires_ms + skew_ms:
        raise TicketError("the evaluation ticket has expired; ask the escrow for a new one")
    # The quota is counted per (pseudonym, period); a period that does not match the
    # ticket's own start would let a ticket draw on a quota that is not its own.
    if ticket.period != ticket.not_before_ms // period_ms:
        raise TicketError(
            "the evaluation ticket's period does not match its start; "
            "the escrow and key server disagree about the period length"
        )
    return ticket


def _check_bytes(value: bytes, length: int, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != length:
        raise EncodingError(f"{what} is {length} bytes")
    return value


def _check_int(value: int, maximum: int, name: str) -> int:
    # bool is an int subclass; True as a time or count is always a caller's mistake.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise EncodingError(f"{name} must be an integer from 0 to {maximum}")
    return value


def _check_period_ms(period_ms: int) -> None:
    _check_int(period_ms, MAX_U64, "period_ms")
    if period_ms < MIN_PERIOD_MS:
        raise EncodingError(f"a ticket period is at least {MIN_PERIOD_MS} ms")


def _check_lifetime(lifetime_ms: int, maximum: int) -> None:
    _check_int(lifetime_ms, maximum, "ticket lifetime (ms)")
    if lifetime_ms == 0:
        raise EncodingError("a ticket lifetime must be positive")
