"""The SQL organization store on SQLite and PostgreSQL: admin enrollment (atomic, one
intake key per organization), admin tokens, invites' listing and revocation, the counselor
pool, the activity totals are counted from, and reports."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from sqlalchemy import func, select

from notalone.errors import ConflictError, InputError
from notalone.services.accounts import AccountRecord
from notalone.services.escrow import NotFoundError
from notalone.services.organizations import (
    ENROLLMENT_REFUSED,
    INTAKE_KEY_DIFFERS,
    INVITE_REVOKED,
    invite_id,
)
from notalone.storage.accounts import SqlAccountStore
from notalone.storage.engine import Database
from notalone.storage.models import (
    Account,
    Case,
    MatchMember,
    Organization,
    OrganizationAdmin,
    OrganizationKey,
    Report,
)
from notalone.storage.organizations import SqlOrganizationStore
from tests.storage.conftest import NOW_MS, World

DAY_MS = 24 * 3600 * 1000


def _organization(database: Database, name: str) -> bytes:
    organization_id = secrets.token_bytes(16)
    with database.transaction() as session:
        session.add(Organization(id=organization_id, name=name, created_at_ms=NOW_MS))
    return organization_id


def _enroll(
    store: SqlOrganizationStore,
    organization_id: bytes,
    key: bytes,
    *,
    name: str = "Admin",
    now_ms: int = NOW_MS,
) -> tuple[bytes, bytes]:
    code_hash, token_hash, admin_id = (secrets.token_bytes(32) for _ in range(3))
    store.add_enrollment(code_hash, organization_id, name, now_ms + DAY_MS, now_ms)
    assert store.enroll(code_hash, key, admin_id[:16], token_hash, now_ms) == organization_id
    return admin_id[:16], token_hash


def _admins(database: Database) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(OrganizationAdmin)) or 0)


def test_enrollment_sets_the_intake_key_once_and_creates_the_admin(database: Database) -> None:
    store = SqlOrganizationStore(database)
    org = _organization(database, "Acme")
    key = secrets.token_bytes(32)
    assert store.organization(org) is not None
    assert store.organization(org).intake_public_key is None  # type: ignore[union-attr]
    admin_id, token_hash = _enroll(store, org, key, name="Dana")
    found = store.admin_for_token(token_hash, NOW_MS)
    assert found is not None
    assert (found.id, found.organization_id, found.display_name) == (admin_id, org, "Dana")
    assert store.admin_for_token(secrets.token_bytes(32), NOW_MS) is None
    assert store.organization(org).intake_public_key == key  # type: ignore[union-attr]
    # A second admin with the same key (imported from the first one's backup) is fine.
    _enroll(store, org, key, name="Eli", now_ms=NOW_MS + 1)
    assert [a.display_name for a in store.admins(org)] == ["Dana", "Eli"]
    assert [(o.name, o.intake_public_key) for o in store.organizations()] == [("Acme", key)]


def test_another_key_is_a_conflict_that_changes_nothing(database: Database) -> None:
    store = SqlOrganizationStore(database)
    org = _organization(database, "Acme")
    key = secrets.token_bytes(32)
    _enroll(store, org, key)
    code_hash = secrets.token_bytes(32)
    store.add_enrollment(code_hash, org, "Mallory", NOW_MS + DAY_MS, NOW_MS)
    token_hash = secrets.token_bytes(32)
    with pytest.raises(ConflictError) as refused:
        store.enroll(
            code_hash, secrets.token_bytes(32), secrets.token_bytes(16), token_hash, NOW_MS
        )
    assert str(refused.value) == INTAKE_KEY_DIFFERS
    assert _admins(database) == 1
    assert store.admin_for_token(token_hash, NOW_MS) is None
    with database.read() as session:
        assert session.get(OrganizationKey, org).public_key == key  # type: ignore[union-attr]
    # The code's use was rolled back with the rest: it still works with the right key.
    assert store.enroll(code_hash, key, secrets.token_bytes(16), token_hash, NOW_MS) == org
    assert _admins(database) == 2


def test_a_code_works_once_and_not_after_it_expires(database: Database) -> None:
    store = SqlOrganizationStore(database)
    org = _organization(database, "Acme")
    key = secrets.token_bytes(32)
    code_hash = secrets.token_bytes(32)
    store.add_enrollment(code_hash, org, "Dana", NOW_MS + DAY_MS, NOW_MS)
    with pytest.raises(InputError, match="expired"):
        store.enroll(
            code_hash, key, secrets.token_bytes(16), secrets.token_bytes(32), NOW_MS + DAY_MS
        )
    store.enroll(code_hash, key, secrets.token_bytes(16), secrets.token_bytes(32), NOW_MS)
    for unusable in (code_hash, secrets.token_bytes(32)):
        with pytest.raises(InputError) as refused:
            store.enroll(unusable, key, secrets.token_bytes(16), secrets.token_bytes(32), NOW_MS)
        assert str(refused.value) == ENROLLMENT_REFUSED
    assert _admins(database) == 1
    with pytest.raises(NotFoundError):
        store.add_enrollment(
            secrets.token_bytes(32), secrets.token_bytes(16), "X", NOW_MS + 1, NOW_MS
        )


def _account(organization_id: bytes, username: str) -> AccountRecord:
    return AccountRecord(
        id=secrets.token_bytes(16),
        username=username,
        organization_id=organization_id,
        auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
        recovery_auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
        key_bundle=b"\x01" + secrets.token_bytes(100),
        created_at_ms=NOW_MS,
    )


def test_invites_are_listed_by_their_hash_and_a_revoked_one_registers_nobody(
    database: Database,
) -> None:
    store, accounts = SqlOrganizationStore(database), SqlAccountStore(database)
    org, other = _organization(database, "Acme"), _organization(database, "Other")
    mine, theirs = secrets.token_bytes(32), secrets.token_bytes(32)
    accounts.add_invite(mine, org, 3, None, NOW_MS)
    accounts.add_invite(theirs, other, 3, None, NOW_MS)
    listed = store.invites(org)
    assert [(h, i.id, i.uses, i.max_uses, i.revoked) for h, i in listed] == [
        (mine, invite_id(mine), 0, 3, False)
    ]
    accounts.register(_account(org, "calm-otter-0001"), mine, NOW_MS)
    with pytest.raises(NotFoundError):
        store.revoke_invite(org, theirs, NOW_MS)
    store.revoke_invite(org, mine, NOW_MS + 5)
    store.revoke_invite(org, mine, NOW_MS + 9)
    [(_, revoked)] = store.invites(org)
    assert (revoked.revoked, revoked.uses) == (True, 1)
    with pytest.raises(InputError) as refused:
        accounts.register(_account(org, "calm-otter-0002"), mine, NOW_MS + 10)
    assert str(refused.value) == INVITE_REVOKED
    assert accounts.invite_uses(mine) == 1
    assert accounts.account_by_username("calm-otter-0002") is None
    # The other organization's invite was not touched.
    accounts.register(_account(other, "calm-otter-0003"), theirs, NOW_MS)


def test_the_counselor_pool(world: World) -> None:
    store = SqlOrganizationStore(world.database)
    org = world.organization_id
    account = world.account()
    assert store.pool(org) == frozenset()
    assert store.pool_of_account(account) == frozenset()
    with pytest.raises(NotFoundError):
        store.add_to_pool(org, "c-nobody", NOW_MS)
    store.add_to_pool(org, "c-ana", NOW_MS)
    store.add_to_pool(org, "c-ana", NOW_MS)
    assert store.pool(org) == frozenset({"c-ana"})
    assert store.pool_of_account(account) == frozenset({"c-ana"})
    other = _organization(world.database, "Other")
    assert store.pool(other) == frozenset()
    store.remove_from_pool(org, "c-ana")
    store.remove_from_pool(org, "c-ana")
    assert store.pool(org) == frozenset()
    assert [c.id for c in store.counselors()] == ["c-ana", "c-ben"]


def test_activity_counts_this_organizations_entries_and_matches(world: World) -> None:
    store = SqlOrganizationStore(world.database)
    org = world.organization_id
    y = secrets.token_bytes(64)
    world.submit(y, "c-ana")
    world.submit(y, "c-ben")  # the match: two of this organization's slots, counted once
    world.submit(secrets.token_bytes(64), "c-ana")
    # Another organization's survivor joins the same match later: not its entry here.
    other = _organization(world.database, "Other")
    outsider = world.account()
    with world.database.transaction() as session:
        session.get(Account, outsider).organization_id = other  # type: ignore[union-attr]
    world.submit(y, "c-ana", account_id=outsider)
    activity = store.activity(org)
    assert sorted(activity.entry_times_ms) == [NOW_MS] * 3
    assert list(activity.match_times_ms) == [NOW_MS]
    theirs = store.activity(other)
    assert (list(theirs.entry_times_ms), list(theirs.match_times_ms)) == ([NOW_MS], [NOW_MS])
    assert store.activity(_organization(world.database, "Empty")) == type(activity)([], [])


def test_reports_are_listed_for_their_organization_only(world: World) -> None:
    store = SqlOrganizationStore(world.database)
    y = secrets.token_bytes(64)
    world.submit(y, "c-ana")
    world.submit(y, "c-ana")
    other = _organization(world.database, "Other")
    with world.database.transaction() as session:
        match_id = session.scalars(select(MatchMember.match_id)).first()
        assert match_id is not None
        session.add(Case(counselor_id="c-ana", match_id=match_id, state="new", updated_at_ms=1))
        session.flush()
        for organization_id, sealed in ((world.organization_id, b"mine"), (other, b"theirs")):
            session.add(
                Report(
                    id=secrets.token_bytes(16),
                    organization_id=organization_id,
                    counselor_id="c-ana",
                    match_id=match_id,
                    sealed=sealed,
                    created_at_ms=NOW_MS,
                )
            )
    [mine] = store.reports(world.organization_id)
    assert (mine.match_id, mine.counselor_id, mine.counselor_name, mine.sealed) == (
        match_id,
        "c-ana",
        "Counselor c-ana",
        b"mine",
    )
    assert [r.sealed for r in store.reports(other)] == [b"theirs"]


def _race(jobs: list[Callable[[], object]]) -> list[BaseException | None]:
    """Run every job at once, one thread each; each one's exception, or None."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], object]) -> BaseException | None:
        barrier.wait(timeout=30)
        try:
            job()
        except Exception as e:  # noqa: BLE001 - every outcome is reported to the test
            return e
        return None

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def test_racing_first_admins_with_different_keys_leave_one_key(database: Database) -> None:
    store = SqlOrganizationStore(database)
    org = _organization(database, "Acme")
    codes = [secrets.token_bytes(32) for _ in range(8)]
    for code_hash in codes:
        store.add_enrollment(code_hash, org, "Admin", NOW_MS + DAY_MS, NOW_MS)
    keys = [secrets.token_bytes(32) for _ in codes]
    outcomes = _race(
        [
            partial(store.enroll, c, k, secrets.token_bytes(16), secrets.token_bytes(32), NOW_MS)
            for c, k in zip(codes, keys, strict=True)
        ]
    )
    winners = [k for k, outcome in zip(keys, outcomes, strict=True) if outcome is None]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, ConflictError) for o in outcomes if o is not None)
    assert store.organization(org).intake_public_key == winners[0]  # type: ignore[union-attr]
    assert _admins(database) == 1


def test_one_code_redeemed_at_once_makes_one_admin(database: Database) -> None:
    store = SqlOrganizationStore(database)
    org = _organization(database, "Acme")
    code_hash, key = secrets.token_bytes(32), secrets.token_bytes(32)
    store.add_enrollment(code_hash, org, "Admin", NOW_MS + DAY_MS, NOW_MS)
    outcomes = _race(
        [
            partial(
                store.enroll,
                code_hash,
                key,
                secrets.token_bytes(16),
                secrets.token_bytes(32),
                NOW_MS,
            )
            for _ in range(8)
        ]
    )
    assert outcomes.count(None) == 1, outcomes
    assert all(isinstance(o, InputError) for o in outcomes if o is not None)
    assert _admins(database) == 1
