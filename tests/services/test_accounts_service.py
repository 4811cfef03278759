"""The account use cases on in-memory ports (style rule 9: no mocks)."""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from notalone.errors import (
    ConflictError,
    InputError,
    LimitError,
    VerificationError,
    VersionError,
)
from notalone.protocol.accounts import ARGON2_DEFAULT, AccountKeyBundle
from notalone.services.accounts import (
    AccountService,
    FailureLimiter,
    Idempotency,
    InMemoryAccountStore,
    InMemoryIdempotencyStore,
    Principal,
    invite_code_hash,
    normalize_invite_code,
    session_token_hash,
)
from tests.services.conftest import (
    SERVER_SECRET,
    TEST_POLICY,
    Clock,
    make_bundle,
    rewrapped,
)

USERNAME = "quiet-heron-0412"
DAY_MS = 86_400_000


def _key() -> bytes:
    return secrets.token_bytes(32)


def _invite(service: AccountService, *, max_uses: int = 1, ttl_ms: int | None = DAY_MS) -> str:
    organization = service.create_organization(f"Org {secrets.token_hex(4)}")
    (invite,) = service.create_invites(organization, 1, max_uses, ttl_ms)
    return invite.code


def _register(
    service: AccountService, username: str = USERNAME, code: str | None = None
) -> tuple[AccountKeyBundle, bytes, bytes]:
    bundle = make_bundle(username)
    auth, recovery = _key(), _key()
    service.register(username, code or _invite(service), bundle.to_bytes(), auth, recovery)
    return bundle, auth, recovery


# -- organizations and invites ------------------------------------------------------------


def test_organization_names_are_unique(service: AccountService) -> None:
    service.create_organization("Shelter")
    with pytest.raises(ConflictError, match="organization with this name"):
        service.create_organization(" Shelter ")


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_organization_needs_a_sensible_name(service: AccountService, name: str) -> None:
    with pytest.raises(InputError):
        service.create_organization(name)


def test_invites_are_stored_only_as_hashes(
    service: AccountService, store: InMemoryAccountStore
) -> None:
    organization = service.create_organization("Shelter")
    invites = service.create_invites(organization, 3, 2, DAY_MS)
    assert len({i.code for i in invites}) == 3
    for invite in invites:
        assert invite.code not in repr(invite)
        assert invite_code_hash(invite.code) in store.invites
        assert invite.code.encode() not in repr(store.invites).encode()


@pytest.mark.parametrize(
    ("count", "max_uses", "ttl_ms"), [(0, 1, None), (101, 1, None), (1, 0, None), (1, 1, 0)]
)
def test_invite_limits(service: AccountService, count: int, max_uses: int, ttl_ms: int) -> None:
    organization = service.create_organization("Shelter")
    with pytest.raises(InputError):
        service.create_invites(organization, count, max_uses, ttl_ms)


def test_invites_need_an_existing_organization(service: AccountService) -> None:
    with pytest.raises(InputError, match="no organization"):
        service.create_invites(bytes(16), 1, 1, None)


def test_invite_codes_are_forgiving_to_type() -> None:
    assert normalize_invite_code("abcd-efgh-jkmn-pqrs-tvwo") == "ABCDEFGHJKMNPQRSTVW0"
    assert normalize_invite_code(" 0123 4567 89ab cdef ghil") == "0123456789ABCDEFGH11"
    for bad in ["", "ABCD", "UUUU-UUUU-UUUU-UUUU-UUUU", 42]:
        with pytest.raises(InputError, match="not valid"):
            normalize_invite_code(bad)  # type: ignore[arg-type]


# -- registration --------------------------------------------------------------------------


def test_register_uses_the_invite_and_stores_only_hashes(
    service: AccountService, store: InMemoryAccountStore
) -> None:
    code = _invite(service, max_uses=2)
    bundle, auth, recovery = _register(service, code=code)
    assert store.invite_uses(invite_code_hash(code)) == 1
    (account,) = store.accounts.values()
    assert account.username == USERNAME
    assert account.key_bundle == bundle.to_bytes()
    assert account.auth_key_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert account.recovery_auth_key_hash.startswith("$argon2id$")
    for secret in (auth, recovery):
        assert secret.hex() not in repr(store.accounts)
        assert secret not in account.auth_key_hash.encode()
    assert account.organization_id in store.organizations
    assert "$argon2" not in repr(account)


def test_exhausted_and_expired_invites_are_refused(
    service: AccountService, store: InMemoryAccountStore, clock: Clock
) -> None:
    code = _invite(service, max_uses=1)
    _register(service, "quiet-heron-0001", code)
    with pytest.raises(InputError, match="used up"):
        _register(service, "quiet-heron-0002", code)
    expiring = _invite(service, max_uses=5, ttl_ms=1000)
    clock.now_ms += 1000
    with pytest.raises(InputError, match="expired"):
        _register(service, "quiet-heron-0003", expiring)
    assert store.invite_uses(invite_code_hash(expiring)) == 0
    with pytest.raises(InputError, match="not valid"):
        _register(service, "quiet-heron-0004", "0000-0000-0000-0000-0000")


def test_duplicate_username_is_refused_clearly(
    service: AccountService, store: InMemoryAccountStore
) -> None:
    code = _invite(service, max_uses=3)
    _register(service, code=code)
    with pytest.raises(ConflictError, match="username is taken; generate another"):
        _register(service, code=code)
    assert store.invite_uses(invite_code_hash(code)) == 1


def test_register_checks_its_input(service: AccountService) -> None:
    code = _invite(service, max_uses=10)
    good = make_bundle(USERNAME).to_bytes()
    auth = _key()
    with pytest.raises(InputError, match="username looks like"):
        service.register("Quiet Heron", code, good, auth, _key())
    with pytest.raises(InputError, match="another username"):
        service.register("quiet-heron-0413", code, good, auth, _key())
    with pytest.raises(VersionError):
        service.register(USERNAME, code, b"\x02" + good[1:], auth, _key())
    with pytest.raises(InputError, match="32 bytes"):
        service.register(USERNAME, code, good, auth[:31], _key())
    with pytest.raises(InputError, match="must differ"):
        service.register(USERNAME, code, good, auth, auth)
    weak = make_bundle(USERNAME, params=type(ARGON2_DEFAULT)(1, 8)).to_bytes()
    with pytest.raises(InputError, match="below this server's minimum"):
        service.register(USERNAME, code, weak, auth, _key())


# -- login -----------------------------------------------------------------------------------


def test_login_start_gives_the_account_salt(service: AccountService) -> None:
    bundle, _, _ = _register(service)
    found = service.login_start("  Quiet_Heron 0412 ")
    assert (found.salt, found.time_cost, found.memory_kib) == (
        bundle.salt,
        bundle.params.time_cost,
        bundle.params.memory_kib,
    )


def test_login_start_fakes_a_stable_salt_for_unknown_names(service: AccountService) -> None:
    _register(service)
    fake = service.login_start("misty-otter-0001")
    assert fake == service.login_start("misty-otter-0001")
    assert len(fake.salt) == 16
    assert (fake.time_cost, fake.memory_kib) == (
        ARGON2_DEFAULT.time_cost,
        ARGON2_DEFAULT.memory_kib,
    )
    assert fake.salt != service.login_start("misty-otter-0002").salt
    other_server = AccountService(InMemoryAccountStore(), bytes(32), TEST_POLICY, Clock())
    assert other_server.login_start("misty-otter-0001").salt != fake.salt


def test_login_finish_issues_a_session_and_returns_the_bundle(
    service: AccountService, store: InMemoryAccountStore, clock: Clock
) -> None:
    bundle, auth, _ = _register(service)
    session = service.login_finish(USERNAME, auth, "bearer", "10.0.0.1")
    assert session.key_bundle == bundle.to_bytes()
    assert len(session.token) == 64
    assert session.token not in repr(session)
    assert session.expires_at_ms == clock.now_ms + TEST_POLICY.bearer_session_ms
    (stored,) = store.sessions.values()
    assert stored.token_hash == session_token_hash(session.token)
    assert session.token.encode() not in repr(store.sessions).encode()
    principal = service.authenticate(session.token, "bearer")
    assert principal.username == USERNAME
    cookie = service.login_finish(USERNAME, auth, "cookie", "10.0.0.1")
    assert cookie.expires_at_ms == clock.now_ms + TEST_POLICY.cookie_session_ms


def test_wrong_key_and_unknown_user_fail_alike(service: AccountService) -> None:
    _register(service)
    with pytest.raises(VerificationError) as wrong:
        service.login_finish(USERNAME, _key(), "bearer", "a")
    with pytest.raises(VerificationError) as unknown:
        service.login_finish("misty-otter-0001", _key(), "bearer", "b")
    with pytest.raises(VerificationError) as malformed:
        service.login_finish("not a name", _key(), "bearer", "c")
    assert str(wrong.value) == str(unknown.value) == str(malformed.value)


def test_failures_per_username_are_limited(service: AccountService, clock: Clock) -> None:
    _, auth, _ = _register(service)
    for i in range(TEST_POLICY.max_failures_per_username):
        with pytest.raises(VerificationError):
            service.login_finish(USERNAME, _key(), "bearer", f"10.0.0.{i}")
    with pytest.raises(LimitError) as refused:
        service.login_finish(USERNAME, auth, "bearer", "10.0.1.1")
    assert refused.value.retry_after_seconds == 60
    clock.now_ms += 30_000
    with pytest.raises(LimitError) as still:
        service.login_finish(USERNAME, auth, "bearer", "10.0.1.1")
    assert still.value.retry_after_seconds == 30
    clock.now_ms += 30_000
    service.login_finish(USERNAME, auth, "bearer", "10.0.1.1")


def test_failures_per_address_are_limited(service: AccountService) -> None:
    _, auth, _ = _register(service)
    for i in range(TEST_POLICY.max_failures_per_address):
        with pytest.raises(VerificationError):
            service.login_finish(f"misty-otter-{i:04d}", _key(), "bearer", "203.0.113.9")
    with pytest.raises(LimitError):
        service.login_finish(USERNAME, auth, "bearer", "203.0.113.9")
    service.login_finish(USERNAME, auth, "bearer", "203.0.113.10")


def test_success_clears_the_username_count(service: AccountService) -> None:
    _, auth, _ = _register(service)
    for _ in range(2):
        for _ in range(TEST_POLICY.max_failures_per_username - 1):
            with pytest.raises(VerificationError):
                service.login_finish(USERNAME, _key(), "bearer", "x")
        service.login_finish(USERNAME, auth, "bearer", "y")


def test_recovery_login(service: AccountService) -> None:
    _, auth, recovery = _register(service)
    session = service.login_recovery(USERNAME, recovery, "bearer", "a")
    assert service.authenticate(session.token, "bearer").username == USERNAME
    with pytest.raises(VerificationError, match="recovery key is wrong"):
        service.login_recovery(USERNAME, auth, "bearer", "a")


def test_session_kind_is_checked(service: AccountService) -> None:
    _, auth, _ = _register(service)
    with pytest.raises(InputError, match="cookie or bearer"):
        service.login_finish(USERNAME, auth, "smoke-signal", "a")  # type: ignore[arg-type]
    bearer = service.login_finish(USERNAME, auth, "bearer", "a")
    with pytest.raises(VerificationError):
        service.authenticate(bearer.token, "cookie")


def test_sessions_expire_and_are_pruned(
    service: AccountService, store: InMemoryAccountStore, clock: Clock
) -> None:
    _, auth, _ = _register(service)
    cookie = service.login_finish(USERNAME, auth, "cookie", "a")
    service.login_finish(USERNAME, auth, "bearer", "a")
    clock.now_ms = cookie.expires_at_ms
    with pytest.raises(VerificationError, match="log in again"):
        service.authenticate(cookie.token, "cookie")
    assert service.prune_sessions() == 1
    assert len(store.sessions) == 1


@pytest.mark.parametrize("token", ["", "zz", "0" * 63, "0" * 64, "é" * 64])
def test_bad_tokens_are_refused(service: AccountService, token: str) -> None:
    with pytest.raises(VerificationError):
        service.authenticate(token, "bearer")


def test_logout_revokes(service: AccountService) -> None:
    _, auth, _ = _register(service)
    session = service.login_finish(USERNAME, auth, "bearer", "a")
    service.logout(service.authenticate(session.token, "bearer"))
    with pytest.raises(VerificationError):
        service.authenticate(session.token, "bearer")


# -- passphrase change -------------------------------------------------------------------


def _principal(service: AccountService, auth: bytes) -> tuple[str, Principal]:
    session = service.login_finish(USERNAME, auth, "bearer", "a")
    return session.token, service.authenticate(session.token, "bearer")


def test_passphrase_change_revokes_other_sessions_and_the_old_key(
    service: AccountService,
) -> None:
    bundle, old_auth, _ = _register(service)
    other, _ = _principal(service, old_auth)
    token, principal = _principal(service, old_auth)
    new_bundle, new_auth = rewrapped(bundle), _key()
    service.change_passphrase(principal, new_bundle.to_bytes(), new_auth)
    service.authenticate(token, "bearer")
    with pytest.raises(VerificationError):
        service.authenticate(other, "bearer")
    with pytest.raises(VerificationError):
        service.login_finish(USERNAME, old_auth, "bearer", "a")
    session = service.login_finish(USERNAME, new_auth, "bearer", "a")
    assert session.key_bundle == new_bundle.to_bytes()
    assert service.login_start(USERNAME).salt == new_bundle.salt


def test_passphrase_change_needs_a_recent_login(service: AccountService, clock: Clock) -> None:
    bundle, auth, _ = _register(service)
    _, principal = _principal(service, auth)
    clock.now_ms += TEST_POLICY.recent_login_ms + 1
    with pytest.raises(VerificationError, match="log in again"):
        service.change_passphrase(principal, rewrapped(bundle).to_bytes(), _key())


def test_passphrase_change_keeps_the_data_key_and_recovery(service: AccountService) -> None:
    _, auth, _ = _register(service)
    _, principal = _principal(service, auth)
    with pytest.raises(InputError, match="keep the account's key check"):
        service.change_passphrase(principal, make_bundle(USERNAME).to_bytes(), _key())
    with pytest.raises(InputError, match="another username"):
        service.change_passphrase(principal, make_bundle("misty-otter-0001").to_bytes(), _key())


# -- idempotency -------------------------------------------------------------------------


def test_idempotency_replays_and_refuses_reuse(idempotency: Idempotency) -> None:
    account = bytes(16)
    first = idempotency.request_hash("POST", "/v1/x", b'{"a":1}')
    assert idempotency.replay(account, "k-1", first) is None
    idempotency.remember(account, "k-1", first, 201, b"{}")
    stored = idempotency.replay(account, "k-1", first)
    assert stored is not None
    assert (stored.status, stored.body) == (201, b"{}")
    other = idempotency.request_hash("POST", "/v1/x", b'{"a":2}')
    with pytest.raises(ConflictError, match="different request"):
        idempotency.replay(account, "k-1", other)
    # The first stored response wins a race.
    assert idempotency.remember(account, "k-1", other, 200, b"[]").body == b"{}"
    assert idempotency.replay(bytes(15) + b"\x01", "k-1", other) is None


def test_request_hash_is_keyed_by_the_server_secret(idempotency: Idempotency) -> None:
    clock = Clock()
    elsewhere = Idempotency(InMemoryIdempotencyStore(), bytes(32), clock)
    body = b'{"a":1}'
    assert idempotency.request_hash("POST", "/r", body) != elsewhere.request_hash(
        "POST", "/r", body
    )
    assert idempotency.request_hash("post", "/r", body) == idempotency.request_hash(
        "POST", "/r", body
    )


@pytest.mark.parametrize("key", ["", "x" * 129, "é", "a\nb"])
def test_idempotency_keys_are_checked(idempotency: Idempotency, key: str) -> None:
    with pytest.raises(InputError, match="Idempotency-Key"):
        idempotency.replay(bytes(16), key, bytes(32))


# -- limits ------------------------------------------------------------------------------


def test_limiter_forgets_the_oldest_keys_first() -> None:
    limiter = FailureLimiter(1, 1000, secret=SERVER_SECRET, max_keys=2)
    for name in ("a", "b", "c"):
        limiter.fail("u", name, 0)
    limiter.check("u", "a", 1)  # forgotten: memory stays bounded
    with pytest.raises(LimitError):
        limiter.check("u", "c", 1)


def test_limiter_rejects_nonsense_limits() -> None:
    with pytest.raises(InputError):
        FailureLimiter(0, 1000, secret=SERVER_SECRET)


def test_server_secret_must_be_long(store: InMemoryAccountStore) -> None:
    with pytest.raises(InputError, match="32 bytes"):
        AccountService(store, b"short", TEST_POLICY, Clock())


def test_argon2_runs_are_capped(store: InMemoryAccountStore) -> None:
    policy = type(TEST_POLICY)(
        hash_params=TEST_POLICY.hash_params, max_concurrent_hashes=1, hash_wait_s=0.05
    )
    service = AccountService(store, SERVER_SECRET, policy, Clock())
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        # Occupy the only Argon2id slot, as a long-running login would.
        with service._hash_slot():
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        holding.wait(5)
        started = time.monotonic()
        with pytest.raises(LimitError, match="busy") as busy:
            service.login_finish(USERNAME, _key(), "bearer", "a")
        assert busy.value.retry_after_seconds == 1
        assert time.monotonic() - started < 2
    finally:
        release.set()
        thread.join()
