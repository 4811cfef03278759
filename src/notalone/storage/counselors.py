"""The counselor registry and counselor tokens in SQL: `CounselorStore` of
`notalone.services.escrow`.

`counselors` holds each counselor's public X25519 key and the operator's vouching
signature (public data); `counselor_tokens` holds only SHA-256 hashes of the bearer
tokens counselors read their inboxes with. A counselor and their first token are stored
in one transaction. `counselors.notify_email` (revision 0003) is written here and read
only by `notalone.storage.outbox`: `list_counselors` never selects it.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from notalone.errors import ConflictError
from notalone.services.escrow import COUNSELOR_TAKEN, CounselorRecord
from notalone.storage.engine import Database
from notalone.storage.models import Counselor, CounselorToken


class SqlCounselorStore:
    """Counselors and counselor tokens in one `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(
        self, counselor: CounselorRecord, token_hash: bytes, notify_email: str | None = None
    ) -> None:
        """See `CounselorStore.add`."""
        try:
            with self._db.transaction() as session:
                taken = session.scalar(
                    select(Counselor.id).where(
                        or_(
                            Counselor.id == counselor.id,
                            Counselor.public_key == counselor.public_key,
                        )
                    )
                )
                if taken is not None:
                    raise ConflictError(COUNSELOR_TAKEN)
                session.add(
                    Counselor(
                        id=counselor.id,
                        public_key=counselor.public_key,
                        display_name=counselor.display_name,
                        vouching_signature=counselor.vouching_signature,
                        created_at_ms=counselor.created_at_ms,
                        notify_email=notify_email,
                    )
                )
                # The token's foreign key needs its counselor first.
                session.flush()
                session.add(
                    CounselorToken(
                        token_hash=token_hash,
                        counselor_id=counselor.id,
                        created_at_ms=counselor.created_at_ms,
                        expires_at_ms=None,
                    )
                )
        except IntegrityError as e:
            # Two operators racing for one id or key; the database's text quotes values.
            raise ConflictError(COUNSELOR_TAKEN) from e

    def list_counselors(self) -> list[CounselorRecord]:
        """See `CounselorStore.list_counselors`."""
        with self._db.read() as session:
            rows = session.scalars(select(Counselor).order_by(Counselor.id)).all()
            return [
                CounselorRecord(
                    id=row.id,
                    display_name=row.display_name,
                    public_key=row.public_key,
                    vouching_signature=row.vouching_signature,
                    created_at_ms=row.created_at_ms,
                )
                for row in rows
            ]

    def counselor_for_token(self, token_hash: bytes, now_ms: int) -> str | None:
        """See `CounselorStore.counselor_for_token`."""
        with self._db.read() as session:
            row = session.get(CounselorToken, token_hash)
            if row is None or (row.expires_at_ms is not None and row.expires_at_ms <= now_ms):
                return None
            return row.counselor_id
