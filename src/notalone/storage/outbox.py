"""The outbox of counselor notifications in SQL: `OutboxStore` of
`notalone.services.notifications`.

Rows are written by matching (`enqueue_new_match`, called inside the insert's
transaction by `notalone.storage.slots`) and delivered by the app's notifier.

Claiming (`claim`): in one short write transaction, select undelivered rows whose
`next_attempt_at_ms` has come and push that time forward by a lease, so no other claim
returns them while the claimer sends. On PostgreSQL the select is `FOR UPDATE SKIP
LOCKED`: two escrow processes claiming at once get disjoint rows without waiting for each
other (and READ COMMITTED re-checks a row a competitor has just leased). On SQLite the
single writer runs one claim at a time. The SMTP exchange happens after the commit, never
inside a transaction: on SQLite that would hold the only writer for a network round trip.

Nothing here stores or logs an address outside `counselors.notify_email`; a failure is
recorded as a fixed word (`OUTBOX_ERROR_KINDS`, enforced by a CHECK constraint).

Member-code mail (`member_mail`, docs/protocol.md §15) is claimed, leased and settled the
same way. Its rows do hold an address and a code, until delivery: `member_mail_delivered`
sets both to NULL in the same UPDATE that records the delivery (a CHECK constraint makes
a delivered row with either still set impossible).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from notalone.errors import InputError
from notalone.services.notifications import MemberMailItem, Notification
from notalone.storage.engine import Database
from notalone.storage.models import (
    OUTBOX_ERROR_KINDS,
    OUTBOX_NEW_MATCH,
    Counselor,
    MemberMail,
    OutboxRow,
)


@dataclass(frozen=True)
class OutboxView:
    """One outbox row as operators and tests see it (no address)."""

    id: int
    counselor_id: str
    kind: str
    created_at_ms: int
    attempts: int
    next_attempt_at_ms: int
    delivered_at_ms: int | None
    last_error_kind: str | None


def enqueue_new_match(session: Session, counselor_ids: Iterable[str], now_ms: int) -> None:
    """Owe one "new-match" notification to each of these counselors that has a
    notify_email, in the caller's transaction; counselors without one get no row."""
    wanted = sorted(set(counselor_ids))
    if not wanted:
        return
    notified = session.scalars(
        select(Counselor.id)
        .where(Counselor.id.in_(wanted), Counselor.notify_email.is_not(None))
        .order_by(Counselor.id)
    ).all()
    session.add_all(
        OutboxRow(
            counselor_id=counselor_id,
            kind=OUTBOX_NEW_MATCH,
            created_at_ms=now_ms,
            attempts=0,
            next_attempt_at_ms=now_ms,
            delivered_at_ms=None,
            last_error_kind=None,
        )
        for counselor_id in notified
    )


#: The two tables of mail owed: counselors' notifications and member codes. They are
#: claimed, leased and failed alike.
MailTable = type[OutboxRow] | type[MemberMail]


def _due(table: MailTable, now_ms: int) -> tuple[Any, ...]:
    return (table.delivered_at_ms.is_(None), table.next_attempt_at_ms <= now_ms)


def _lease(
    session: Session, table: MailTable, now_ms: int, limit: int, lease_ms: int, *columns: Any
) -> list[Any]:
    """Select up to `limit` due rows' `columns` for update and push their next attempt
    `lease_ms` ahead, so that another claimer skips them while they are being sent."""
    rows = session.execute(
        select(table.id, *columns)
        .where(*_due(table, now_ms))
        .order_by(table.next_attempt_at_ms, table.id)
        .limit(limit)
        # PostgreSQL: rows another claimer holds are skipped, not waited for. SQLite
        # renders no locking clause; its single writer is the lock.
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        session.execute(
            update(table)
            .where(table.id.in_([r.id for r in rows]))
            .values(next_attempt_at_ms=now_ms + lease_ms)
        )
    return list(rows)


def _fail(
    session: Session, table: MailTable, row_id: int, error_kind: str, next_attempt_at_ms: int
) -> None:
    # Only a fixed word is kept; anything else (a server's reply) becomes "other".
    kind = error_kind if error_kind in OUTBOX_ERROR_KINDS else "other"
    session.execute(
        update(table)
        .where(table.id == row_id, table.delivered_at_ms.is_(None))
        .values(
            attempts=table.attempts + 1, next_attempt_at_ms=next_attempt_at_ms, last_error_kind=kind
        )
    )


def claim(session: Session, now_ms: int, limit: int, lease_ms: int) -> list[Notification]:
    """Claim up to `limit` due rows in the caller's write transaction (see the module
    docstring); each comes with its counselor's current notify_email."""
    rows = _lease(
        session,
        OutboxRow,
        now_ms,
        limit,
        lease_ms,
        OutboxRow.counselor_id,
        OutboxRow.kind,
        OutboxRow.attempts,
    )
    if not rows:
        return []
    found = session.execute(
        select(Counselor.id, Counselor.notify_email).where(
            Counselor.id.in_({r.counselor_id for r in rows})
        )
    ).all()
    addresses: dict[str, str | None] = {row.id: row.notify_email for row in found}
    return [
        Notification(r.id, r.counselor_id, r.kind, r.attempts, addresses.get(r.counselor_id))
        for r in rows
    ]


class SqlOutbox:
    """The outbox in one `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _anything_due(self, table: MailTable, now_ms: int, limit: int, lease_ms: int) -> bool:
        if limit < 1 or lease_ms < 1:
            raise InputError("a claim needs a positive limit and lease")
        # A read first: most rounds find nothing due, and then take no write turn (on
        # SQLite, the writer that slot inserts wait for).
        with self._db.read() as session:
            return session.scalar(select(table.id).where(*_due(table, now_ms)).limit(1)) is not None

    def claim_due(self, now_ms: int, limit: int, lease_ms: int) -> list[Notification]:
        """See `OutboxStore.claim_due`."""
        if not self._anything_due(OutboxRow, now_ms, limit, lease_ms):
            return []
        with self._db.transaction() as session:
            return claim(session, now_ms, limit, lease_ms)

    def mark_delivered(self, notification_id: int, now_ms: int) -> None:
        """See `OutboxStore.mark_delivered`."""
        with self._db.transaction() as session:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == notification_id, OutboxRow.delivered_at_ms.is_(None))
                .values(attempts=OutboxRow.attempts + 1, delivered_at_ms=now_ms)
            )

    def mark_failed(self, notification_id: int, error_kind: str, next_attempt_at_ms: int) -> None:
        """See `OutboxStore.mark_failed`."""
        with self._db.transaction() as session:
            _fail(session, OutboxRow, notification_id, error_kind, next_attempt_at_ms)

    def claim_member_mail(self, now_ms: int, limit: int, lease_ms: int) -> list[MemberMailItem]:
        """See `OutboxStore.claim_member_mail`."""
        if not self._anything_due(MemberMail, now_ms, limit, lease_ms):
            return []
        with self._db.transaction() as session:
            rows = _lease(
                session,
                MemberMail,
                now_ms,
                limit,
                lease_ms,
                MemberMail.attempts,
                MemberMail.recipient,
                MemberMail.secret,
            )
            # Undelivered rows hold both (CHECK erased_once_delivered).
            return [MemberMailItem(r.id, r.attempts, str(r.recipient), str(r.secret)) for r in rows]

    def member_mail_delivered(self, mail_id: int, now_ms: int) -> None:
        """See `OutboxStore.member_mail_delivered`: the address and the code are erased."""
        with self._db.transaction() as session:
            session.execute(
                update(MemberMail)
                .where(MemberMail.id == mail_id, MemberMail.delivered_at_ms.is_(None))
                .values(
                    attempts=MemberMail.attempts + 1,
                    delivered_at_ms=now_ms,
                    recipient=None,
                    secret=None,
                )
            )

    def member_mail_failed(self, mail_id: int, error_kind: str, next_attempt_at_ms: int) -> None:
        """See `OutboxStore.member_mail_failed`."""
        with self._db.transaction() as session:
            _fail(session, MemberMail, mail_id, error_kind, next_attempt_at_ms)

    def rows(self) -> list[OutboxView]:
        """Every outbox row, oldest first (operators and tests)."""
        with self._db.read() as session:
            found = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
            return [
                OutboxView(
                    r.id,
                    r.counselor_id,
                    r.kind,
                    r.created_at_ms,
                    r.attempts,
                    r.next_attempt_at_ms,
                    r.delivered_at_ms,
                    r.last_error_kind,
                )
                for r in found
            ]
