"""Member codes, issuance counts, spent tokens and member-code mail, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from notalone.errors import ConflictError, InputError, LimitError
from notalone.protocol.membership import CODE_REFUSED
from notalone.services.accounts import AccountRecord
from notalone.storage.engine import Database
from notalone.storage.membership import TOKEN_SPENT, SqlMembershipStore
from notalone.storage.models import MemberCode, MemberMail, Organization
from notalone.storage.outbox import SqlOutbox
from tests.storage.conftest import NOW_MS

PERIOD = "2026-Q4"
LEASE_MS = 60_000


def organization(database: Database) -> bytes:
    organization_id = secrets.token_bytes(16)
    with database.transaction() as session:
        session.add(
            Organization(
                id=organization_id, name=f"Org {organization_id.hex()}", created_at_ms=NOW_MS
            )
        )
    return organization_id


def add_code(store: SqlMembershipStore, organization_id: bytes, pseudonym: bytes) -> bytes:
    code_hash = secrets.token_bytes(32)
    store.add_code(
        code_hash, organization_id, pseudonym, "ana@example.org", "CODE", NOW_MS, NOW_MS + 1000
    )
    return code_hash


def account(username: str) -> AccountRecord:
    return AccountRecord(
        id=secrets.token_bytes(16),
        username=username,
        organization_id=b"",
        auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
        recovery_auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
        key_bundle=b"\x01" + secrets.token_bytes(100),
        created_at_ms=NOW_MS,
    )


def test_codes_are_spent_once_within_the_quota(database: Database) -> None:
    store = SqlMembershipStore(database)
    org = organization(database)
    assert store.organization_exists(org)
    assert not store.organization_exists(secrets.token_bytes(16))
    member = secrets.token_bytes(32)
    first = add_code(store, org, member)
    assert store.spend_code(first, org, PERIOD, 2, 3, NOW_MS) == 2
    with pytest.raises(InputError, match=CODE_REFUSED):
        store.spend_code(first, org, PERIOD, 1, 3, NOW_MS)
    second = add_code(store, org, member)
    with pytest.raises(LimitError, match="3 registration tokens"):
        store.spend_code(second, org, PERIOD, 2, 3, NOW_MS)
    # The refusal rolled back: the code is unused and the count unchanged.
    assert store.issued(org, member, PERIOD) == 2
    assert store.spend_code(second, org, PERIOD, 1, 3, NOW_MS) == 3
    third = add_code(store, org, member)
    with pytest.raises(InputError, match=CODE_REFUSED):
        store.spend_code(third, org, PERIOD, 1, 3, NOW_MS + 1000)  # expired
    with pytest.raises(InputError, match=CODE_REFUSED):
        store.spend_code(third, organization(database), PERIOD, 1, 3, NOW_MS)  # other org
    assert store.spend_code(third, org, "2027-Q1", 1, 3, NOW_MS) == 1
    with pytest.raises(InputError, match="no organization"):
        add_code(store, secrets.token_bytes(16), member)


def test_a_token_is_spent_with_its_account_once(database: Database) -> None:
    store = SqlMembershipStore(database)
    org = organization(database)
    token_input = secrets.token_bytes(32)
    store.register(account("calm-otter-0001"), org, token_input, NOW_MS)
    assert store.spent(org, token_input)
    with pytest.raises(ConflictError, match=TOKEN_SPENT):
        store.register(account("calm-otter-0002"), org, token_input, NOW_MS)
    other_input = secrets.token_bytes(32)
    with pytest.raises(ConflictError, match="taken"):
        store.register(account("calm-otter-0001"), org, other_input, NOW_MS)
    assert not store.spent(org, other_input)
    assert store.counts()["spent_tokens"] == 1


def test_member_mail_is_claimed_leased_and_erased_on_delivery(database: Database) -> None:
    store = SqlMembershipStore(database)
    outbox = SqlOutbox(database)
    org = organization(database)
    add_code(store, org, secrets.token_bytes(32))
    assert outbox.claim_member_mail(NOW_MS - 1, 10, LEASE_MS) == []
    (mail,) = outbox.claim_member_mail(NOW_MS, 10, LEASE_MS)
    assert (mail.address, mail.code, mail.attempts) == ("ana@example.org", "CODE", 0)
    assert "ana" not in repr(mail)
    assert "CODE" not in repr(mail)
    assert outbox.claim_member_mail(NOW_MS + LEASE_MS - 1, 10, LEASE_MS) == []
    outbox.member_mail_failed(mail.id, "an address@example.org", NOW_MS + 10)
    (again,) = outbox.claim_member_mail(NOW_MS + 10, 10, LEASE_MS)
    assert again.attempts == 1
    outbox.member_mail_delivered(again.id, NOW_MS + 20)
    outbox.member_mail_delivered(again.id, NOW_MS + 30)  # a second settle changes nothing
    outbox.member_mail_failed(again.id, "timeout", NOW_MS + 40)
    with database.read() as session:
        row = session.scalars(select(MemberMail)).one()
        assert (row.recipient, row.secret, row.delivered_at_ms) == (None, None, NOW_MS + 20)
        assert (row.attempts, row.last_error_kind) == (2, "other")
        assert session.scalars(select(MemberCode.code_hash)).one() is not None
    assert outbox.claim_member_mail(NOW_MS + 10**9, 10, LEASE_MS) == []
    with pytest.raises(InputError):
        outbox.claim_member_mail(NOW_MS, 0, LEASE_MS)


def test_the_schema_refuses_a_delivered_mail_that_keeps_its_address(database: Database) -> None:
    store = SqlMembershipStore(database)
    add_code(store, organization(database), secrets.token_bytes(32))
    with pytest.raises(IntegrityError), database.transaction() as session:
        session.execute(update(MemberMail).values(delivered_at_ms=NOW_MS))
