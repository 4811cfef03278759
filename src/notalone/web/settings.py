"""The escrow's settings: a frozen dataclass read once at the edge and passed down.

Secrets are required (style rule 7: a missing secret is a startup error, never a silent
default): the server secret keys the fake login salts, the rate-limit keys and the
idempotency hashes; the operator token guards the organization routes.

The escrow routes (tickets, entries, counselors, records, the log) need the deployment's
keys as well: the deployment id and federation (public), the key servers' URLs, the
ticket signing key and pseudonym secret, the transparency log's signing key and the
operator's counselor-vouching key. In the dataclass they come all together or not at all
(an accounts-only app, as the account tests build, has none); a partial set is a
start-up error. `load_settings(path)`, what `notalone escrow --config FILE` reads,
requires all of them. The config file format is in docs/escrow-api.md ("Settings").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notalone.crypto.kdf import Argon2Params
from notalone.crypto.threshold import Federation, verify_federation
from notalone.errors import EncodingError, InputError, NotAloneError
from notalone.protocol.accounts import ARGON2_DEFAULT, ARGON2_FLOOR
from notalone.protocol.federation import federation_from_json
from notalone.protocol.tickets import (
    DEFAULT_LIFETIME_MS,
    DEFAULT_PERIOD_MS,
    DEPLOYMENT_ID_BYTES,
    MAX_LIFETIME_MS,
    MIN_PERIOD_MS,
    SECRET_BYTES,
    TicketIssuer,
)
from notalone.services.accounts import AccountPolicy
from notalone.services.escrow import EscrowPolicy, normalize_notify_email
from notalone.services.membership import MembershipPolicy
from notalone.web import keyfiles

MIN_SECRET_BYTES = 32
MIN_OPERATOR_TOKEN_CHARS = 32
#: The __Host- prefix makes browsers refuse the cookie unless it is Secure, has Path=/ and
#: no Domain: another subdomain cannot set or overwrite it.
DEFAULT_COOKIE_NAME = "__Host-notalone-session"


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class EscrowSettings:
    """Everything the escrow's web app needs; validated when built."""

    database_url: str
    server_secret: bytes = field(repr=False)
    operator_token: str = field(repr=False)
    cookie_name: str = DEFAULT_COOKIE_NAME
    max_body_bytes: int = 64 * 1024
    #: Argon2id of the server-side hash of each auth key.
    hash_time_cost: int = ARGON2_FLOOR.time_cost
    hash_memory_kib: int = ARGON2_FLOOR.memory_kib
    max_concurrent_hashes: int = 4
    #: The weakest client parameters a registering bundle may carry.
    client_floor_time_cost: int = ARGON2_FLOOR.time_cost
    client_floor_memory_kib: int = ARGON2_FLOOR.memory_kib
    cookie_session_s: int = 12 * 3600
    bearer_session_s: int = 30 * 24 * 3600
    recent_login_s: int = 15 * 60
    max_failures_per_username: int = 5
    max_failures_per_address: int = 50
    failure_window_s: int = 15 * 60
    #: POST /v1/entries answers no sooner than this after it arrived, so that the extra
    #: work of an insert that completes a match (about 1.6 ms on SQLite, measured) does
    #: not show in the response time. 0 turns the padding off (tests of other things).
    entry_response_floor_ms: int = 25
    #: Membership tokens a member may obtain per calendar quarter (docs/protocol.md §15).
    member_tokens_per_period: int = 3
    #: How long an emailed member code can be redeemed.
    member_code_ttl_s: int = 72 * 3600
    # -- the escrow's deployment: all of the keys below, or none ------------------------
    deployment_id: bytes | None = None
    match_threshold: int = 2
    federation: Federation | None = None
    #: Key-server base URLs, in the order of the federation's share indices.
    key_servers: tuple[str, ...] = ()
    ticket_signing_key: Ed25519PrivateKey | None = field(default=None, repr=False)
    ticket_secret: bytes | None = field(default=None, repr=False)
    ticket_period_ms: int = DEFAULT_PERIOD_MS
    #: Blinded elements a key server evaluates per account and period (§5.1).
    ticket_quota: int = 256
    ticket_lifetime_ms: int = DEFAULT_LIFETIME_MS
    log_signing_key: Ed25519PrivateKey | None = field(default=None, repr=False)
    vouching_key: Ed25519PrivateKey | None = field(default=None, repr=False)
    # -- counselor notifications by SMTP (docs/escrow-api.md, "Notifications") ----------
    #: No host: the notifier does not run and outbox rows wait for one.
    smtp_host: str | None = None
    smtp_port: int = 587
    #: The From address of the notifications; required with smtp_host.
    smtp_sender: str | None = None
    #: STARTTLS with certificate checks before anything else is said; on by default.
    smtp_starttls: bool = True
    smtp_username: str | None = field(default=None, repr=False)
    smtp_password: str | None = field(default=None, repr=False)
    smtp_timeout_s: float = 10.0
    #: How often the notifier looks for due notifications.
    notify_poll_s: float = 5.0
    clock_ms: Callable[[], int] = _wall_clock_ms

    def __post_init__(self) -> None:
        if not isinstance(self.server_secret, bytes) or len(self.server_secret) < MIN_SECRET_BYTES:
            raise InputError(f"server_secret must be at least {MIN_SECRET_BYTES} random bytes")
        if (
            not isinstance(self.operator_token, str)
            or len(self.operator_token) < MIN_OPERATOR_TOKEN_CHARS
        ):
            raise InputError(
                f"operator_token must be at least {MIN_OPERATOR_TOKEN_CHARS} characters"
            )
        if not self.database_url:
            raise InputError("database_url is required")
        numbers = {
            "max_body_bytes": self.max_body_bytes,
            "max_concurrent_hashes": self.max_concurrent_hashes,
            "cookie_session_s": self.cookie_session_s,
            "bearer_session_s": self.bearer_session_s,
            "recent_login_s": self.recent_login_s,
            "max_failures_per_username": self.max_failures_per_username,
            "max_failures_per_address": self.max_failures_per_address,
            "failure_window_s": self.failure_window_s,
            "member_tokens_per_period": self.member_tokens_per_period,
            "member_code_ttl_s": self.member_code_ttl_s,
        }
        for name, value in numbers.items():
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer")
        floor = self.entry_response_floor_ms
        if isinstance(floor, bool) or not isinstance(floor, int) or not 0 <= floor <= 10_000:
            raise InputError("entry_response_floor_ms must be an integer from 0 to 10000")
        # Argon2Params checks the parameters themselves.
        Argon2Params(self.hash_time_cost, self.hash_memory_kib)
        Argon2Params(self.client_floor_time_cost, self.client_floor_memory_kib)
        self.membership_policy()
        self._check_escrow()
        self._check_smtp()

    def _check_smtp(self) -> None:
        # Messages name the setting, never its value (a password, or an address).
        for name, low, high in (
            ("smtp_timeout_s", 1, 60),
            ("notify_poll_s", 0.01, 3600),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"{name} must be a number")
            if not low <= value <= high:
                raise InputError(f"{name} must be from {low} to {high}")
        port = self.smtp_port
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InputError("smtp_port must be an integer from 1 to 65535")
        if not isinstance(self.smtp_starttls, bool):
            raise InputError("smtp_starttls must be true or false")
        for name in ("smtp_host", "smtp_sender", "smtp_username", "smtp_password"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise InputError(f"{name} must be a non-empty string")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise InputError("smtp_username and smtp_password come together")
        if self.smtp_host is None:
            return
        if self.smtp_sender is None:
            raise InputError("smtp_sender is required with smtp_host")
        try:
            normalize_notify_email(self.smtp_sender)
        except InputError as e:
            raise InputError("smtp_sender must be a plain email address") from e
        if self.smtp_username is not None and not self.smtp_starttls:
            # Secure by default: a password is never sent in the clear.
            raise InputError("smtp_username and smtp_password need smtp_starttls")

    @property
    def notifications_configured(self) -> bool:
        """Whether the notifier runs: an SMTP host is set (and the escrow is configured)."""
        return self.smtp_host is not None and self.escrow_configured

    def _check_escrow(self) -> None:
        escrow = {
            "deployment_id": self.deployment_id,
            "federation": self.federation,
            "ticket_signing_key": self.ticket_signing_key,
            "ticket_secret": self.ticket_secret,
            "log_signing_key": self.log_signing_key,
            "vouching_key": self.vouching_key,
        }
        missing = sorted(name for name, value in escrow.items() if value is None)
        if len(missing) == len(escrow):
            return
        if missing:
            raise InputError(f"the escrow's keys come together; missing: {', '.join(missing)}")
        # Building them validates lengths, the threshold, the quota and the lifetime.
        self.escrow_policy()
        self.ticket_issuer()
        assert self.federation is not None  # noqa: S101 - checked just above.
        verify_federation(self.federation)
        for name in ("ticket_signing_key", "log_signing_key", "vouching_key"):
            if not isinstance(escrow[name], Ed25519PrivateKey):
                raise InputError(f"{name} must be an Ed25519 private key")
        if len(self.key_servers) != len(self.federation.share_public_keys):
            raise InputError("key_servers needs one URL per key server of the federation")
        for url in self.key_servers:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise InputError("each key server URL starts with http:// or https://")
        if len(set(self.key_servers)) != len(self.key_servers):
            raise InputError("the key server URLs must differ")

    @property
    def escrow_configured(self) -> bool:
        """Whether these settings carry the deployment's keys (the escrow routes need them)."""
        return self.deployment_id is not None

    def escrow_policy(self) -> EscrowPolicy:
        """The match threshold and ticket quota these settings choose."""
        return EscrowPolicy(match_threshold=self.match_threshold, ticket_quota=self.ticket_quota)

    def ticket_issuer(self) -> TicketIssuer:
        """The ticket issuer of the deployment; InputError if it is not configured."""
        if self.ticket_signing_key is None or self.ticket_secret is None:
            raise InputError("the escrow's ticket key is not configured")
        if self.deployment_id is None or len(self.deployment_id) != DEPLOYMENT_ID_BYTES:
            raise InputError(f"deployment_id must be {DEPLOYMENT_ID_BYTES} bytes")
        if not isinstance(self.ticket_secret, bytes) or len(self.ticket_secret) != SECRET_BYTES:
            raise InputError(f"ticket_secret must be {SECRET_BYTES} random bytes")
        if not isinstance(self.ticket_period_ms, int) or self.ticket_period_ms < MIN_PERIOD_MS:
            raise InputError(f"ticket_period_ms must be at least {MIN_PERIOD_MS}")
        if not isinstance(self.ticket_lifetime_ms, int) or not (
            1 <= self.ticket_lifetime_ms <= MAX_LIFETIME_MS
        ):
            raise InputError(f"ticket_lifetime_ms must be 1..{MAX_LIFETIME_MS}")
        return TicketIssuer(
            signing_key=self.ticket_signing_key,
            ticket_secret=self.ticket_secret,
            deployment_id=self.deployment_id,
            period_ms=self.ticket_period_ms,
            lifetime_ms=self.ticket_lifetime_ms,
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> EscrowSettings:
        """Settings from a parsed config file; unknown keys refused.

        Bytes and keys are lower-case hex: `server_secret`, `deployment_id`,
        `ticket_secret`, and the 32-byte Ed25519 private keys `ticket_signing_key`,
        `log_signing_key` and `vouching_key`; `federation` is the object of
        federation.json's "federation" member; `key_servers` a list of URLs.
        """
        known = {f for f in cls.__dataclass_fields__ if f != "clock_ms"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown settings: {', '.join(unknown)}")
        options = dict(values)
        options["server_secret"] = _hex_bytes(options.get("server_secret", ""), "server_secret")
        for name in ("deployment_id", "ticket_secret"):
            if options.get(name) is not None:
                options[name] = _hex_bytes(options[name], name)
        for name in ("ticket_signing_key", "log_signing_key", "vouching_key"):
            if options.get(name) is not None:
                options[name] = _private_key(options[name], name)
        if options.get("federation") is not None:
            options["federation"] = federation_from_json(options["federation"])
        if "key_servers" in options:
            servers = options["key_servers"]
            if not isinstance(servers, list):
                raise InputError("key_servers must be a list of URLs")
            options["key_servers"] = tuple(servers)
        return cls(**options)

    def membership_policy(self) -> MembershipPolicy:
        """The membership-token rules these settings choose (MembershipPolicy checks them)."""
        return MembershipPolicy(
            tokens_per_period=self.member_tokens_per_period,
            code_ttl_ms=self.member_code_ttl_s * 1000,
        )

    def account_policy(self) -> AccountPolicy:
        """The account rules these settings choose."""
        return AccountPolicy(
            hash_params=Argon2Params(self.hash_time_cost, self.hash_memory_kib),
            client_floor=Argon2Params(self.client_floor_time_cost, self.client_floor_memory_kib),
            default_client_params=ARGON2_DEFAULT,
            cookie_session_ms=self.cookie_session_s * 1000,
            bearer_session_ms=self.bearer_session_s * 1000,
            recent_login_ms=self.recent_login_s * 1000,
            max_failures_per_username=self.max_failures_per_username,
            max_failures_per_address=self.max_failures_per_address,
            failure_window_ms=self.failure_window_s * 1000,
            max_concurrent_hashes=self.max_concurrent_hashes,
        )


def load_settings(path: Path) -> EscrowSettings:
    """The settings of `notalone escrow --config FILE`: a JSON object, every key required.

    Besides the keys of `from_mapping`, the file may name `federation_file` (the public
    federation.json of `notalone deal-keys`: federation, deployment id, ticket period and
    ticket public key) and `ticket_key_file` (its escrow-ticket-key.json: the ticket
    signing key and pseudonym secret), relative to the config file's directory. A value
    given both inline and by a file must agree. Errors name the file, never a value.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise InputError(f"{path}: no such file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot be read ({type(e).__name__})") from e
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(document, dict):
        raise InputError(f"{path}: expected a JSON object")
    values = dict(document)
    try:
        for name, reader in (
            ("federation_file", keyfiles.read_federation_file),
            ("ticket_key_file", keyfiles.read_ticket_key_file),
        ):
            if name not in values:
                continue
            target = values.pop(name)
            if not isinstance(target, str):
                raise InputError(f"'{name}' must be a path")
            for key, value in reader(path.parent / target).items():
                if key in values and values[key] != value:
                    raise InputError(f"'{key}' differs between the config and {name}")
                values[key] = value
        # The ticket public key is not a setting: it is checked against the private key.
        ticket_public_key = values.pop("ticket_public_key", None)
        settings = EscrowSettings.from_mapping(values)
    except NotAloneError as e:
        raise type(e)(f"{path}: {e}") from e
    if not settings.escrow_configured:
        raise InputError(f"{path}: the escrow needs its deployment keys (see docs/escrow-api.md)")
    assert settings.ticket_signing_key is not None  # noqa: S101 - escrow_configured.
    own = settings.ticket_signing_key.public_key().public_bytes_raw().hex()
    if ticket_public_key is not None and ticket_public_key != own:
        raise InputError(f"{path}: the ticket signing key does not match ticket_public_key")
    return settings


def _hex_bytes(value: object, name: str) -> bytes:
    # The value is never quoted: it may be a secret.
    if not isinstance(value, str) or value != value.lower():
        raise InputError(f"{name} must be lower-case hex")
    try:
        return bytes.fromhex(value)
    except ValueError as e:
        raise InputError(f"{name} must be hex") from e


def _private_key(value: object, name: str) -> Ed25519PrivateKey:
    raw = _hex_bytes(value, name)
    if len(raw) != 32:
        raise EncodingError(f"{name} must be a 32-byte Ed25519 private key as hex")
    return Ed25519PrivateKey.from_private_bytes(raw)
