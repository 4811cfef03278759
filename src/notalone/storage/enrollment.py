"""Redeeming a one-time enrollment code (counselors' and organization admins' alike).

The codes themselves are made, normalized and hashed by `notalone.services.enrollment`;
this is the one SQL step both stores share: claiming the code row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from notalone.errors import InputError
from notalone.services.enrollment import ENROLLMENT_REFUSED
from notalone.storage.models import CounselorEnrollment, OrganizationAdminEnrollment


def claim_enrollment(
    session: Session,
    table: type[CounselorEnrollment] | type[OrganizationAdminEnrollment],
    code_hash: bytes,
    now_ms: int,
    *columns: Any,
) -> tuple[Any, ...]:
    """Mark a code unused and unexpired at `now_ms` as used and return its row's `columns`;
    InputError(ENROLLMENT_REFUSED) for any other code. It is one conditional UPDATE, so two
    redemptions racing for one code cannot both see it unused."""
    claimed = session.execute(
        update(table)
        .where(
            table.code_hash == code_hash,
            table.used_at_ms.is_(None),
            table.expires_at_ms > now_ms,
        )
        .values(used_at_ms=now_ms)
        .returning(*columns)
    ).first()
    if claimed is None:
        raise InputError(ENROLLMENT_REFUSED)
    return tuple(claimed)
