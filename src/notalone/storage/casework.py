"""Counselor enrollments, cases, case notes and reports in SQL: `CaseworkStore` of
`notalone.services.casework`.

Redeeming an enrollment code is one transaction: an UPDATE … WHERE unused AND unexpired
claims the code (two racing redemptions cannot both see it unused), then the counselor
and their token are added; an id or key already registered raises inside the transaction,
so the code stays unused. A case row is written on the first state change, note or
report ("no row" reads as new); state changes are compare-and-set on the state read, so
two racing changes cannot both move the case from the same state.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notalone.errors import ConflictError, InputError
from notalone.services.casework import (
    CASE_NEW,
    NO_INTAKE_KEY,
    NO_SUCH_CASE,
    STATE_NOT_FORWARD,
    CasePackage,
    CaseView,
    SealedItem,
    Signer,
    forward_or_conflict,
)
from notalone.services.escrow import COUNSELOR_TAKEN, CounselorRecord, NotFoundError
from notalone.storage.engine import Database
from notalone.storage.enrollment import claim_enrollment
from notalone.storage.models import (
    Case,
    CaseNote,
    Counselor,
    CounselorEnrollment,
    CounselorToken,
    InboxItem,
    MatchMember,
    OrganizationKey,
    Report,
)


class SqlCaseworkStore:
    """Enrollments and casework in one `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # -- enrollment ----------------------------------------------------------------------

    def add_enrollment(
        self,
        code_hash: bytes,
        counselor_id: str,
        display_name: str,
        notify_email: str | None,
        expires_at_ms: int,
        now_ms: int,
    ) -> None:
        """See `CaseworkStore.add_enrollment`."""
        try:
            with self._db.transaction() as session:
                if session.get(Counselor, counselor_id) is not None:
                    raise ConflictError(COUNSELOR_TAKEN)
                # A new code for the same id replaces one not used yet (lost, or expired).
                session.execute(
                    delete(CounselorEnrollment).where(
                        CounselorEnrollment.counselor_id == counselor_id
                    )
                )
                session.add(
                    CounselorEnrollment(
                        code_hash=code_hash,
                        counselor_id=counselor_id,
                        display_name=display_name,
                        notify_email=notify_email,
                        created_at_ms=now_ms,
                        expires_at_ms=expires_at_ms,
                        used_at_ms=None,
                    )
                )
        except IntegrityError as e:
            # Two operators racing for one id; the database's text quotes values.
            raise ConflictError(COUNSELOR_TAKEN) from e

    def enroll(
        self, code_hash: bytes, public_key: bytes, vouch: Signer, token_hash: bytes, now_ms: int
    ) -> CounselorRecord:
        """See `CaseworkStore.enroll`."""
        try:
            with self._db.transaction() as session:
                counselor_id, display_name, notify_email = claim_enrollment(
                    session,
                    CounselorEnrollment,
                    code_hash,
                    now_ms,
                    CounselorEnrollment.counselor_id,
                    CounselorEnrollment.display_name,
                    CounselorEnrollment.notify_email,
                )
                taken = session.scalar(
                    select(Counselor.id).where(
                        or_(Counselor.id == counselor_id, Counselor.public_key == public_key)
                    )
                )
                if taken is not None:
                    raise ConflictError(COUNSELOR_TAKEN)
                record = CounselorRecord(
                    id=counselor_id,
                    display_name=display_name,
                    public_key=public_key,
                    vouching_signature=vouch(counselor_id),
                    created_at_ms=now_ms,
                )
                session.add(
                    Counselor(
                        id=record.id,
                        public_key=record.public_key,
                        display_name=record.display_name,
                        vouching_signature=record.vouching_signature,
                        created_at_ms=now_ms,
                        notify_email=notify_email,
                    )
                )
                # The token's foreign key needs its counselor first.
                session.flush()
                session.add(
                    CounselorToken(
                        token_hash=token_hash,
                        counselor_id=counselor_id,
                        created_at_ms=now_ms,
                        expires_at_ms=None,
                    )
                )
        except IntegrityError as e:
            # Two enrollments racing for one key; the database's text quotes values.
            raise ConflictError(COUNSELOR_TAKEN) from e
        return record

    # -- cases ---------------------------------------------------------------------------

    def cases(self, counselor_id: str) -> list[CaseView]:
        """See `CaseworkStore.cases`."""
        with self._db.read() as session:
            return self._cases(session, counselor_id, None)

    def set_state(self, counselor_id: str, match_id: bytes, state: str, now_ms: int) -> CaseView:
        """See `CaseworkStore.set_state`."""
        try:
            with self._db.transaction() as session:
                self._check_holds(session, counselor_id, match_id)
                row = session.get(Case, (counselor_id, match_id))
                current = CASE_NEW if row is None else row.state
                forward_or_conflict(current, state)
                if row is None:
                    session.add(
                        Case(
                            counselor_id=counselor_id,
                            match_id=match_id,
                            state=state,
                            updated_at_ms=now_ms,
                        )
                    )
                else:
                    moved = session.execute(
                        update(Case)
                        .where(
                            Case.counselor_id == counselor_id,
                            Case.match_id == match_id,
                            Case.state == current,
                        )
                        .values(state=state, updated_at_ms=now_ms)
                    )
                    if moved.rowcount != 1:  # type: ignore[attr-defined]
                        raise ConflictError(STATE_NOT_FORWARD)
                session.flush()
                return self._cases(session, counselor_id, match_id)[0]
        except IntegrityError as e:
            # Another request created the case row first: this change raced it.
            raise ConflictError(STATE_NOT_FORWARD) from e

    # -- notes and reports ---------------------------------------------------------------

    def add_note(
        self, counselor_id: str, match_id: bytes, note_id: bytes, sealed: bytes, now_ms: int
    ) -> None:
        """See `CaseworkStore.add_note`."""
        self._with_case(
            counselor_id,
            match_id,
            now_ms,
            CaseNote(
                id=note_id,
                counselor_id=counselor_id,
                match_id=match_id,
                sealed=sealed,
                created_at_ms=now_ms,
            ),
        )

    def notes(self, counselor_id: str, match_id: bytes) -> list[SealedItem]:
        """See `CaseworkStore.notes`."""
        with self._db.read() as session:
            self._check_holds(session, counselor_id, match_id)
            rows = session.scalars(
                select(CaseNote)
                .where(CaseNote.counselor_id == counselor_id, CaseNote.match_id == match_id)
                .order_by(CaseNote.created_at_ms, CaseNote.id)
            ).all()
            return [SealedItem(r.id, r.sealed, r.created_at_ms) for r in rows]

    def add_report(
        self,
        counselor_id: str,
        match_id: bytes,
        organization_id: bytes,
        report_id: bytes,
        sealed: bytes,
        now_ms: int,
    ) -> None:
        """See `CaseworkStore.add_report`."""
        self._with_case(
            counselor_id,
            match_id,
            now_ms,
            Report(
                id=report_id,
                organization_id=organization_id,
                counselor_id=counselor_id,
                match_id=match_id,
                sealed=sealed,
                created_at_ms=now_ms,
            ),
            organization_id=organization_id,
        )

    # -- helpers -------------------------------------------------------------------------

    def _with_case(
        self,
        counselor_id: str,
        match_id: bytes,
        now_ms: int,
        row: CaseNote | Report,
        organization_id: bytes | None = None,
    ) -> None:
        """Add `row` (which refers to the case) in one transaction, creating the case row
        as "new" first if the counselor has none yet."""
        for attempt in range(2):
            try:
                with self._db.transaction() as session:
                    self._check_holds(session, counselor_id, match_id)
                    if (
                        organization_id is not None
                        and session.get(OrganizationKey, organization_id) is None
                    ):
                        raise InputError(NO_INTAKE_KEY)
                    if session.get(Case, (counselor_id, match_id)) is None:
                        session.add(
                            Case(
                                counselor_id=counselor_id,
                                match_id=match_id,
                                state=CASE_NEW,
                                updated_at_ms=now_ms,
                            )
                        )
                        session.flush()
                    session.add(row)
            except IntegrityError as e:
                # Only a racing first write of the case row can collide (ids are random):
                # the row now exists, and the second attempt finds it.
                if attempt == 1:
                    raise ConflictError("this case changed meanwhile; try again") from e
            else:
                return

    @staticmethod
    def _check_holds(session: Session, counselor_id: str, match_id: bytes) -> None:
        held = session.scalar(
            select(InboxItem.slot_id)
            .where(InboxItem.counselor_id == counselor_id, InboxItem.match_id == match_id)
            .limit(1)
        )
        if held is None:
            raise NotFoundError(NO_SUCH_CASE)

    @staticmethod
    def _cases(session: Session, counselor_id: str, only: bytes | None) -> list[CaseView]:
        query = select(InboxItem).where(InboxItem.counselor_id == counselor_id)
        if only is not None:
            query = query.where(InboxItem.match_id == only)
        items = session.scalars(query.order_by(InboxItem.created_at_ms, InboxItem.slot_id)).all()
        match_ids = sorted({i.match_id for i in items})
        if not match_ids:
            return []
        states = {
            c.match_id: c
            for c in session.scalars(
                select(Case).where(Case.counselor_id == counselor_id, Case.match_id.in_(match_ids))
            ).all()
        }
        others = session.execute(
            select(MatchMember.match_id, Counselor.id, Counselor.display_name)
            .join(Counselor, Counselor.id == MatchMember.counselor_id)
            .where(
                and_(MatchMember.match_id.in_(match_ids), MatchMember.counselor_id != counselor_id)
            )
            .distinct()
        ).all()
        views = []
        for match_id in match_ids:
            packages = tuple(
                CasePackage(i.slot_id, i.inner_box, i.created_at_ms)
                for i in items
                if i.match_id == match_id
            )
            case = states.get(match_id)
            latest = max(p.created_at_ms for p in packages)
            views.append(
                CaseView(
                    match_id=match_id,
                    state=CASE_NEW if case is None else case.state,
                    updated_at_ms=latest if case is None else max(latest, case.updated_at_ms),
                    packages=packages,
                    other_counselors=tuple(
                        sorted({(cid, name) for m, cid, name in others if m == match_id})
                    ),
                )
            )
        views.sort(key=lambda v: (-v.updated_at_ms, v.match_id))
        return views
