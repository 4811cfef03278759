"""Fixtures for the account service: in-memory ports, a settable clock, cheap Argon2id."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import pytest

from notalone.crypto.kdf import Argon2Params
from notalone.protocol.accounts import (
    ARGON2_FLOOR,
    KEY_CHECK_BYTES,
    WRAPPED_KEY_BYTES,
    AccountKeyBundle,
)
from notalone.services.accounts import (
    AccountPolicy,
    AccountService,
    Idempotency,
    InMemoryAccountStore,
    InMemoryIdempotencyStore,
)

SERVER_SECRET = bytes(range(32))
START_MS = 1_795_000_000_000
#: The cheapest Argon2id argon2-cffi accepts: tests verify behaviour, not cost.
TEST_HASH_PARAMS = Argon2Params(time_cost=1, memory_kib=8)


@dataclass
class Clock:
    """A settable clock in ms."""

    now_ms: int = START_MS

    def __call__(self) -> int:
        return self.now_ms


def make_bundle(username: str, params: Argon2Params = ARGON2_FLOOR) -> AccountKeyBundle:
    """A well-formed bundle with random contents (the server never opens one)."""
    return AccountKeyBundle(
        username=username,
        params=params,
        salt=secrets.token_bytes(16),
        key_check=secrets.token_bytes(KEY_CHECK_BYTES),
        wrapped_by_passphrase=secrets.token_bytes(WRAPPED_KEY_BYTES),
        wrapped_by_recovery=secrets.token_bytes(WRAPPED_KEY_BYTES),
    )


def rewrapped(bundle: AccountKeyBundle) -> AccountKeyBundle:
    """The bundle after a passphrase change: new salt and passphrase wrapping only."""
    return replace(
        bundle,
        salt=secrets.token_bytes(16),
        wrapped_by_passphrase=secrets.token_bytes(WRAPPED_KEY_BYTES),
    )


TEST_POLICY = AccountPolicy(
    hash_params=TEST_HASH_PARAMS,
    max_failures_per_username=3,
    max_failures_per_address=10,
    failure_window_ms=60_000,
    max_concurrent_hashes=2,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> InMemoryAccountStore:
    return InMemoryAccountStore()


@pytest.fixture
def service(store: InMemoryAccountStore, clock: Clock) -> AccountService:
    return AccountService(store, SERVER_SECRET, TEST_POLICY, clock)


@pytest.fixture
def idempotency(clock: Clock) -> Idempotency:
    return Idempotency(InMemoryIdempotencyStore(), SERVER_SECRET, clock)
