"""The escrow's settings: a frozen dataclass read once at the edge and passed down.

Secrets are required (style rule 7: a missing secret is a startup error, never a silent
default): the server secret keys the fake login salts, the rate-limit keys and the
idempotency hashes; the operator token guards the organization routes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from notalone.crypto.kdf import Argon2Params
from notalone.errors import InputError
from notalone.protocol.accounts import ARGON2_DEFAULT, ARGON2_FLOOR
from notalone.services.accounts import AccountPolicy

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
        }
        for name, value in numbers.items():
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer")
        # Argon2Params checks the parameters themselves.
        Argon2Params(self.hash_time_cost, self.hash_memory_kib)
        Argon2Params(self.client_floor_time_cost, self.client_floor_memory_kib)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> EscrowSettings:
        """Settings from a parsed config file: `server_secret` is hex; unknown keys refused."""
        known = {f for f in cls.__dataclass_fields__ if f != "clock_ms"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown settings: {', '.join(unknown)}")
        options = dict(values)
        try:
            options["server_secret"] = bytes.fromhex(str(options.get("server_secret", "")))
        except ValueError as e:
            raise InputError("server_secret must be hex") from e
        return cls(**options)

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
