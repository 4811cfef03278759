"""The SQL account and idempotency stores, on SQLite and PostgreSQL (the `database`
fixture of this directory's conftest runs each test on both)."""

from __future__ import annotations

import secrets
import threading

import pytest
from sqlalchemy import select

from notalone.errors import ConflictError, InputError, VerificationError
from notalone.protocol.accounts import AccountKeyBundle
from notalone.services.accounts import (
    AccountRecord,
    AccountService,
    Idempotency,
    SessionRecord,
    StoredResponse,
    invite_code_hash,
)
from notalone.storage.accounts import SqlAccountStore, SqlIdempotencyStore
from notalone.storage.engine import Database
from notalone.storage.models import Account, AuthSession, IdempotencyKey
from tests.services.conftest import SERVER_SECRET, TEST_POLICY, Clock, make_bundle, rewrapped

USERNAME = "quiet-heron-0412"
DAY_MS = 86_400_000


@pytest.fixture
def store(database: Database) -> SqlAccountStore:
    return SqlAccountStore(database)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: SqlAccountStore, clock: Clock) -> AccountService:
    return AccountService(store, SERVER_SECRET, TEST_POLICY, clock)


def _invite(service: AccountService, max_uses: int = 1, ttl_ms: int | None = DAY_MS) -> str:
    organization = service.create_organization(f"Org {secrets.token_hex(4)}")
    return service.create_invites(organization, 1, max_uses, ttl_ms)[0].code


def _register(service: AccountService, username: str, code: str) -> bytes:
    auth = secrets.token_bytes(32)
    bundle = make_bundle(username).to_bytes()
    service.register(username, code, bundle, auth, secrets.token_bytes(32))
    return auth


def test_organizations_are_unique(service: AccountService) -> None:
    service.create_organization("Shelter")
    with pytest.raises(ConflictError):
        service.create_organization("Shelter")
    with pytest.raises(InputError, match="no organization"):
        service.create_invites(bytes(16), 1, 1, None)


def test_registration_counts_invite_uses(
    service: AccountService, store: SqlAccountStore, clock: Clock
) -> None:
    code = _invite(service, max_uses=2)
    _register(service, "quiet-heron-0001", code)
    assert store.invite_uses(invite_code_hash(code)) == 1
    with pytest.raises(ConflictError, match="username is taken"):
        _register(service, "quiet-heron-0001", code)
    assert store.invite_uses(invite_code_hash(code)) == 1
    _register(service, "quiet-heron-0002", code)
    with pytest.raises(InputError, match="used up"):
        _register(service, "quiet-heron-0003", code)
    expiring = _invite(service, max_uses=5, ttl_ms=10)
    clock.now_ms += 10
    with pytest.raises(InputError, match="expired"):
        _register(service, "quiet-heron-0004", expiring)
    with pytest.raises(InputError, match="not valid"):
        _register(service, "quiet-heron-0005", "0000-0000-0000-0000-0000")
    with pytest.raises(InputError, match="not valid"):
        store.invite_uses(bytes(32))


def test_accounts_store_hashes_only(service: AccountService, database: Database) -> None:
    auth = _register(service, USERNAME, _invite(service))
    with database.read() as session:
        row = session.scalars(select(Account)).one()
        assert row.auth_key_hash.startswith("$argon2id$")
        assert auth.hex() not in row.auth_key_hash
        assert auth not in row.key_bundle


def test_login_sessions_and_passphrase_change(
    service: AccountService, database: Database, clock: Clock
) -> None:
    old_auth = _register(service, USERNAME, _invite(service))
    account = service.account_id_for(USERNAME)
    assert account is not None
    assert service.account_id_for("misty-otter-0001") is None
    first = service.login_finish(USERNAME, old_auth, "cookie", "a")
    second = service.login_finish(USERNAME, old_auth, "bearer", "a")
    with database.read() as session:
        hashes = set(session.scalars(select(AuthSession.token_hash)))
    assert len(hashes) == 2
    assert all(len(h) == 32 for h in hashes)
    principal = service.authenticate(second.token, "bearer")
    # The change keeps the key check and recovery wrapping of the stored bundle.
    current = AccountKeyBundle.from_bytes(service.account(principal).key_bundle)
    new_auth = secrets.token_bytes(32)
    service.change_passphrase(principal, rewrapped(current).to_bytes(), new_auth)
    with pytest.raises(VerificationError):
        service.authenticate(first.token, "cookie")
    service.authenticate(second.token, "bearer")
    with pytest.raises(VerificationError):
        service.login_finish(USERNAME, old_auth, "bearer", "a")
    service.login_finish(USERNAME, new_auth, "bearer", "a")
    service.logout(principal)
    with pytest.raises(VerificationError):
        service.authenticate(second.token, "bearer")
    clock.now_ms += TEST_POLICY.bearer_session_ms
    assert service.prune_sessions() == 1


def test_sessions_expire_in_the_query(store: SqlAccountStore, service: AccountService) -> None:
    _register(service, USERNAME, _invite(service))
    account = service.account_id_for(USERNAME)
    assert account is not None
    record = SessionRecord(bytes(32), account, "bearer", 1000, 2000)
    store.add_session(record)
    assert store.session(bytes(32), 1999) == record
    assert store.session(bytes(32), 2000) is None


def test_idempotency_store(database: Database, service: AccountService, clock: Clock) -> None:
    _register(service, USERNAME, _invite(service))
    account = service.account_id_for(USERNAME)
    assert account is not None
    idempotency = Idempotency(SqlIdempotencyStore(database), SERVER_SECRET, clock)
    first = idempotency.request_hash("PUT", "/v1/x", b"{}")
    assert idempotency.replay(account, "key", first) is None
    idempotency.remember(account, "key", first, 200, b'{"ok":1}')
    assert idempotency.replay(account, "key", first) == StoredResponse(first, 200, b'{"ok":1}')
    other = idempotency.request_hash("PUT", "/v1/x", b"{ }")
    with pytest.raises(ConflictError):
        idempotency.replay(account, "key", other)
    kept = idempotency.remember(account, "key", other, 201, b"[]")
    assert kept.body == b'{"ok":1}'
    with database.read() as session:
        row = session.scalars(select(IdempotencyKey)).one()
    assert row.request_hash == first


def test_idempotency_race_keeps_the_first(database: Database, service: AccountService) -> None:
    _register(service, USERNAME, _invite(service))
    account = service.account_id_for(USERNAME)
    assert account is not None
    stores = [SqlIdempotencyStore(database) for _ in range(8)]
    results: list[StoredResponse] = []
    barrier = threading.Barrier(len(stores))

    def save(i: int) -> None:
        barrier.wait()
        response = StoredResponse(bytes([i]) * 32, 200, str(i).encode())
        results.append(stores[i].save_response(account, "race", response, 0))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.body for r in results}) == 1


def test_last_invite_use_goes_to_one_registration(
    service: AccountService, store: SqlAccountStore
) -> None:
    code = _invite(service, max_uses=3)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)
    account_ids = [secrets.token_bytes(16) for _ in range(8)]

    def register(i: int) -> None:
        record = AccountRecord(
            id=account_ids[i],
            username=f"quiet-heron-{i:04d}",
            organization_id=b"",
            auth_key_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            recovery_auth_key_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            key_bundle=make_bundle(f"quiet-heron-{i:04d}").to_bytes(),
            created_at_ms=0,
        )
        barrier.wait()
        try:
            store.register(record, invite_code_hash(code), 1)
            outcomes.append("ok")
        except InputError as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 3
    assert store.invite_uses(invite_code_hash(code)) == 3


def test_racing_registrations_of_one_username(
    service: AccountService, store: SqlAccountStore
) -> None:
    code = _invite(service, max_uses=8)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def register() -> None:
        barrier.wait()
        try:
            _register(service, USERNAME, code)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("taken")

    threads = [threading.Thread(target=register) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["taken"] * 5
    assert store.invite_uses(invite_code_hash(code)) == 1
