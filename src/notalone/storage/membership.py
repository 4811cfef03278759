"""Membership tokens on SQL: member codes, issuance counts, spent tokens (docs/protocol.md §15).

Each method is one transaction on `Database`:

- `add_code` writes the code's hash and member pseudonym (`member_codes`) and the mail
  that carries the code to the address (`member_mail`) together: a code exists only if
  its mail is owed. The notifier erases the address and the code once delivered
  (`notalone.storage.outbox`).
- `spend_code` marks the code used with one conditional UPDATE (unused, unexpired, of this
  organization) and adds the batch to the member's count for the period with one
  `INSERT … ON CONFLICT DO UPDATE … WHERE count + batch <= quota RETURNING`. Over quota,
  the transaction rolls back: the code stays unused and nothing is counted.
- `register` inserts the spent token and the account in the same transaction: the primary
  key of `spent_tokens` makes a token work once, however many registrations race for it
  (PostgreSQL blocks the others on the first insert, then refuses them; SQLite's single
  writer runs them one after the other).

Driver errors are never passed on (their text quotes values): they become named errors.
"""

from __future__ import annotations

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from notalone.errors import ConflictError, InputError, LimitError
from notalone.protocol.membership import CODE_REFUSED
from notalone.services.accounts import USERNAME_TAKEN, AccountRecord
from notalone.storage.accounts import account_row
from notalone.storage.engine import Database
from notalone.storage.models import (
    MEMBER_MAIL_CODE,
    Account,
    MemberCode,
    MemberIssuance,
    MemberMail,
    Organization,
    SpentToken,
)

TOKEN_SPENT = "this membership token has already been used; each registers one account"  # noqa: S105


class SqlMembershipStore:
    """`services.membership.MembershipStore` on a `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def organization_exists(self, organization_id: bytes) -> bool:
        with self._db.read() as session:
            return session.get(Organization, organization_id) is not None

    def add_code(
        self,
        code_hash: bytes,
        organization_id: bytes,
        pseudonym: bytes,
        recipient: str,
        code: str,
        now_ms: int,
        expires_at_ms: int,
    ) -> None:
        with self._db.transaction() as session:
            if session.get(Organization, organization_id) is None:
                raise InputError("there is no organization with this id")
            session.add(
                MemberCode(
                    code_hash=code_hash,
                    organization_id=organization_id,
                    member_pseudonym=pseudonym,
                    created_at_ms=now_ms,
                    expires_at_ms=expires_at_ms,
                    used_at_ms=None,
                )
            )
            session.add(
                MemberMail(
                    organization_id=organization_id,
                    kind=MEMBER_MAIL_CODE,
                    recipient=recipient,
                    secret=code,
                    created_at_ms=now_ms,
                    attempts=0,
                    next_attempt_at_ms=now_ms,
                    delivered_at_ms=None,
                    last_error_kind=None,
                )
            )

    def spend_code(
        self,
        code_hash: bytes,
        organization_id: bytes,
        period: str,
        count: int,
        quota: int,
        now_ms: int,
    ) -> int:
        """Use the code and count `count` tokens; return the member's count for the period.

        InputError(CODE_REFUSED) for an unknown, expired or used code (one answer);
        LimitError when the count would pass `quota` (the code then stays unused).
        """
        insert = (
            postgresql.insert if self._db.engine.dialect.name == "postgresql" else sqlite.insert
        )
        with self._db.transaction() as session:
            pseudonym = session.execute(
                update(MemberCode)
                .where(
                    MemberCode.code_hash == code_hash,
                    MemberCode.organization_id == organization_id,
                    MemberCode.used_at_ms.is_(None),
                    MemberCode.expires_at_ms > now_ms,
                )
                .values(used_at_ms=now_ms)
                .returning(MemberCode.member_pseudonym)
            ).scalar_one_or_none()
            if pseudonym is None:
                raise InputError(CODE_REFUSED)
            table = MemberIssuance.__table__
            assert isinstance(table, Table)  # noqa: S101 - a declarative model's table.
            upsert = insert(table).values(
                organization_id=organization_id,
                member_pseudonym=pseudonym,
                period=period,
                tokens_issued=count,
            )
            statement = upsert.on_conflict_do_update(
                index_elements=[table.c.organization_id, table.c.member_pseudonym, table.c.period],
                set_={"tokens_issued": table.c.tokens_issued + upsert.excluded.tokens_issued},
                where=table.c.tokens_issued + upsert.excluded.tokens_issued <= quota,
            ).returning(table.c.tokens_issued)
            issued = session.execute(statement).scalar_one_or_none()
            if issued is None or issued > quota:
                # Raising rolls the transaction back: the code is not used up either.
                raise LimitError(
                    f"this member has already received the {quota} registration tokens "
                    f"allowed for {period}; more can be issued next quarter"
                )
            return int(issued)

    def issued(self, organization_id: bytes, pseudonym: bytes, period: str) -> int:
        """Tokens counted for this member and period (tests and operators)."""
        with self._db.read() as session:
            row = session.get(MemberIssuance, (organization_id, pseudonym, period))
            return 0 if row is None else row.tokens_issued

    def register(
        self, account: AccountRecord, organization_id: bytes, token_input: bytes, now_ms: int
    ) -> None:
        """Spend the token and create the account in one transaction (see the module)."""
        try:
            with self._db.transaction() as session:
                if session.get(SpentToken, (organization_id, token_input)) is not None:
                    raise ConflictError(TOKEN_SPENT)
                if session.scalar(select(Account.id).where(Account.username == account.username)):
                    raise ConflictError(USERNAME_TAKEN)
                session.add(
                    SpentToken(
                        organization_id=organization_id, token_input=token_input, spent_at_ms=now_ms
                    )
                )
                session.flush()
                session.add(account_row(account, organization_id))
        except IntegrityError as e:
            # A racing registration committed first: it spent the token or took the name.
            if self.spent(organization_id, token_input):
                raise ConflictError(TOKEN_SPENT) from e
            raise ConflictError(USERNAME_TAKEN) from e

    def spent(self, organization_id: bytes, token_input: bytes) -> bool:
        """Whether this token was redeemed."""
        with self._db.read() as session:
            return session.get(SpentToken, (organization_id, token_input)) is not None

    def counts(self) -> dict[str, int]:
        """Rows per table (tests: what the server keeps)."""
        with self._db.read() as session:
            return {
                "member_codes": len(session.scalars(select(MemberCode.code_hash)).all()),
                "spent_tokens": len(session.scalars(select(SpentToken.token_input)).all()),
            }
