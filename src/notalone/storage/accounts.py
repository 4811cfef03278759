"""Accounts, sessions and idempotency keys on SQL: the ports of `services.accounts`.

Each method is one transaction on `Database`. Registration uses the invite with a single
conditional UPDATE (`uses < max_uses` and not expired), so two registrations racing for
the last use of an invite cannot both succeed, on SQLite or PostgreSQL. A driver error is
never passed on: its message quotes the offending values (docs/decisions/0004-storage.md),
so it becomes a named error with a message of our own.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from notalone.errors import ConflictError, InputError
from notalone.services.accounts import (
    INVITE_EXPIRED,
    INVITE_UNKNOWN,
    INVITE_USED_UP,
    USERNAME_TAKEN,
    AccountRecord,
    SessionKind,
    SessionRecord,
    StoredResponse,
)
from notalone.services.organizations import INVITE_REVOKED
from notalone.storage.engine import Database
from notalone.storage.models import (
    Account,
    AuthSession,
    IdempotencyKey,
    InviteCode,
    Organization,
)


def _record(row: Account) -> AccountRecord:
    return AccountRecord(
        id=row.id,
        username=row.username,
        organization_id=row.organization_id,
        auth_key_hash=row.auth_key_hash,
        recovery_auth_key_hash=row.recovery_auth_key_hash,
        key_bundle=row.key_bundle,
        created_at_ms=row.created_at_ms,
    )


def _kind(value: str) -> SessionKind:
    if value == "cookie":
        return "cookie"
    if value == "bearer":
        return "bearer"
    raise InputError("a stored session has an unknown kind")  # pragma: no cover - CHECKed.


def account_row(account: AccountRecord, organization_id: bytes) -> Account:
    """The `accounts` row of a registration, in the organization its invite or token named."""
    return Account(
        id=account.id,
        username=account.username,
        organization_id=organization_id,
        auth_key_hash=account.auth_key_hash,
        recovery_auth_key_hash=account.recovery_auth_key_hash,
        key_bundle=account.key_bundle,
        created_at_ms=account.created_at_ms,
    )


class SqlAccountStore:
    """`services.accounts.AccountStore` on a `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create_organization(self, organization_id: bytes, name: str, now_ms: int) -> None:
        try:
            with self._db.transaction() as session:
                taken = session.scalar(select(Organization.id).where(Organization.name == name))
                if taken is not None:
                    raise ConflictError("an organization with this name exists")
                session.add(Organization(id=organization_id, name=name, created_at_ms=now_ms))
        except IntegrityError as e:
            # Another process created the same name between our check and our insert.
            raise ConflictError("an organization with this name exists") from e

    def add_invite(
        self,
        code_hash: bytes,
        organization_id: bytes,
        max_uses: int,
        expires_at_ms: int | None,
        now_ms: int,
    ) -> None:
        with self._db.transaction() as session:
            if session.get(Organization, organization_id) is None:
                raise InputError("there is no organization with this id")
            session.add(
                InviteCode(
                    code_hash=code_hash,
                    organization_id=organization_id,
                    max_uses=max_uses,
                    uses=0,
                    created_at_ms=now_ms,
                    expires_at_ms=expires_at_ms,
                )
            )

    def register(self, account: AccountRecord, invite_code_hash: bytes, now_ms: int) -> None:
        unusable = False
        try:
            with self._db.transaction() as session:
                if session.scalar(select(Account.id).where(Account.username == account.username)):
                    raise ConflictError(USERNAME_TAKEN)
                used = session.execute(
                    update(InviteCode)
                    .where(
                        InviteCode.code_hash == invite_code_hash,
                        InviteCode.uses < InviteCode.max_uses,
                        InviteCode.revoked_at_ms.is_(None),
                        or_(InviteCode.expires_at_ms.is_(None), InviteCode.expires_at_ms > now_ms),
                    )
                    .values(uses=InviteCode.uses + 1)
                    .returning(InviteCode.organization_id)
                ).scalar_one_or_none()
                if used is None:
                    unusable = True
                else:
                    session.add(account_row(account, used))
        except IntegrityError as e:
            # The only unique value a racing registration can share is the username (the
            # id is 16 random bytes); the rollback also returned the invite's use.
            raise ConflictError(USERNAME_TAKEN) from e
        if unusable:
            # Outside the write transaction: the reason is read from a reader connection.
            raise InputError(self._why_unusable(invite_code_hash, now_ms))

    def _why_unusable(self, invite_code_hash: bytes, now_ms: int) -> str:
        with self._db.read() as session:
            invite = session.get(InviteCode, invite_code_hash)
            if invite is None:
                return INVITE_UNKNOWN
            if invite.revoked_at_ms is not None:
                return INVITE_REVOKED
            if invite.expires_at_ms is not None and invite.expires_at_ms <= now_ms:
                return INVITE_EXPIRED
            return INVITE_USED_UP

    def invite_uses(self, code_hash: bytes) -> int:
        """How often an invite was used (for tests and operators)."""
        with self._db.read() as session:
            invite = session.get(InviteCode, code_hash)
            if invite is None:
                raise InputError(INVITE_UNKNOWN)
            return invite.uses

    def account_by_username(self, username: str) -> AccountRecord | None:
        with self._db.read() as session:
            row = session.scalar(select(Account).where(Account.username == username))
            return None if row is None else _record(row)

    def account_by_id(self, account_id: bytes) -> AccountRecord | None:
        with self._db.read() as session:
            row = session.get(Account, account_id)
            return None if row is None else _record(row)

    def replace_credentials(
        self, account_id: bytes, key_bundle: bytes, auth_key_hash: str, keep_token_hash: bytes
    ) -> None:
        with self._db.transaction() as session:
            session.execute(
                update(Account)
                .where(Account.id == account_id)
                .values(key_bundle=key_bundle, auth_key_hash=auth_key_hash)
            )
            session.execute(
                delete(AuthSession).where(
                    AuthSession.account_id == account_id,
                    AuthSession.token_hash != keep_token_hash,
                )
            )

    def add_session(self, session_record: SessionRecord) -> None:
        with self._db.transaction() as session:
            session.add(
                AuthSession(
                    token_hash=session_record.token_hash,
                    account_id=session_record.account_id,
                    kind=session_record.kind,
                    created_at_ms=session_record.created_at_ms,
                    expires_at_ms=session_record.expires_at_ms,
                )
            )

    def session(self, token_hash: bytes, now_ms: int) -> SessionRecord | None:
        with self._db.read() as session:
            row = session.get(AuthSession, token_hash)
            if row is None or row.expires_at_ms <= now_ms:
                return None
            return SessionRecord(
                token_hash=row.token_hash,
                account_id=row.account_id,
                kind=_kind(row.kind),
                created_at_ms=row.created_at_ms,
                expires_at_ms=row.expires_at_ms,
            )

    def session_principal(
        self, token_hash: bytes, now_ms: int
    ) -> tuple[SessionRecord, str, bytes] | None:
        # One Core query on every authenticated request, instead of two ORM reads.
        with self._db.read() as session:
            row = session.execute(
                select(
                    AuthSession.token_hash,
                    AuthSession.account_id,
                    AuthSession.kind,
                    AuthSession.created_at_ms,
                    AuthSession.expires_at_ms,
                    Account.username,
                    Account.organization_id,
                )
                .join(Account, Account.id == AuthSession.account_id)
                .where(AuthSession.token_hash == token_hash, AuthSession.expires_at_ms > now_ms)
            ).first()
        if row is None:
            return None
        record = SessionRecord(
            token_hash=row.token_hash,
            account_id=row.account_id,
            kind=_kind(row.kind),
            created_at_ms=row.created_at_ms,
            expires_at_ms=row.expires_at_ms,
        )
        return record, row.username, row.organization_id

    def delete_session(self, token_hash: bytes) -> None:
        with self._db.transaction() as session:
            session.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash))

    def delete_expired_sessions(self, now_ms: int) -> int:
        with self._db.transaction() as session:
            result = session.execute(delete(AuthSession).where(AuthSession.expires_at_ms <= now_ms))
            return int(getattr(result, "rowcount", 0))


class SqlIdempotencyStore:
    """`services.accounts.IdempotencyStore` on a `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def response(self, account_id: bytes, key: str) -> StoredResponse | None:
        with self._db.read() as session:
            row = session.get(IdempotencyKey, (account_id, key))
            if row is None:
                return None
            return StoredResponse(row.request_hash, row.response_status, row.response_body)

    def save_response(
        self, account_id: bytes, key: str, response: StoredResponse, now_ms: int
    ) -> StoredResponse:
        try:
            with self._db.transaction() as session:
                existing = session.get(IdempotencyKey, (account_id, key))
                if existing is not None:
                    return StoredResponse(
                        existing.request_hash, existing.response_status, existing.response_body
                    )
                session.add(
                    IdempotencyKey(
                        account_id=account_id,
                        idempotency_key=key,
                        request_hash=response.request_hash,
                        response_status=response.status,
                        response_body=response.body,
                        created_at_ms=now_ms,
                    )
                )
        except IntegrityError:
            # Another process stored a response for this key first: theirs is the answer.
            stored = self.response(account_id, key)
            if stored is None:  # pragma: no cover - the conflicting row was just committed.
                raise
            return stored
        return response
