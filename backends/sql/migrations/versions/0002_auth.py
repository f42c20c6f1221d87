"""Authentication and authorization: users, groups, tokens, grants, owners and settings.

Revision ID: 0002_auth
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_auth"
down_revision = "0001"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", _text(256), nullable=False),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "groups",
        sa.Column("name", _text(256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "members",
        sa.Column("group_name", _text(256), nullable=False),
        sa.Column("user_name", _text(256), nullable=False),
        sa.ForeignKeyConstraint(["group_name"], ["groups.name"]),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"]),
        sa.PrimaryKeyConstraint("group_name", "user_name"),
    )
    op.create_index("ix_members_user", "members", ["user_name"])
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("owner", _text(256), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("note", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["owner"], ["users.name"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
    )
    op.create_table(
        "grants",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", _text(256), nullable=False),
        sa.Column("principal_kind", sa.String(length=8), nullable=False),
        sa.Column("principal", _text(256), nullable=False),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "principal_kind", "principal"),
    )
    op.create_index("ix_grants_principal", "grants", ["principal_kind", "principal", "kind"])
    op.create_table(
        "owners",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", _text(256), nullable=False),
        sa.Column("owner", _text(256), nullable=True),
        sa.Column("everyone", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key"),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("owners")
    op.drop_index("ix_grants_principal", table_name="grants")
    op.drop_table("grants")
    op.drop_table("tokens")
    op.drop_index("ix_members_user", table_name="members")
    op.drop_table("members")
    op.drop_table("groups")
    op.drop_table("users")
