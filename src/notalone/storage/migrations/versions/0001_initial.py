"""The initial schema: every table of the escrow (see notalone.storage.models).

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Downgrading to base drops every table and everything in them: there is nothing below
this revision to keep the data in. On SQLite, `secure_delete` overwrites the freed pages.
This revision is a frozen copy of the models as they were when it was written: it never
imports them, so a later change to the models cannot rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Tables in the order they are created (parents first); downgrade drops them in reverse.
TABLES = (
    "counselors",
    "log_leaves",
    "matches",
    "organizations",
    "tree_heads",
    "accounts",
    "invite_codes",
    "entries",
    "idempotency_keys",
    "records",
    "sessions",
    "record_versions",
    "slots",
    "match_members",
    "inbox_items",
)


def upgrade() -> None:
    """Create every table, constraint and index."""
    op.create_table(
        "counselors",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("vouching_signature", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_counselors_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(id) >= 1", name=op.f("ck_counselors_id_not_empty")),
        sa.CheckConstraint("length(public_key) = 32", name=op.f("ck_counselors_public_key_length")),
        sa.CheckConstraint(
            "length(vouching_signature) = 64", name=op.f("ck_counselors_vouching_signature_length")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counselors")),
        sa.UniqueConstraint("public_key", name=op.f("uq_counselors_public_key")),
    )
    op.create_table(
        "log_leaves",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("leaf_index >= 0", name=op.f("ck_log_leaves_leaf_index_not_negative")),
        sa.CheckConstraint("length(leaf) = 59", name=op.f("ck_log_leaves_leaf_length")),
        sa.CheckConstraint("length(leaf_hash) = 32", name=op.f("ck_log_leaves_leaf_hash_length")),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_log_leaves")),
    )
    op.create_table(
        "matches",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("tag", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_matches_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_matches_id_length")),
        sa.CheckConstraint("length(tag) = 32", name=op.f("ck_matches_tag_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint("id", "tag", name=op.f("uq_matches_id_tag")),
        sa.UniqueConstraint("tag", name=op.f("uq_matches_tag")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_organizations_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_organizations_id_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("name", name=op.f("uq_organizations_name")),
    )
    op.create_table(
        "tree_heads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("length(root) = 32", name=op.f("ck_tree_heads_root_length")),
        sa.CheckConstraint("length(signature) = 64", name=op.f("ck_tree_heads_signature_length")),
        sa.CheckConstraint(
            "timestamp_ms >= 0", name=op.f("ck_tree_heads_timestamp_ms_not_negative")
        ),
        sa.CheckConstraint("tree_size >= 0", name=op.f("ck_tree_heads_tree_size_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tree_heads")),
        sa.UniqueConstraint(
            "tree_size", "timestamp_ms", name=op.f("uq_tree_heads_tree_size_timestamp_ms")
        ),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("auth_key_hash", sa.String(length=255), nullable=False),
        sa.Column("recovery_auth_key_hash", sa.String(length=255), nullable=False),
        sa.Column("key_bundle", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_accounts_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_accounts_id_length")),
        sa.CheckConstraint(
            "length(key_bundle) BETWEEN 1 AND 4096", name=op.f("ck_accounts_key_bundle_length")
        ),
        sa.CheckConstraint(
            "length(username) BETWEEN 1 AND 64", name=op.f("ck_accounts_username_length")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_accounts_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_accounts_username")),
    )
    op.create_index(
        op.f("ix_accounts_organization_id"), "accounts", ["organization_id"], unique=False
    )
    op.create_table(
        "invite_codes",
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("organization_id", sa.LargeBinary(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_invite_codes_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(code_hash) = 32", name=op.f("ck_invite_codes_code_hash_length")),
        sa.CheckConstraint("max_uses >= 1", name=op.f("ck_invite_codes_max_uses_positive")),
        sa.CheckConstraint(
            "uses >= 0 AND uses <= max_uses", name=op.f("ck_invite_codes_uses_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_invite_codes_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_invite_codes")),
    )
    op.create_index(
        op.f("ix_invite_codes_organization_id"), "invite_codes", ["organization_id"], unique=False
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.LargeBinary(), nullable=False),
        sa.Column("entry_copy", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_entries_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(entry_copy) >= 1", name=op.f("ck_entries_entry_copy_not_empty")),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_entries_id_length")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_entries_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
        sa.UniqueConstraint("id", "account_id", name=op.f("uq_entries_id_account_id")),
    )
    op.create_index(op.f("ix_entries_account_id"), "entries", ["account_id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.LargeBinary(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_idempotency_keys_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "length(idempotency_key) >= 1",
            name=op.f("ck_idempotency_keys_idempotency_key_not_empty"),
        ),
        sa.CheckConstraint(
            "length(request_hash) = 32", name=op.f("ck_idempotency_keys_request_hash_length")
        ),
        sa.CheckConstraint(
            "response_status BETWEEN 100 AND 599",
            name=op.f("ck_idempotency_keys_response_status_is_http_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_idempotency_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "idempotency_key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at_ms"),
        "idempotency_keys",
        ["created_at_ms"],
        unique=False,
    )
    op.create_table(
        "records",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_records_created_at_ms_not_negative")
        ),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_records_id_length")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_records_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
    )
    op.create_index(op.f("ix_records_account_id"), "records", ["account_id"], unique=False)
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("kind IN ('cookie', 'bearer')", name=op.f("ck_sessions_kind_known")),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_sessions_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "expires_at_ms > created_at_ms", name=op.f("ck_sessions_expires_after_creation")
        ),
        sa.CheckConstraint("length(token_hash) = 32", name=op.f("ck_sessions_token_hash_length")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_account_id"), "sessions", ["account_id"], unique=False)
    op.create_index(op.f("ix_sessions_expires_at_ms"), "sessions", ["expires_at_ms"], unique=False)
    op.create_table(
        "record_versions",
        sa.Column("record_id", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_record_versions_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "length(ciphertext) >= 1", name=op.f("ck_record_versions_ciphertext_not_empty")
        ),
        sa.CheckConstraint(
            "version BETWEEN 1 AND 4294967295", name=op.f("ck_record_versions_version_is_u32")
        ),
        sa.ForeignKeyConstraint(
            ["leaf_index"],
            ["log_leaves.leaf_index"],
            name=op.f("fk_record_versions_leaf_index_log_leaves"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_record_versions_record_id_records")
        ),
        sa.PrimaryKeyConstraint("record_id", "version", name=op.f("pk_record_versions")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_record_versions_leaf_index")),
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.LargeBinary(), nullable=False),
        sa.Column("entry_id", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.LargeBinary(), nullable=False),
        sa.Column("tag", sa.LargeBinary(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("x", sa.LargeBinary(), nullable=False),
        sa.Column("share", sa.LargeBinary(), nullable=False),
        sa.Column("outer_box", sa.LargeBinary(), nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(state = 'withdrawn') = (withdrawn_at_ms IS NOT NULL)",
            name=op.f("ck_slots_withdrawn_state_has_time"),
        ),
        sa.CheckConstraint(
            "state IN ('live', 'withdrawn', 'forged')", name=op.f("ck_slots_state_known")
        ),
        sa.CheckConstraint("created_at_ms >= 0", name=op.f("ck_slots_created_at_ms_not_negative")),
        sa.CheckConstraint("length(id) = 16", name=op.f("ck_slots_id_length")),
        sa.CheckConstraint("length(outer_box) >= 1", name=op.f("ck_slots_outer_box_not_empty")),
        sa.CheckConstraint("length(share) = 32", name=op.f("ck_slots_share_length")),
        sa.CheckConstraint("length(tag) = 32", name=op.f("ck_slots_tag_length")),
        sa.CheckConstraint("length(x) = 32", name=op.f("ck_slots_x_length")),
        sa.CheckConstraint("position >= 1", name=op.f("ck_slots_position_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_slots_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id"], ["counselors.id"], name=op.f("fk_slots_counselor_id_counselors")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id", "account_id"],
            ["entries.id", "entries.account_id"],
            name=op.f("fk_slots_entry_id_account_id_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("id", "tag", "counselor_id", name=op.f("uq_slots_id_tag_counselor_id")),
        sa.UniqueConstraint("tag", "position", name=op.f("uq_slots_tag_position")),
    )
    op.create_index(op.f("ix_slots_account_id"), "slots", ["account_id"], unique=False)
    op.create_index(op.f("ix_slots_entry_id"), "slots", ["entry_id"], unique=False)
    op.create_index(
        "uq_slots_account_id_tag_not_withdrawn",
        "slots",
        ["account_id", "tag"],
        unique=True,
        sqlite_where=sa.text("state <> 'withdrawn'"),
        postgresql_where=sa.text("state <> 'withdrawn'"),
    )
    op.create_table(
        "match_members",
        sa.Column("match_id", sa.LargeBinary(), nullable=False),
        sa.Column("slot_id", sa.LargeBinary(), nullable=False),
        sa.Column("tag", sa.LargeBinary(), nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_match_members_created_at_ms_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["match_id", "tag"],
            ["matches.id", "matches.tag"],
            name=op.f("fk_match_members_match_id_tag_matches"),
        ),
        sa.ForeignKeyConstraint(
            ["slot_id", "tag", "counselor_id"],
            ["slots.id", "slots.tag", "slots.counselor_id"],
            name=op.f("fk_match_members_slot_id_tag_counselor_id_slots"),
        ),
        sa.PrimaryKeyConstraint("match_id", "slot_id", name=op.f("pk_match_members")),
        sa.UniqueConstraint(
            "match_id",
            "slot_id",
            "counselor_id",
            name=op.f("uq_match_members_match_id_slot_id_counselor_id"),
        ),
        sa.UniqueConstraint("slot_id", name=op.f("uq_match_members_slot_id")),
    )
    op.create_table(
        "inbox_items",
        sa.Column("slot_id", sa.LargeBinary(), nullable=False),
        sa.Column("match_id", sa.LargeBinary(), nullable=False),
        sa.Column("counselor_id", sa.String(length=64), nullable=False),
        sa.Column("inner_box", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "created_at_ms >= 0", name=op.f("ck_inbox_items_created_at_ms_not_negative")
        ),
        sa.CheckConstraint(
            "length(inner_box) >= 1", name=op.f("ck_inbox_items_inner_box_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id"], ["counselors.id"], name=op.f("fk_inbox_items_counselor_id_counselors")
        ),
        sa.ForeignKeyConstraint(
            ["match_id", "slot_id", "counselor_id"],
            ["match_members.match_id", "match_members.slot_id", "match_members.counselor_id"],
            name=op.f("fk_inbox_items_match_id_slot_id_counselor_id_match_members"),
        ),
        sa.PrimaryKeyConstraint("slot_id", name=op.f("pk_inbox_items")),
    )
    op.create_index(
        "ix_inbox_items_counselor_id_created_at_ms",
        "inbox_items",
        ["counselor_id", "created_at_ms"],
        unique=False,
    )
    op.create_index(op.f("ix_inbox_items_match_id"), "inbox_items", ["match_id"], unique=False)


def downgrade() -> None:
    """Drop every table (children first), and with them their indexes and data."""
    for table in reversed(TABLES):
        op.drop_table(table)
