"""Counselor tokens: the bearer tokens counselors read their inboxes with, as hashes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Downgrading drops the table and every token in it: counselors then need new tokens from
the operator. Like 0001, a frozen copy of the model as it was written; it never imports
the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create counselor_tokens."""
    op.create_table(
        "counselor_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_counselor_tokens_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "length(token_hash) = 32", name=op.f("ck_counselor_tokens_token_hash_length")
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_counselor_tokens_counselor_id_counselors"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_counselor_tokens")),
    )
    op.create_index(
        op.f("ix_counselor_tokens_counselor_id"), "counselor_tokens", ["counselor_id"], unique=False
    )


def downgrade() -> None:
    """Drop counselor_tokens, its index and every token."""
    op.drop_index(op.f("ix_counselor_tokens_counselor_id"), table_name="counselor_tokens")
    op.drop_table("counselor_tokens")
