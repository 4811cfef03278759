"""The escrow's tables, as SQLAlchemy 2 typed declarative models.

The schema stores only what docs/protocol.md §6–§10 let the server hold: ids, hashes of
secrets, public keys, and ciphertexts it cannot open. Conventions, the same in every
table (docs/decisions/0004-storage.md):

- Ids are random 16-byte strings (`LargeBinary`), except counselor ids, which are short
  public names chosen by the operator, and the log's leaf indices, which are positions.
- Times are integers: milliseconds since the Unix epoch, UTC, passed in by the caller
  (the receipts of §10.2 already count in ms; integers compare and index identically in
  SQLite and PostgreSQL, and carry no time zone to get wrong). Columns end in `_ms`.
- Constraints make invalid states impossible where both databases can check them:
  foreign keys (composite where a row must agree with its parent, e.g. a slot's account
  with its entry's), unique keys, NOT NULL, and CHECKs on fixed byte lengths and states.

Migrations in `migrations/versions/` must produce exactly these tables; a test compares
them with `alembic.autogenerate.compare_metadata` on SQLite and PostgreSQL.

    organizations ─< invite_codes
         └────────< accounts ─< sessions, idempotency_keys
                        ├─< records ─< record_versions >── log_leaves
                        └─< entries ─< slots >── counselors
    matches ─< match_members >── slots          tree_heads (signed tree heads)
                 └─< inbox_items >── counselors ─< counselor_tokens, outbox
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from notalone.services.notifications import ERROR_KINDS

# Constraint names are fixed by convention so that SQLite and PostgreSQL, the models and
# the migrations all agree, and a later migration can name what it alters.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_BYTES = 16
TAG_BYTES = 32
SCALAR_BYTES = 32
HASH_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
LEAF_BYTES = 59
MAX_COUNSELOR_ID_CHARS = 64
MAX_NAME_CHARS = 200
#: An Argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash) is about 100 characters.
MAX_PASSWORD_HASH_CHARS = 255
MAX_IDEMPOTENCY_KEY_CHARS = 128
MAX_U32 = 2**32 - 1

SLOT_LIVE = "live"
SLOT_WITHDRAWN = "withdrawn"
SLOT_FORGED = "forged"
SLOT_STATES = (SLOT_LIVE, SLOT_WITHDRAWN, SLOT_FORGED)
SESSION_KINDS = ("cookie", "bearer")
#: The notifications the outbox carries (revision 0003): only "there is something new".
OUTBOX_NEW_MATCH = "new-match"
OUTBOX_KINDS = (OUTBOX_NEW_MATCH,)
#: Why a delivery failed, as a fixed word (the notification service's list): the schema
#: refuses anything else, so an address, a server's reply or message content can never
#: land in `outbox.last_error_kind`. Migration 0003 keeps its own frozen copy.
OUTBOX_ERROR_KINDS = ERROR_KINDS
#: RFC 5321's limit on a forward path.
MAX_EMAIL_CHARS = 254


def _length(column: str, size: int) -> CheckConstraint:
    # length() counts bytes of a BLOB in SQLite and of a bytea in PostgreSQL.
    return CheckConstraint(f"length({column}) = {size}", name=f"{column}_length")


def _not_negative(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} >= 0", name=f"{column}_not_negative")


def _in(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_known")


class Base(DeclarativeBase):
    """The declarative base; its metadata is what the migrations must reproduce."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# -- organizations and accounts ----------------------------------------------------------


class Organization(Base):
    """An organization whose invite codes let survivors register."""

    __tablename__ = "organizations"
    __table_args__ = (_length("id", ID_BYTES), _not_negative("created_at_ms"))

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS), unique=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class InviteCode(Base):
    """An invite code, stored only as its SHA-256 hash."""

    __tablename__ = "invite_codes"
    __table_args__ = (
        _length("code_hash", HASH_BYTES),
        _not_negative("created_at_ms"),
        CheckConstraint("max_uses >= 1", name="max_uses_positive"),
        CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses_in_range"),
    )

    code_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), index=True)
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    # Added by revision 0004: set when an organization admin revokes the code.
    revoked_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class Account(Base):
    """A survivor's account: the key bundle and Argon2id hashes of the two auth keys."""

    __tablename__ = "accounts"
    __table_args__ = (
        _length("id", ID_BYTES),
        _not_negative("created_at_ms"),
        CheckConstraint("length(username) BETWEEN 1 AND 64", name="username_length"),
        CheckConstraint("length(key_bundle) BETWEEN 1 AND 4096", name="key_bundle_length"),
    )

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), index=True)
    # PHC strings from argon2-cffi; the auth keys themselves are never stored.
    auth_key_hash: Mapped[str] = mapped_column(String(MAX_PASSWORD_HASH_CHARS))
    recovery_auth_key_hash: Mapped[str] = mapped_column(String(MAX_PASSWORD_HASH_CHARS))
    key_bundle: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class AuthSession(Base):
    """A browser session cookie or SDK bearer token, stored only as its SHA-256 hash."""

    __tablename__ = "sessions"
    __table_args__ = (
        _length("token_hash", HASH_BYTES),
        _in("kind", SESSION_KINDS),
        _not_negative("created_at_ms"),
        CheckConstraint("expires_at_ms > created_at_ms", name="expires_after_creation"),
    )

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    account_id: Mapped[bytes] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class IdempotencyKey(Base):
    """The stored response to a write, replayed when the same key is sent again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        _length("request_hash", HASH_BYTES),
        _not_negative("created_at_ms"),
        CheckConstraint("length(idempotency_key) >= 1", name="idempotency_key_not_empty"),
        CheckConstraint(
            "response_status BETWEEN 100 AND 599", name="response_status_is_http_status"
        ),
    )

    account_id: Mapped[bytes] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(
        String(MAX_IDEMPOTENCY_KEY_CHARS), primary_key=True
    )
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


# -- records and the transparency log ----------------------------------------------------


class Record(Base):
    """A survivor's record; its content lives in encrypted versions."""

    __tablename__ = "records"
    __table_args__ = (_length("id", ID_BYTES), _not_negative("created_at_ms"))

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    account_id: Mapped[bytes] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class LogLeaf(Base):
    """One leaf of the append-only Merkle log (§10.2), at its 0-based index."""

    __tablename__ = "log_leaves"
    __table_args__ = (
        _length("leaf", LEAF_BYTES),
        _length("leaf_hash", HASH_BYTES),
        _not_negative("leaf_index"),
    )

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)


class RecordVersion(Base):
    """One encrypted version of a record, with the log leaf its receipt points at."""

    __tablename__ = "record_versions"
    __table_args__ = (
        CheckConstraint(f"version BETWEEN 1 AND {MAX_U32}", name="version_is_u32"),
        CheckConstraint("length(ciphertext) >= 1", name="ciphertext_not_empty"),
        _not_negative("created_at_ms"),
    )

    record_id: Mapped[bytes] = mapped_column(ForeignKey("records.id"), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_index: Mapped[int] = mapped_column(ForeignKey("log_leaves.leaf_index"), unique=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class TreeHead(Base):
    """A signed tree head of the log, kept so consistency can be shown between any two."""

    __tablename__ = "tree_heads"
    __table_args__ = (
        _length("root", HASH_BYTES),
        _length("signature", SIGNATURE_BYTES),
        _not_negative("tree_size"),
        _not_negative("timestamp_ms"),
        UniqueConstraint("tree_size", "timestamp_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


# -- counselors, entries, slots and matches ----------------------------------------------


class Counselor(Base):
    """A counselor whose X25519 public key the operator vouched for (Ed25519 signature)."""

    __tablename__ = "counselors"
    __table_args__ = (
        _length("public_key", PUBLIC_KEY_BYTES),
        _length("vouching_signature", SIGNATURE_BYTES),
        CheckConstraint("length(id) >= 1", name="id_not_empty"),
        _not_negative("created_at_ms"),
    )

    id: Mapped[str] = mapped_column(String(MAX_COUNSELOR_ID_CHARS), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    display_name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    vouching_signature: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    # Added by revision 0003: the counselor's work address for "you have a new match"
    # emails (never survivor data). NULL: no emails; never shown by GET /v1/counselors.
    notify_email: Mapped[str | None] = mapped_column(String(MAX_EMAIL_CHARS))


class CounselorToken(Base):
    """A counselor's bearer token for the inbox, stored only as its SHA-256 hash.

    Added by revision 0002. `expires_at_ms` NULL means the token lasts until revoked:
    the operator hands it over once, out of band.
    """

    __tablename__ = "counselor_tokens"
    __table_args__ = (_length("token_hash", HASH_BYTES), _not_negative("created_at_ms"))

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    counselor_id: Mapped[str] = mapped_column(ForeignKey("counselors.id"), index=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class Entry(Base):
    """An escrow entry: the survivor's encrypted copy; its identifiers are its slots."""

    __tablename__ = "entries"
    __table_args__ = (
        _length("id", ID_BYTES),
        _not_negative("created_at_ms"),
        CheckConstraint("length(entry_copy) >= 1", name="entry_copy_not_empty"),
        # The target of slots' composite key: a slot's account is its entry's account.
        UniqueConstraint("id", "account_id"),
    )

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    account_id: Mapped[bytes] = mapped_column(ForeignKey("accounts.id"), index=True)
    # The survivor's own copy (§10.1), sealed under a key derived from their data key.
    entry_copy: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    withdrawn_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class SlotRow(Base):
    """An escrow slot (§6): public to the server only once t accounts share its tag.

    `position` is the slot's place among its tag's slots (1, 2, …): the storage order
    that matching reads them in, assigned while the tag is locked. `state` is live,
    withdrawn (by its owner) or forged (named by matching); only live slots are matched.
    """

    __tablename__ = "slots"
    __table_args__ = (
        _length("id", ID_BYTES),
        _length("tag", TAG_BYTES),
        _length("x", SCALAR_BYTES),
        _length("share", SCALAR_BYTES),
        CheckConstraint("length(outer_box) >= 1", name="outer_box_not_empty"),
        CheckConstraint("position >= 1", name="position_positive"),
        _in("state", SLOT_STATES),
        _not_negative("created_at_ms"),
        CheckConstraint(
            f"(state = '{SLOT_WITHDRAWN}') = (withdrawn_at_ms IS NOT NULL)",
            name="withdrawn_state_has_time",
        ),
        ForeignKeyConstraint(["entry_id", "account_id"], ["entries.id", "entries.account_id"]),
        UniqueConstraint("tag", "position"),
        # The target of match members' composite key (slot, tag, counselor).
        UniqueConstraint("id", "tag", "counselor_id"),
        # §6: at most one live slot per (account, tag). A forged slot still counts, so
        # an account cannot add a second share beside it; a withdrawn one does not.
        Index(
            "uq_slots_account_id_tag_not_withdrawn",
            "account_id",
            "tag",
            unique=True,
            sqlite_where=text(f"state <> '{SLOT_WITHDRAWN}'"),
            postgresql_where=text(f"state <> '{SLOT_WITHDRAWN}'"),
        ),
    )

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    entry_id: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    account_id: Mapped[bytes] = mapped_column(ForeignKey("accounts.id"), index=True)
    tag: Mapped[bytes] = mapped_column(LargeBinary)
    position: Mapped[int] = mapped_column(Integer)
    x: Mapped[bytes] = mapped_column(LargeBinary)
    share: Mapped[bytes] = mapped_column(LargeBinary)
    # "outer" is a reserved word in SQL; the column is named for what it holds.
    outer_box: Mapped[bytes] = mapped_column(LargeBinary)
    counselor_id: Mapped[str] = mapped_column(ForeignKey("counselors.id"))
    state: Mapped[str] = mapped_column(String(16))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    withdrawn_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class Match(Base):
    """The match of one tag: created when t accounts' slots open, joined by later ones."""

    __tablename__ = "matches"
    __table_args__ = (
        _length("id", ID_BYTES),
        _length("tag", TAG_BYTES),
        _not_negative("created_at_ms"),
        # The target of match members' composite key: a member has its match's tag.
        UniqueConstraint("id", "tag"),
    )

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    # One match per tag: a later survivor joins it instead of starting another.
    tag: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class MatchMember(Base):
    """A slot opened as part of a match; its tag and counselor agree with the slot's."""

    __tablename__ = "match_members"
    __table_args__ = (
        _not_negative("created_at_ms"),
        ForeignKeyConstraint(["match_id", "tag"], ["matches.id", "matches.tag"]),
        ForeignKeyConstraint(
            ["slot_id", "tag", "counselor_id"], ["slots.id", "slots.tag", "slots.counselor_id"]
        ),
        # The target of inbox items' composite key.
        UniqueConstraint("match_id", "slot_id", "counselor_id"),
    )

    match_id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    # A slot belongs to at most one match.
    slot_id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True, unique=True)
    tag: Mapped[bytes] = mapped_column(LargeBinary)
    counselor_id: Mapped[str] = mapped_column(String(MAX_COUNSELOR_ID_CHARS))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class InboxItem(Base):
    """A matched slot's sealed inner package, waiting for its counselor."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        CheckConstraint("length(inner_box) >= 1", name="inner_box_not_empty"),
        _not_negative("created_at_ms"),
        ForeignKeyConstraint(
            ["match_id", "slot_id", "counselor_id"],
            ["match_members.match_id", "match_members.slot_id", "match_members.counselor_id"],
        ),
        Index("ix_inbox_items_counselor_id_created_at_ms", "counselor_id", "created_at_ms"),
    )

    # One inbox item per matched slot.
    slot_id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    match_id: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    counselor_id: Mapped[str] = mapped_column(ForeignKey("counselors.id"))
    inner_box: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


# -- notifications ------------------------------------------------------------------------


class OutboxRow(Base):
    """A notification owed to a counselor ("new-match"), kept until it is delivered.

    Added by revision 0003. Written in the transaction that puts the packages in the
    counselor's inbox; `notalone.storage.outbox` claims due rows and records each attempt.
    It holds no address, match, slot or package: only who is owed a notification, when
    to try next and, after a failure, a fixed word for why (`OUTBOX_ERROR_KINDS`).
    The id is an ordinal, like `tree_heads.id`: it is never shown outside the escrow.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        _in("kind", OUTBOX_KINDS),
        _in("last_error_kind", OUTBOX_ERROR_KINDS),
        _not_negative("created_at_ms"),
        _not_negative("attempts"),
        _not_negative("next_attempt_at_ms"),
        # What the claiming query scans: undelivered rows by due time.
        Index(
            "ix_outbox_due",
            "next_attempt_at_ms",
            sqlite_where=text("delivered_at_ms IS NULL"),
            postgresql_where=text("delivered_at_ms IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    counselor_id: Mapped[str] = mapped_column(ForeignKey("counselors.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    #: Delivery attempts made so far, the successful one included.
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at_ms: Mapped[int] = mapped_column(BigInteger)
    delivered_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_error_kind: Mapped[str | None] = mapped_column(String(32))


# -- counselor console and organizations (revision 0004) ----------------------------------

CASE_NEW = "new"
CASE_CONTACTED = "contacted"
CASE_CLOSED = "closed"
#: A counselor's case of a match moves only forward: new → contacted → closed.
CASE_STATES = (CASE_NEW, CASE_CONTACTED, CASE_CLOSED)
#: A sealed case note, report or mail secret is at most this many bytes.
MAX_SEALED_BYTES = 65536
MEMBER_MAIL_CODE = "member-code"
MEMBER_MAIL_KINDS = (MEMBER_MAIL_CODE,)
MAX_PERIOD_CHARS = 16


def _sealed(column: str) -> CheckConstraint:
    return CheckConstraint(
        f"length({column}) BETWEEN 1 AND {MAX_SEALED_BYTES}", name=f"{column}_length"
    )


class CounselorEnrollment(Base):
    """A one-time code the operator gave a counselor to enroll the key made in their browser.

    Redeeming it (with the public key) creates the `Counselor`, signed with the operator's
    vouching key, and their token; `used_at_ms` is then set and the code works no more.
    """

    __tablename__ = "counselor_enrollments"
    __table_args__ = (
        _length("code_hash", HASH_BYTES),
        _not_negative("created_at_ms"),
        CheckConstraint("expires_at_ms > created_at_ms", name="expires_after_creation"),
        CheckConstraint("length(counselor_id) >= 1", name="counselor_id_not_empty"),
    )

    code_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    counselor_id: Mapped[str] = mapped_column(String(MAX_COUNSELOR_ID_CHARS), unique=True)
    display_name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    notify_email: Mapped[str | None] = mapped_column(String(MAX_EMAIL_CHARS))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    used_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class Case(Base):
    """A counselor's case of one match they hold packages of; no row means "new"."""

    __tablename__ = "cases"
    __table_args__ = (_in("state", CASE_STATES), _not_negative("updated_at_ms"))

    counselor_id: Mapped[str] = mapped_column(ForeignKey("counselors.id"), primary_key=True)
    match_id: Mapped[bytes] = mapped_column(ForeignKey("matches.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class CaseNote(Base):
    """A case note, sealed by the counselor's browser to the counselor's own key (HPKE)."""

    __tablename__ = "case_notes"
    __table_args__ = (
        _length("id", ID_BYTES),
        _sealed("sealed"),
        _not_negative("created_at_ms"),
        ForeignKeyConstraint(
            ["counselor_id", "match_id"], ["cases.counselor_id", "cases.match_id"]
        ),
        Index("ix_case_notes_counselor_id_match_id", "counselor_id", "match_id"),
    )

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    counselor_id: Mapped[str] = mapped_column(String(MAX_COUNSELOR_ID_CHARS))
    match_id: Mapped[bytes] = mapped_column(LargeBinary)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class OrganizationKey(Base):
    """An organization's X25519 intake key for formal reports, made in an admin's browser."""

    __tablename__ = "organization_keys"
    __table_args__ = (_length("public_key", PUBLIC_KEY_BYTES), _not_negative("created_at_ms"))

    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class OrganizationAdmin(Base):
    """An organization's administrator (invites, counselor pool, totals, reports)."""

    __tablename__ = "organization_admins"
    __table_args__ = (_length("id", ID_BYTES), _not_negative("created_at_ms"))

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class OrganizationAdminToken(Base):
    """An organization admin's bearer token, stored only as its SHA-256 hash."""

    __tablename__ = "organization_admin_tokens"
    __table_args__ = (_length("token_hash", HASH_BYTES), _not_negative("created_at_ms"))

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    admin_id: Mapped[bytes] = mapped_column(ForeignKey("organization_admins.id"), index=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class OrganizationAdminEnrollment(Base):
    """A one-time code the operator gave an organization's admin to enroll with."""

    __tablename__ = "organization_admin_enrollments"
    __table_args__ = (
        _length("code_hash", HASH_BYTES),
        _not_negative("created_at_ms"),
        CheckConstraint("expires_at_ms > created_at_ms", name="expires_after_creation"),
    )

    code_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    used_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class OrganizationCounselor(Base):
    """A counselor in an organization's pool: its survivors may choose only from the pool
    (when the pool is empty, from every counselor)."""

    __tablename__ = "organization_counselors"
    __table_args__ = (_not_negative("added_at_ms"),)

    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    counselor_id: Mapped[str] = mapped_column(ForeignKey("counselors.id"), primary_key=True)
    added_at_ms: Mapped[int] = mapped_column(BigInteger)


class Report(Base):
    """A formal report a counselor sent, with their survivor, to an organization's intake:
    sealed (HPKE) to the organization's intake key, opened only in an admin's browser."""

    __tablename__ = "reports"
    __table_args__ = (
        _length("id", ID_BYTES),
        _sealed("sealed"),
        _not_negative("created_at_ms"),
        ForeignKeyConstraint(
            ["counselor_id", "match_id"], ["cases.counselor_id", "cases.match_id"]
        ),
    )

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), index=True)
    counselor_id: Mapped[str] = mapped_column(String(MAX_COUNSELOR_ID_CHARS))
    match_id: Mapped[bytes] = mapped_column(LargeBinary)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class MemberCode(Base):
    """A one-time code mailed to a member's work address; it buys membership tokens.

    `member_pseudonym` is a keyed hash of the address (the server secret keys it): it
    bounds tokens per member per period without keeping the address.
    """

    __tablename__ = "member_codes"
    __table_args__ = (
        _length("code_hash", HASH_BYTES),
        _length("member_pseudonym", HASH_BYTES),
        _not_negative("created_at_ms"),
        CheckConstraint("expires_at_ms > created_at_ms", name="expires_after_creation"),
    )

    code_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), index=True)
    member_pseudonym: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    used_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class MemberIssuance(Base):
    """How many membership tokens a member (by pseudonym) obtained in a period."""

    __tablename__ = "member_issuance"
    __table_args__ = (
        _length("member_pseudonym", HASH_BYTES),
        _not_negative("tokens_issued"),
        CheckConstraint("length(period) >= 1", name="period_not_empty"),
    )

    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    member_pseudonym: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    period: Mapped[str] = mapped_column(String(MAX_PERIOD_CHARS), primary_key=True)
    tokens_issued: Mapped[int] = mapped_column(Integer)


class SpentToken(Base):
    """A redeemed membership token's input: the primary key makes each token work once."""

    __tablename__ = "spent_tokens"
    __table_args__ = (_length("token_input", HASH_BYTES), _not_negative("spent_at_ms"))

    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    token_input: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    spent_at_ms: Mapped[int] = mapped_column(BigInteger)


class MemberMail(Base):
    """A member code owed to a work address. The address and the code are erased (set to
    NULL) once delivered; like `outbox`, failures keep only a fixed word."""

    __tablename__ = "member_mail"
    __table_args__ = (
        _in("kind", MEMBER_MAIL_KINDS),
        _in("last_error_kind", OUTBOX_ERROR_KINDS),
        _not_negative("created_at_ms"),
        _not_negative("attempts"),
        _not_negative("next_attempt_at_ms"),
        CheckConstraint(
            "(delivered_at_ms IS NULL) = (recipient IS NOT NULL AND secret IS NOT NULL)",
            name="erased_once_delivered",
        ),
        Index(
            "ix_member_mail_due",
            "next_attempt_at_ms",
            sqlite_where=text("delivered_at_ms IS NULL"),
            postgresql_where=text("delivered_at_ms IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[bytes] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(MAX_EMAIL_CHARS))
    secret: Mapped[str | None] = mapped_column(String(64))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at_ms: Mapped[int] = mapped_column(BigInteger)
    delivered_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
