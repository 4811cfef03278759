"""Migrations: up, down and up again, with data; the models equal `upgrade head`; the
schema at head refuses invalid states. On SQLite and PostgreSQL alike.

What a downgrade does to data (documented in 0001_initial.py and decision 0004): the
initial revision's downgrade drops every table, so its data is gone; on SQLite,
`secure_delete` leaves none of it in the file.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notalone.storage import engine as storage_engine
from notalone.storage.engine import Database
from notalone.storage.models import (
    Account,
    AuthSession,
    Base,
    Case,
    CaseNote,
    Counselor,
    CounselorEnrollment,
    CounselorToken,
    Entry,
    IdempotencyKey,
    InboxItem,
    InviteCode,
    LogLeaf,
    Match,
    MatchMember,
    MemberCode,
    MemberIssuance,
    MemberMail,
    Organization,
    OrganizationAdmin,
    OrganizationAdminEnrollment,
    OrganizationAdminToken,
    OrganizationCounselor,
    OrganizationKey,
    OutboxRow,
    Record,
    RecordVersion,
    Report,
    SlotRow,
    SpentToken,
    TreeHead,
)
from tests.storage.conftest import NOW_MS, DatabaseFactory

TABLES = {table.name for table in Base.metadata.sorted_tables}


def _tables(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _diff(database: Database, metadata: MetaData) -> list[object]:
    with database.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _row_counts(database: Database) -> dict[str, int]:
    with database.read() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def _one_of_everything(session: Session, canary: bytes) -> None:
    """One row in every table, all linked, with `canary` inside the ciphertext columns."""
    org, account, record = (secrets.token_bytes(16) for _ in range(3))
    entry, slot, match = (secrets.token_bytes(16) for _ in range(3))
    tag = secrets.token_bytes(32)
    session.add_all(
        [
            Organization(id=org, name="Org", created_at_ms=NOW_MS),
            Counselor(
                id="c-ana",
                public_key=secrets.token_bytes(32),
                display_name="Ana",
                vouching_signature=secrets.token_bytes(64),
                created_at_ms=NOW_MS,
                notify_email="ana@counsel.example",
            ),
            LogLeaf(leaf_index=0, leaf=secrets.token_bytes(59), leaf_hash=secrets.token_bytes(32)),
            TreeHead(
                tree_size=1,
                timestamp_ms=NOW_MS,
                root=secrets.token_bytes(32),
                signature=secrets.token_bytes(64),
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            InviteCode(
                code_hash=secrets.token_bytes(32),
                organization_id=org,
                max_uses=5,
                uses=1,
                created_at_ms=NOW_MS,
                expires_at_ms=None,
            ),
            Account(
                id=account,
                username="calm-otter-0001",
                organization_id=org,
                auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
                recovery_auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
                key_bundle=b"\x01" + canary,
                created_at_ms=NOW_MS,
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            AuthSession(
                token_hash=secrets.token_bytes(32),
                account_id=account,
                kind="bearer",
                created_at_ms=NOW_MS,
                expires_at_ms=NOW_MS + 1,
            ),
            CounselorToken(
                token_hash=secrets.token_bytes(32),
                counselor_id="c-ana",
                created_at_ms=NOW_MS,
                expires_at_ms=None,
            ),
            IdempotencyKey(
                account_id=account,
                idempotency_key="k-1",
                request_hash=secrets.token_bytes(32),
                response_status=201,
                response_body=b"{}",
                created_at_ms=NOW_MS,
            ),
            Record(id=record, account_id=account, created_at_ms=NOW_MS),
            OutboxRow(
                counselor_id="c-ana",
                kind="new-match",
                created_at_ms=NOW_MS,
                attempts=1,
                next_attempt_at_ms=NOW_MS + 10_000,
                last_error_kind="refused",
            ),
            Entry(id=entry, account_id=account, entry_copy=canary, created_at_ms=NOW_MS),
        ]
    )
    session.flush()
    session.add_all(
        [
            RecordVersion(
                record_id=record, version=1, ciphertext=canary, leaf_index=0, created_at_ms=NOW_MS
            ),
            SlotRow(
                id=slot,
                entry_id=entry,
                account_id=account,
                tag=tag,
                position=1,
                x=secrets.token_bytes(32),
                share=secrets.token_bytes(32),
                outer_box=canary,
                counselor_id="c-ana",
                state="live",
                created_at_ms=NOW_MS,
            ),
            Match(id=match, tag=tag, created_at_ms=NOW_MS),
        ]
    )
    session.flush()
    session.add(
        MatchMember(
            match_id=match, slot_id=slot, tag=tag, counselor_id="c-ana", created_at_ms=NOW_MS
        )
    )
    session.flush()
    session.add(
        InboxItem(
            slot_id=slot,
            match_id=match,
            counselor_id="c-ana",
            inner_box=canary,
            created_at_ms=NOW_MS,
        )
    )
    _one_of_everything_of_0004(session, canary, org=org, match=match)


def _one_of_everything_of_0004(
    session: Session, canary: bytes, *, org: bytes, match: bytes
) -> None:
    admin = secrets.token_bytes(16)
    pseudonym = secrets.token_bytes(32)
    later = NOW_MS + 60_000
    session.add_all(
        [
            CounselorEnrollment(
                code_hash=secrets.token_bytes(32),
                counselor_id="c-bea",
                display_name="Bea",
                notify_email=None,
                created_at_ms=NOW_MS,
                expires_at_ms=later,
            ),
            Case(counselor_id="c-ana", match_id=match, state="contacted", updated_at_ms=NOW_MS),
            OrganizationKey(
                organization_id=org, public_key=secrets.token_bytes(32), created_at_ms=NOW_MS
            ),
            OrganizationAdmin(
                id=admin, organization_id=org, display_name="Dee", created_at_ms=NOW_MS
            ),
            OrganizationAdminEnrollment(
                code_hash=secrets.token_bytes(32),
                organization_id=org,
                display_name="Eve",
                created_at_ms=NOW_MS,
                expires_at_ms=later,
            ),
            OrganizationCounselor(organization_id=org, counselor_id="c-ana", added_at_ms=NOW_MS),
            MemberCode(
                code_hash=secrets.token_bytes(32),
                organization_id=org,
                member_pseudonym=pseudonym,
                created_at_ms=NOW_MS,
                expires_at_ms=later,
            ),
            MemberIssuance(
                organization_id=org, member_pseudonym=pseudonym, period="2026-Q4", tokens_issued=1
            ),
            SpentToken(
                organization_id=org, token_input=secrets.token_bytes(32), spent_at_ms=NOW_MS
            ),
            MemberMail(
                organization_id=org,
                kind="member-code",
                recipient="member@work.example",
                secret="code-" + canary.hex()[:16],
                created_at_ms=NOW_MS,
                attempts=0,
                next_attempt_at_ms=NOW_MS,
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            OrganizationAdminToken(
                token_hash=secrets.token_bytes(32), admin_id=admin, created_at_ms=NOW_MS
            ),
            CaseNote(
                id=secrets.token_bytes(16),
                counselor_id="c-ana",
                match_id=match,
                sealed=canary,
                created_at_ms=NOW_MS,
            ),
            Report(
                id=secrets.token_bytes(16),
                organization_id=org,
                counselor_id="c-ana",
                match_id=match,
                sealed=canary,
                created_at_ms=NOW_MS,
            ),
        ]
    )


# -- up and down --------------------------------------------------------------------------


def test_upgrade_head_on_an_empty_database_creates_every_table(
    make_database: DatabaseFactory,
) -> None:
    database = make_database(migrated=False)
    assert database.current_revision() is None
    assert _tables(database) == set()
    database.upgrade()
    assert database.current_revision() == "0004"
    assert _tables(database) == TABLES


def test_downgrade_to_base_and_upgrade_again(make_database: DatabaseFactory) -> None:
    database = make_database(migrated=False)
    database.upgrade()
    database.downgrade("base")
    assert database.current_revision() is None
    assert _tables(database) == set()
    database.upgrade()
    assert _tables(database) == TABLES
    assert _diff(database, Base.metadata) == []


def test_the_models_equal_upgrade_head(make_database: DatabaseFactory) -> None:
    database = make_database(migrated=False)
    database.upgrade()
    assert _diff(database, Base.metadata) == []


def test_the_comparison_would_notice_a_difference(make_database: DatabaseFactory) -> None:
    # The check above is only worth something if it can fail.
    database = make_database()
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["matches"].append_column(Column("extra", Integer, nullable=True))
    assert [op[0] for op in _diff(database, changed)] == ["add_column"]  # type: ignore[index]


def test_data_survives_upgrade_head_and_is_dropped_by_downgrade(
    make_database: DatabaseFactory, backend: str, tmp_path: Path
) -> None:
    canary = b"canary-" + secrets.token_hex(16).encode()
    database = make_database()
    with database.transaction() as session:
        _one_of_everything(session, canary)
    assert set(_row_counts(database).values()) == {1}

    database.upgrade()  # already at head: nothing changes, nothing is lost
    assert set(_row_counts(database).values()) == {1}

    database.downgrade("base")  # documented: the initial revision's downgrade drops data
    assert _tables(database) == set()
    if backend == "sqlite":
        database.checkpoint()
        for file in tmp_path.iterdir():
            assert canary not in file.read_bytes(), file.name

    database.upgrade()
    assert set(_row_counts(database).values()) == {0}
    with database.transaction() as session:
        _one_of_everything(session, canary)
    assert set(_row_counts(database).values()) == {1}


def test_the_migrations_ship_inside_the_package() -> None:
    location = storage_engine.MIGRATIONS
    assert location.is_relative_to(Path(storage_engine.__file__).parent)
    assert (location / "env.py").is_file()
    assert (location / "script.py.mako").is_file()
    scripts = ScriptDirectory(str(location))
    assert scripts.get_heads() == ["0004"]
    assert [s.revision for s in scripts.walk_revisions()] == ["0004", "0003", "0002", "0001"]


# -- the schema refuses invalid states -----------------------------------------------------


def _change(table: type[Base], **changes: object) -> Callable[[Session], None]:
    def apply(session: Session) -> None:
        row = session.scalars(select(table)).one()
        for name, value in changes.items():
            setattr(row, name, value)
        session.flush()

    return apply


def _add(make: Callable[[Session], Base]) -> Callable[[Session], None]:
    def apply(session: Session) -> None:
        session.add(make(session))
        session.flush()

    return apply


def _second_slot(session: Session, **changes: object) -> SlotRow:
    slot = session.scalars(select(SlotRow)).one()
    values = {column.key: getattr(slot, column.key) for column in SlotRow.__table__.columns} | {
        "id": secrets.token_bytes(16),
        "position": 2,
    }
    return SlotRow(**(values | changes))


def _other_account_entry(session: Session) -> SlotRow:
    account = session.scalars(select(Account)).one()
    other = secrets.token_bytes(16)
    session.add(
        Account(
            id=other,
            username="other-otter-0002",
            organization_id=account.organization_id,
            auth_key_hash="h",
            recovery_auth_key_hash="h",
            key_bundle=b"\x01",
            created_at_ms=NOW_MS,
        )
    )
    session.flush()
    return _second_slot(session, account_id=other, tag=secrets.token_bytes(32), position=1)


def _fresh_slot(**changes: object) -> Callable[[Session], None]:
    # A new slot under a new tag: only the change under test can make it invalid.
    fresh = {"tag": secrets.token_bytes(32), "position": 1} | changes
    return _add(lambda s: _second_slot(s, **fresh))


CHECK = r"(?i)check constraint"
FOREIGN_KEY = r"(?i)foreign key"
UNIQUE = r"(?i)unique|duplicate key"

#: Each invalid change, and what the database says (SQLite and PostgreSQL both match).
INVALID: dict[str, tuple[Callable[[Session], None], str]] = {
    "short tag": (_fresh_slot(tag=b"\x00" * 31), CHECK),
    "long slot id": (_fresh_slot(id=b"\x00" * 17), CHECK),
    "short share": (_fresh_slot(share=b"\x00" * 31), CHECK),
    "unknown state": (_fresh_slot(state="matched"), CHECK),
    "withdrawn without a time": (_fresh_slot(state="withdrawn"), CHECK),
    "a time without withdrawal": (_fresh_slot(withdrawn_at_ms=NOW_MS), CHECK),
    "unknown counselor": (_fresh_slot(counselor_id="c-nobody"), FOREIGN_KEY),
    "slot of another account's entry": (_add(_other_account_entry), FOREIGN_KEY),
    "second live slot of an account and tag": (_add(_second_slot), UNIQUE),
    "two slots at one position": (
        _add(lambda s: _second_slot(s, position=1, state="withdrawn", withdrawn_at_ms=NOW_MS)),
        UNIQUE,
    ),
    "second match of a tag": (
        _add(
            lambda s: Match(
                id=secrets.token_bytes(16),
                tag=s.scalars(select(Match.tag)).one(),
                created_at_ms=NOW_MS,
            )
        ),
        UNIQUE,
    ),
    "member of another tag's match": (
        _change(MatchMember, tag=secrets.token_bytes(32)),
        FOREIGN_KEY,
    ),
    "member with another counselor": (_change(MatchMember, counselor_id="c-ben"), FOREIGN_KEY),
    "inbox item for another counselor": (_change(InboxItem, counselor_id="c-ben"), FOREIGN_KEY),
    "record version 0": (_change(RecordVersion, version=0), CHECK),
    # The outbox can hold only fixed words: never an address or a server's reply.
    "outbox error that is free text": (
        _change(OutboxRow, last_error_kind="550 ana@counsel.example"),
        CHECK,
    ),
    "unknown outbox kind": (_change(OutboxRow, kind="match-details"), CHECK),
    "negative outbox attempts": (_change(OutboxRow, attempts=-1), CHECK),
    "outbox row for an unknown counselor": (
        _change(OutboxRow, counselor_id="c-nobody"),
        FOREIGN_KEY,
    ),
    "unknown session kind": (_change(AuthSession, kind="magic"), CHECK),
    "invite used too often": (_change(InviteCode, uses=6), CHECK),
    "short leaf": (_change(LogLeaf, leaf=b"\x00" * 58), CHECK),
    "duplicate username": (
        _add(
            lambda s: Account(
                id=secrets.token_bytes(16),
                username="calm-otter-0001",
                organization_id=s.scalars(select(Organization.id)).one(),
                auth_key_hash="h",
                recovery_auth_key_hash="h",
                key_bundle=b"\x01",
                created_at_ms=NOW_MS,
            )
        ),
        UNIQUE,
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_the_schema_refuses_invalid_states(database: Database, case: str) -> None:
    with database.transaction() as session:
        _one_of_everything(session, b"payload")
        session.add(
            Counselor(
                id="c-ben",
                public_key=secrets.token_bytes(32),
                display_name="Ben",
                vouching_signature=secrets.token_bytes(64),
                created_at_ms=NOW_MS,
            )
        )
    before = _row_counts(database)

    change, says = INVALID[case]

    def attempt() -> None:
        with database.transaction() as session:
            change(session)

    with pytest.raises(IntegrityError, match=says):
        attempt()
    assert _row_counts(database) == before


def test_a_withdrawn_slot_leaves_room_for_a_new_one(database: Database) -> None:
    with database.transaction() as session:
        _one_of_everything(session, b"payload")
    with database.transaction() as session:
        _change(SlotRow, state="withdrawn", withdrawn_at_ms=NOW_MS)(session)
        session.add(_second_slot(session, state="live", withdrawn_at_ms=None))
    assert _row_counts(database)["slots"] == 2


def test_two_processes_starting_at_once_migrate_once(make_database: DatabaseFactory) -> None:
    # Every escrow process runs upgrade() at start-up; two starting together on an empty
    # database must not both create the tables.
    handles = [make_database(migrated=False) for _ in range(2)]
    start = threading.Barrier(len(handles))
    failures: list[BaseException] = []

    def migrate(database: Database) -> None:
        start.wait()
        try:
            database.upgrade()
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            failures.append(e)

    threads = [threading.Thread(target=migrate, args=(h,)) for h in handles]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Without the migration lock the two DDL transactions deadlock on PostgreSQL:
        # fail then, rather than hang.
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "the migrations deadlocked"
    assert failures == []
    assert [h.current_revision() for h in handles] == ["0004", "0004"]


# -- revision 0003: notify_email and the outbox ---------------------------------------------


def _counselor_row(session: Session, counselor_id: str) -> None:
    # Through Core with the columns of revision 0002: the model has 0003's column.
    session.execute(
        Counselor.__table__.insert().values(
            id=counselor_id,
            public_key=secrets.token_bytes(32),
            display_name=f"Counselor {counselor_id}",
            vouching_signature=secrets.token_bytes(64),
            created_at_ms=NOW_MS,
        )
    )


def test_0003_keeps_counselors_and_its_downgrade_drops_only_the_new_data(
    make_database: DatabaseFactory, backend: str, tmp_path: Path
) -> None:
    address = "canary-" + secrets.token_hex(8) + "@counsel.example"
    database = make_database(migrated=False)
    database.upgrade("0002")
    with database.engine.begin() as connection:
        _counselor_row(Session(connection), "c-ana")
        connection.commit()

    database.upgrade("0003")
    with database.read() as session:
        (counselor,) = session.scalars(select(Counselor)).all()
        # An existing counselor starts without an address: no emails until one is set.
        assert (counselor.id, counselor.notify_email) == ("c-ana", None)
    with database.transaction() as session:
        session.get_one(Counselor, "c-ana").notify_email = address
        session.add(
            OutboxRow(
                counselor_id="c-ana",
                kind="new-match",
                created_at_ms=NOW_MS,
                attempts=0,
                next_attempt_at_ms=NOW_MS,
            )
        )

    database.downgrade("0002")  # documented: drops the outbox and the addresses
    assert "outbox" not in _tables(database)
    with database.engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("counselors")}
        ids = (
            connection.execute(
                Counselor.__table__.select().with_only_columns(Counselor.__table__.c.id)
            )
            .scalars()
            .all()
        )
    assert "notify_email" not in columns
    assert ids == ["c-ana"]
    if backend == "sqlite":
        database.checkpoint()
        for file in tmp_path.iterdir():
            assert address.encode() not in file.read_bytes(), file.name

    database.upgrade()
    assert _diff(database, Base.metadata) == []
