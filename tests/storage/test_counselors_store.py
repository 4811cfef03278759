"""The SQL counselor store on SQLite and PostgreSQL: registry, conflicts, token lookup."""

from __future__ import annotations

import secrets

import pytest

from notalone.errors import ConflictError
from notalone.services.escrow import CounselorRecord
from notalone.storage.counselors import SqlCounselorStore
from notalone.storage.engine import Database
from notalone.storage.models import CounselorToken
from tests.storage.conftest import NOW_MS


def _counselor(counselor_id: str, public_key: bytes | None = None) -> CounselorRecord:
    return CounselorRecord(
        id=counselor_id,
        display_name=f"Counselor {counselor_id}",
        public_key=public_key or secrets.token_bytes(32),
        vouching_signature=secrets.token_bytes(64),
        created_at_ms=NOW_MS,
    )


def test_counselors_and_their_tokens(database: Database) -> None:
    store = SqlCounselorStore(database)
    ben, ana = _counselor("c-ben"), _counselor("c-ana")
    token_ben, token_ana = secrets.token_bytes(32), secrets.token_bytes(32)
    store.add(ben, token_ben)
    store.add(ana, token_ana)
    assert store.list_counselors() == [ana, ben]
    assert store.counselor_for_token(token_ana, NOW_MS) == "c-ana"
    assert store.counselor_for_token(token_ben, NOW_MS) == "c-ben"
    assert store.counselor_for_token(secrets.token_bytes(32), NOW_MS) is None


def test_a_taken_id_or_key_is_a_conflict_and_stores_nothing(database: Database) -> None:
    store = SqlCounselorStore(database)
    ana = _counselor("c-ana")
    store.add(ana, secrets.token_bytes(32))
    for duplicate in (_counselor("c-ana"), _counselor("c-other", ana.public_key)):
        token = secrets.token_bytes(32)
        with pytest.raises(ConflictError, match="already registered"):
            store.add(duplicate, token)
        assert store.counselor_for_token(token, NOW_MS) is None
    assert store.list_counselors() == [ana]


def test_a_racing_insert_is_a_conflict_too(database: Database) -> None:
    store = SqlCounselorStore(database)
    token = secrets.token_bytes(32)
    store.add(_counselor("c-ana"), token)
    # The same token hash for another counselor: only the primary key catches it.
    with pytest.raises(ConflictError):
        store.add(_counselor("c-ben"), token)
    assert [c.id for c in store.list_counselors()] == ["c-ana"]


def test_an_expired_token_is_refused(database: Database) -> None:
    store = SqlCounselorStore(database)
    store.add(_counselor("c-ana"), secrets.token_bytes(32))
    expiring = secrets.token_bytes(32)
    with database.transaction() as session:
        session.add(
            CounselorToken(
                token_hash=expiring,
                counselor_id="c-ana",
                created_at_ms=NOW_MS,
                expires_at_ms=NOW_MS + 10,
            )
        )
    assert store.counselor_for_token(expiring, NOW_MS + 9) == "c-ana"
    assert store.counselor_for_token(expiring, NOW_MS + 10) is None
