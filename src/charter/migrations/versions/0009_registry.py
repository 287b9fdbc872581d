"""the model registry: model groups, versions with approval, aliases

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "registry_groups",
        sa.Column("account", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.String(length=5000), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "name", name=op.f("pk_registry_groups")),
    )
    op.create_table(
        "registry_versions",
        sa.Column("account", sa.String(length=63), nullable=False),
        sa.Column("group", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approval_status", sa.String(length=30), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_reason", sa.String(length=1000), nullable=True),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("model_id", sa.String(length=64), nullable=True),
        sa.Column("description", sa.String(length=5000), nullable=True),
        sa.Column("flavor", sa.String(length=20), nullable=False),
        sa.Column("files", JSON, nullable=False),
        sa.Column("signature", JSON, nullable=True),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("lake_inputs", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account", "group"],
                                ["registry_groups.account", "registry_groups.name"],
                                name=op.f("fk_registry_versions_account_registry_groups")),
        sa.PrimaryKeyConstraint("account", "group", "version", name=op.f("pk_registry_versions")),
    )
    op.create_table(
        "registry_aliases",
        sa.Column("account", sa.String(length=63), nullable=False),
        sa.Column("group", sa.String(length=63), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account", "group"],
                                ["registry_groups.account", "registry_groups.name"],
                                name=op.f("fk_registry_aliases_account_registry_groups")),
        sa.PrimaryKeyConstraint("account", "group", "alias", name=op.f("pk_registry_aliases")),
    )
    op.create_index("ix_registry_aliases_version", "registry_aliases",
                    ["account", "group", "version"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_registry_aliases_version", table_name="registry_aliases")
    op.drop_table("registry_aliases")
    op.drop_table("registry_versions")
    op.drop_table("registry_groups")
