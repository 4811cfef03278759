"""Organizations' admins, enrollments, counselor pools, totals and reports in SQL:
`OrganizationStore` of `notalone.services.organizations`.

Enrollment is one transaction: a conditional UPDATE uses the code (unused and unexpired,
so two redemptions racing for one code cannot both succeed), then the intake key is
compared with or written to `organization_keys`, then the admin and their token are
inserted. A ConflictError raised inside rolls everything back, the code's use included.
Two first admins racing with different keys collide on `organization_keys`' primary key;
the loser gets the same ConflictError. Driver errors are never passed on (their messages
quote values).
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from notalone.errors import ConflictError
from notalone.services.escrow import CounselorRecord, NotFoundError
from notalone.services.organizations import (
    INTAKE_KEY_DIFFERS,
    NO_COUNSELOR,
    NO_INVITE,
    NO_ORGANIZATION,
    Activity,
    AdminRecord,
    InviteInfo,
    OrganizationInfo,
    ReportInfo,
    invite_id,
    same_key,
)
from notalone.storage.engine import Database
from notalone.storage.enrollment import claim_enrollment
from notalone.storage.models import (
    Account,
    Counselor,
    Entry,
    InviteCode,
    MatchMember,
    Organization,
    OrganizationAdmin,
    OrganizationAdminEnrollment,
    OrganizationAdminToken,
    OrganizationCounselor,
    OrganizationKey,
    Report,
    SlotRow,
)


def _admin(row: OrganizationAdmin) -> AdminRecord:
    return AdminRecord(
        id=row.id,
        organization_id=row.organization_id,
        display_name=row.display_name,
        created_at_ms=row.created_at_ms,
    )


class SqlOrganizationStore:
    """`OrganizationStore` (and the escrow's `CounselorPool`) on a `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def organizations(self) -> list[OrganizationInfo]:
        """See `OrganizationStore.organizations`."""
        with self._db.read() as session:
            rows = session.execute(
                select(
                    Organization.id,
                    Organization.name,
                    Organization.created_at_ms,
                    OrganizationKey.public_key,
                )
                .outerjoin(OrganizationKey, OrganizationKey.organization_id == Organization.id)
                .order_by(Organization.name)
            ).all()
        return [
            OrganizationInfo(
                id=r.id, name=r.name, intake_public_key=r.public_key, created_at_ms=r.created_at_ms
            )
            for r in rows
        ]

    def organization(self, organization_id: bytes) -> OrganizationInfo | None:
        """See `OrganizationStore.organization`."""
        with self._db.read() as session:
            row = session.get(Organization, organization_id)
            if row is None:
                return None
            key = session.get(OrganizationKey, organization_id)
            return OrganizationInfo(
                id=row.id,
                name=row.name,
                intake_public_key=None if key is None else key.public_key,
                created_at_ms=row.created_at_ms,
            )

    def add_enrollment(
        self,
        code_hash: bytes,
        organization_id: bytes,
        display_name: str,
        expires_at_ms: int,
        now_ms: int,
    ) -> None:
        """See `OrganizationStore.add_enrollment`."""
        with self._db.transaction() as session:
            if session.get(Organization, organization_id) is None:
                raise NotFoundError(NO_ORGANIZATION)
            session.add(
                OrganizationAdminEnrollment(
                    code_hash=code_hash,
                    organization_id=organization_id,
                    display_name=display_name,
                    created_at_ms=now_ms,
                    expires_at_ms=expires_at_ms,
                    used_at_ms=None,
                )
            )

    def enroll(
        self,
        code_hash: bytes,
        intake_public_key: bytes,
        admin_id: bytes,
        token_hash: bytes,
        now_ms: int,
    ) -> bytes:
        """See `OrganizationStore.enroll`."""
        try:
            with self._db.transaction() as session:
                organization_id, display_name = claim_enrollment(
                    session,
                    OrganizationAdminEnrollment,
                    code_hash,
                    now_ms,
                    OrganizationAdminEnrollment.organization_id,
                    OrganizationAdminEnrollment.display_name,
                )
                key = session.get(OrganizationKey, organization_id)
                if key is None:
                    session.add(
                        OrganizationKey(
                            organization_id=organization_id,
                            public_key=intake_public_key,
                            created_at_ms=now_ms,
                        )
                    )
                elif not same_key(key.public_key, intake_public_key):
                    raise ConflictError(INTAKE_KEY_DIFFERS)
                session.add(
                    OrganizationAdmin(
                        id=admin_id,
                        organization_id=organization_id,
                        display_name=display_name,
                        created_at_ms=now_ms,
                    )
                )
                # The token's foreign key needs its admin first.
                session.flush()
                session.add(
                    OrganizationAdminToken(
                        token_hash=token_hash,
                        admin_id=admin_id,
                        created_at_ms=now_ms,
                        expires_at_ms=None,
                    )
                )
        except IntegrityError as e:
            # The only row two enrollments can both insert is the organization's key.
            raise ConflictError(INTAKE_KEY_DIFFERS) from e
        return bytes(organization_id)

    def admin_for_token(self, token_hash: bytes, now_ms: int) -> AdminRecord | None:
        """See `OrganizationStore.admin_for_token`."""
        with self._db.read() as session:
            row = session.execute(
                select(OrganizationAdmin, OrganizationAdminToken.expires_at_ms)
                .join(
                    OrganizationAdminToken, OrganizationAdminToken.admin_id == OrganizationAdmin.id
                )
                .where(OrganizationAdminToken.token_hash == token_hash)
            ).first()
            if row is None or (row.expires_at_ms is not None and row.expires_at_ms <= now_ms):
                return None
            return _admin(row[0])

    def admins(self, organization_id: bytes) -> list[AdminRecord]:
        """See `OrganizationStore.admins`."""
        with self._db.read() as session:
            rows = session.scalars(
                select(OrganizationAdmin)
                .where(OrganizationAdmin.organization_id == organization_id)
                .order_by(OrganizationAdmin.created_at_ms, OrganizationAdmin.id)
            ).all()
            return [_admin(r) for r in rows]

    def invites(self, organization_id: bytes) -> list[tuple[bytes, InviteInfo]]:
        """See `OrganizationStore.invites`."""
        with self._db.read() as session:
            rows = session.scalars(
                select(InviteCode)
                .where(InviteCode.organization_id == organization_id)
                .order_by(InviteCode.created_at_ms, InviteCode.code_hash)
            ).all()
            return [
                (
                    r.code_hash,
                    InviteInfo(
                        id=invite_id(r.code_hash),
                        uses=r.uses,
                        max_uses=r.max_uses,
                        created_at_ms=r.created_at_ms,
                        expires_at_ms=r.expires_at_ms,
                        revoked=r.revoked_at_ms is not None,
                    ),
                )
                for r in rows
            ]

    def revoke_invite(self, organization_id: bytes, code_hash: bytes, now_ms: int) -> None:
        """See `OrganizationStore.revoke_invite`."""
        with self._db.transaction() as session:
            row = session.get(InviteCode, code_hash)
            if row is None or row.organization_id != organization_id:
                raise NotFoundError(NO_INVITE)
            if row.revoked_at_ms is None:
                row.revoked_at_ms = now_ms

    def counselors(self) -> list[CounselorRecord]:
        """See `OrganizationStore.counselors` (never the notification address)."""
        with self._db.read() as session:
            rows = session.execute(
                select(
                    Counselor.id,
                    Counselor.display_name,
                    Counselor.public_key,
                    Counselor.vouching_signature,
                    Counselor.created_at_ms,
                ).order_by(Counselor.id)
            ).all()
        return [
            CounselorRecord(
                id=r.id,
                display_name=r.display_name,
                public_key=r.public_key,
                vouching_signature=r.vouching_signature,
                created_at_ms=r.created_at_ms,
            )
            for r in rows
        ]

    def pool(self, organization_id: bytes) -> frozenset[str]:
        """See `OrganizationStore.pool`."""
        with self._db.read() as session:
            return frozenset(
                session.scalars(
                    select(OrganizationCounselor.counselor_id).where(
                        OrganizationCounselor.organization_id == organization_id
                    )
                ).all()
            )

    def add_to_pool(self, organization_id: bytes, counselor_id: str, now_ms: int) -> None:
        """See `OrganizationStore.add_to_pool`."""
        try:
            with self._db.transaction() as session:
                if session.get(Counselor, counselor_id) is None:
                    raise NotFoundError(NO_COUNSELOR)
                if session.get(OrganizationCounselor, (organization_id, counselor_id)) is None:
                    session.add(
                        OrganizationCounselor(
                            organization_id=organization_id,
                            counselor_id=counselor_id,
                            added_at_ms=now_ms,
                        )
                    )
        except IntegrityError:
            # Two admins added the same counselor at once: the pool holds them, as asked.
            return

    def remove_from_pool(self, organization_id: bytes, counselor_id: str) -> None:
        """See `OrganizationStore.remove_from_pool`."""
        with self._db.transaction() as session:
            session.execute(
                delete(OrganizationCounselor).where(
                    OrganizationCounselor.organization_id == organization_id,
                    OrganizationCounselor.counselor_id == counselor_id,
                )
            )

    def pool_of_account(self, account_id: bytes) -> frozenset[str]:
        """See `OrganizationStore.pool_of_account`."""
        with self._db.read() as session:
            return frozenset(
                session.scalars(
                    select(OrganizationCounselor.counselor_id)
                    .join(Account, Account.organization_id == OrganizationCounselor.organization_id)
                    .where(Account.id == account_id)
                ).all()
            )

    def activity(self, organization_id: bytes) -> Activity:
        """See `OrganizationStore.activity`. Only times leave the database: no id, tag or
        slot. A match counts from when it first included one of the organization's slots."""
        with self._db.read() as session:
            entries = session.scalars(
                select(Entry.created_at_ms)
                .join(Account, Account.id == Entry.account_id)
                .where(Account.organization_id == organization_id)
            ).all()
            matches = session.scalars(
                select(func.min(MatchMember.created_at_ms))
                .join(SlotRow, SlotRow.id == MatchMember.slot_id)
                .join(Account, Account.id == SlotRow.account_id)
                .where(Account.organization_id == organization_id)
                .group_by(MatchMember.match_id)
            ).all()
        return Activity(entry_times_ms=list(entries), match_times_ms=list(matches))

    def reports(self, organization_id: bytes) -> list[ReportInfo]:
        """See `OrganizationStore.reports`."""
        with self._db.read() as session:
            rows = session.execute(
                select(Report, Counselor.display_name)
                .join(Counselor, Counselor.id == Report.counselor_id)
                .where(Report.organization_id == organization_id)
                .order_by(Report.created_at_ms, Report.id)
            ).all()
            return [
                ReportInfo(
                    id=r[0].id,
                    match_id=r[0].match_id,
                    counselor_id=r[0].counselor_id,
                    counselor_name=r[1],
                    sealed=r[0].sealed,
                    created_at_ms=r[0].created_at_ms,
                )
                for r in rows
            ]
