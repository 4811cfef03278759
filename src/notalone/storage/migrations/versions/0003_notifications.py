"""Notifications: counselors' optional notify_email and the outbox of "new match" emails.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Upgrading adds the nullable column `counselors.notify_email` (every existing counselor
starts without one: no emails until the operator sets it) and the `outbox` table.
Downgrading drops the outbox, with every notification not yet delivered (the packages
themselves stay in the inboxes), and the column with the addresses in it; on SQLite,
`secure_delete` overwrites the freed space. Like 0001, a frozen copy of the models as
they were written; it never imports them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ERROR_KINDS = (
    "'refused', 'timeout', 'network', 'tls', 'auth', 'recipient-refused', "
    "'smtp-temporary', 'smtp-permanent', 'no-address', 'other'"
)


def upgrade() -> None:
    """Add counselors.notify_email and create outbox."""
    # Adding a nullable column needs no table rebuild, on SQLite either.
    op.add_column("counselors", sa.Column("notify_email", sa.String(length=254), nullable=True))
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error_kind", sa.String(length=32), nullable=True),
        sa.CheckConstraint("kind IN ('new-match')", name=op.f("ck_outbox_kind_known")),
        sa.CheckConstraint(
            f"last_error_kind IN ({_ERROR_KINDS})", name=op.f("ck_outbox_last_error_kind_known")
        ),
        sa.CheckConstraint("created_at_ms >= 0", name=op.f("ck_outbox_created_at_ms_not_negative")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_not_negative")),
        sa.CheckConstraint(
            "next_attempt_at_ms >= 0", name=op.f("ck_outbox_next_attempt_at_ms_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id"], ["counselors.id"], name=op.f("fk_outbox_counselor_id_counselors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_counselor_id"), "outbox", ["counselor_id"], unique=False)
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["next_attempt_at_ms"],
        unique=False,
        sqlite_where=sa.text("delivered_at_ms IS NULL"),
        postgresql_where=sa.text("delivered_at_ms IS NULL"),
    )


def downgrade() -> None:
    """Drop outbox (undelivered notifications included) and counselors.notify_email."""
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_index(op.f("ix_outbox_counselor_id"), table_name="outbox")
    op.drop_table("outbox")
    # Not batch mode: rebuilding `counselors` on SQLite would mean dropping a table that
    # slots, tokens and inbox items reference, with foreign keys on. SQLite (≥ 3.35) and
    # PostgreSQL both drop a plain column in place.
    op.drop_column("counselors", "notify_email")
