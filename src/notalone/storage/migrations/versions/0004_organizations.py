"""The counselor console and organizations: cases, notes, admins, pools, reports, tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Upgrading creates the tables of issue 5 (docs/organizations.md, docs/counselor-guide.md):
counselor enrollment codes; counselors' cases of matches and their sealed notes;
organization admins, their enrollment codes and tokens; each organization's intake key
and counselor pool; formal reports; and the membership-token tables (member codes,
issuance counts per period, spent tokens, and the mail that carries member codes). It
also adds `invite_codes.revoked_at_ms`. Every new table starts empty.

Downgrading drops them all, with what they hold (cases, notes, reports, tokens); on
SQLite, `secure_delete` overwrites the freed space. Like 0001, a frozen copy of the
models as they were written; it never imports them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The outbox's error words as 0003 froze them.
_ERROR_KINDS = (
    "'refused', 'timeout', 'network', 'tls', 'auth', 'recipient-refused', "
    "'smtp-temporary', 'smtp-permanent', 'no-address', 'other'"
)


def upgrade() -> None:
    """Create the issue 5 tables and add invite_codes.revoked_at_ms."""
    op.create_table(
        "counselor_enrollments",
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("notify_email", sa.String(length=254), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_at_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_counselor_enrollments_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "expires_at_ms > created_at_ms",
            name=op.f("ck_counselor_enrollments_expires_after_creation"),
        ),
        sa.CheckConstraint(
            "length(code_hash) = 32", name=op.f("ck_counselor_enrollments_code_hash_length")
        ),
        sa.CheckConstraint(
            "length(counselor_id) >= 1",
            name=op.f("ck_counselor_enrollments_counselor_id_not_empty"),
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_counselor_enrollments")),
        sa.UniqueConstraint("counselor_id", name=op.f("uq_counselor_enrollments_counselor_id")),
    )
    op.create_table(
        "cases",
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("match_id", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "state IN ('new', 'contacted', 'closed')", name=op.f("ck_cases_state_known")
        ),
        sa.CheckConstraint("updated_at_ms >= 0", name=op.f("ck_cases_updated_at_ms_not_negative")),
        sa.ForeignKeyConstraint(
            ["counselor_id"], ["counselors.id"], name=op.f("fk_cases_counselor_id_counselors")
        ),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_cases_match_id_matches")
        ),
        sa.PrimaryKeyConstraint("counselor_id", "match_id", name=op.f("pk_cases")),
    )
    op.create_table(
        "member_codes",
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("member_pseudonym", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_at_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_member_codes_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "expires_at_ms > created_at_ms", name=op.f("ck_member_codes_expires_after_creation")
        ),
        sa.CheckConstraint("length(code_hash) = 32", name=op.f("ck_member_codes_code_hash_length")),
        sa.CheckConstraint(
            "length(member_pseudonym) = 32", name=op.f("ck_member_codes_member_pseudonym_length")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_member_codes_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_member_codes")),
    )
    op.create_index(
        op.f("ix_member_codes_member_pseudonym"), "member_codes", ["member_pseudonym"], unique=False
    )
    op.create_index(
        op.f("ix_member_codes_organization_id"), "member_codes", ["organization_id"], unique=False
    )
    op.create_table(
        "member_issuance",
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("member_pseudonym", sa.LargeBinary(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("tokens_issued", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "length(member_pseudonym) = 32", name=op.f("ck_member_issuance_member_pseudonym_length")
        ),
        sa.CheckConstraint("length(period) >= 1", name=op.f("ck_member_issuance_period_not_empty")),
        sa.CheckConstraint(
            "tokens_issued >= 0", name=op.f("ck_member_issuance_tokens_issued_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_member_issuance_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "member_pseudonym", "period", name=op.f("pk_member_issuance")
        ),
    )
    op.create_table(
        "member_mail",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("secret", sa.String(length=64), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error_kind", sa.String(length=32), nullable=True),
        sa.CheckConstraint("kind IN ('member-code')", name=op.f("ck_member_mail_kind_known")),
        sa.CheckConstraint(
            f"last_error_kind IN ({_ERROR_KINDS})",
            name=op.f("ck_member_mail_last_error_kind_known"),
        ),
        sa.CheckConstraint(
            "(delivered_at_ms IS NULL) = (recipient IS NOT NULL AND secret IS NOT NULL)",
            name=op.f("ck_member_mail_erased_once_delivered"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_member_mail_attempts_not_negative")),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_member_mail_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "next_attempt_at_ms >= 0", name=op.f("ck_member_mail_next_attempt_at_ms_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_member_mail_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_mail")),
    )
    op.create_index(
        "ix_member_mail_due",
        "member_mail",
        ["next_attempt_at_ms"],
        unique=False,
        sqlite_where=sa.text("delivered_at_ms IS NULL"),
        postgresql_where=sa.text("delivered_at_ms IS NULL"),
    )
    op.create_index(
        op.f("ix_member_mail_organization_id"), "member_mail", ["organization_id"], unique=False
    )
    op.create_table(
        "organization_admin_enrollments",
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_at_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "created_at_ms >= 0",
            name=op.f("ck_organization_admin_enrollments_created_at_ms_not_negative"),
        ),
        sa.CheckConstraint(
            "expires_at_ms > created_at_ms",
            name=op.f("ck_organization_admin_enrollments_expires_after_creation"),
        ),
        sa.CheckConstraint(
            "length(code_hash) = 32",
            name=op.f("ck_organization_admin_enrollments_code_hash_length"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_admin_enrollments_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_organization_admin_enrollments")),
    )
    op.create_index(
        op.f("ix_organization_admin_enrollments_organization_id"),
        "organization_admin_enrollments",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "organization_admins",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_organization_admins_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_organization_admins_id_length")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_admins_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_admins")),
    )
    op.create_index(
        op.f("ix_organization_admins_organization_id"),
        "organization_admins",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "organization_counselors",
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("added_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "added_at_ms >= 0", name=op.f("ck_organization_counselors_added_at_ms_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_organization_counselors_counselor_id_counselors"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_counselors_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "counselor_id", name=op.f("pk_organization_counselors")
        ),
    )
    op.create_table(
        "organization_keys",
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_organization_keys_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "length(public_key) = 32", name=op.f("ck_organization_keys_public_key_length")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_keys_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_organization_keys")),
    )
    op.create_table(
        "spent_tokens",
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("token_input", sa.LargeBinary(), nullable=False),
        sa.Column("spent_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "length(token_input) = 32", name=op.f("ck_spent_tokens_token_input_length")
        ),
        sa.CheckConstraint(
            "spent_at_ms >= 0", name=op.f("ck_spent_tokens_spent_at_ms_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_spent_tokens_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", "token_input", name=op.f("pk_spent_tokens")),
    )
    op.create_table(
        "case_notes",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("match_id", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_case_notes_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_case_notes_id_length")),
        sa.CheckConstraint(
            "length(sealed) BETWEEN 1 AND 65536", name=op.f("ck_case_notes_sealed_length")
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id", "match_id"],
            ["cases.counselor_id", "cases.match_id"],
            name=op.f("fk_case_notes_counselor_id_match_id_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    op.create_index(
        "ix_case_notes_counselor_id_match_id",
        "case_notes",
        ["counselor_id", "match_id"],
        unique=False,
    )
    op.create_table(
        "organization_admin_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("admin_id", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "created_at_ms >= 0",
            name=op.f("ck_organization_admin_tokens_created_at_ms_not_negative"),
        ),
        sa.CheckConstraint(
            "length(token_hash) = 32", name=op.f("ck_organization_admin_tokens_token_hash_length")
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["organization_admins.id"],
            name=op.f("fk_organization_admin_tokens_admin_id_organization_admins"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_organization_admin_tokens")),
    )
    op.create_index(
        op.f("ix_organization_admin_tokens_admin_id"),
        "organization_admin_tokens",
        ["admin_id"],
        unique=False,
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("match_id", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_reports_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_reports_id_length")),
        sa.CheckConstraint(
            "length(sealed) BETWEEN 1 AND 65536", name=op.f("ck_reports_sealed_length")
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id", "match_id"],
            ["cases.counselor_id", "cases.match_id"],
            name=op.f("fk_reports_counselor_id_match_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_reports_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index(
        op.f("ix_reports_organization_id"), "reports", ["organization_id"], unique=False
    )
    op.add_column("invite_codes", sa.Column("revoked_at_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop the issue 5 tables (with their rows) and invite_codes.revoked_at_ms."""
    op.drop_index(op.f("ix_reports_organization_id"), table_name="reports")
    op.drop_table("reports")
    op.drop_index(
        op.f("ix_organization_admin_tokens_admin_id"), table_name="organization_admin_tokens"
    )
    op.drop_table("organization_admin_tokens")
    op.drop_index("ix_case_notes_counselor_id_match_id", table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_table("spent_tokens")
    op.drop_table("organization_keys")
    op.drop_table("organization_counselors")
    op.drop_index(op.f("ix_organization_admins_organization_id"), table_name="organization_admins")
    op.drop_table("organization_admins")
    op.drop_index(
        op.f("ix_organization_admin_enrollments_organization_id"),
        table_name="organization_admin_enrollments",
    )
    op.drop_table("organization_admin_enrollments")
    op.drop_index(op.f("ix_member_mail_organization_id"), table_name="member_mail")
    op.drop_index(
        "ix_member_mail_due",
        table_name="member_mail",
        sqlite_where=sa.text("delivered_at_ms IS NULL"),
        postgresql_where=sa.text("delivered_at_ms IS NULL"),
    )
    op.drop_table("member_mail")
    op.drop_table("member_issuance")
    op.drop_index(op.f("ix_member_codes_organization_id"), table_name="member_codes")
    op.drop_index(op.f("ix_member_codes_member_pseudonym"), table_name="member_codes")
    op.drop_table("member_codes")
    op.drop_table("cases")
    op.drop_table("counselor_enrollments")
    # Not batch mode, as in 0003: SQLite (≥ 3.35) and PostgreSQL drop a column in place.
    op.drop_column("invite_codes", "revoked_at_ms")
