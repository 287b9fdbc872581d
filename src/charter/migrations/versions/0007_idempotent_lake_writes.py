"""idempotency keys; the Iceberg catalog's tables in the metadata database

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys",
                    ["created_at"], unique=False)
    # pyiceberg's SQL catalog (schema v1). A lake write commits its catalog row in the
    # operation's own transaction, so on SQLite too the catalog lives in this database;
    # on PostgreSQL pyiceberg may have made these tables already.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "iceberg_tables" not in existing:
        op.create_table(
            "iceberg_tables",
            sa.Column("catalog_name", sa.String(length=255), nullable=False),
            sa.Column("table_namespace", sa.String(length=255), nullable=False),
            sa.Column("table_name", sa.String(length=255), nullable=False),
            sa.Column("metadata_location", sa.String(length=1000), nullable=True),
            sa.Column("previous_metadata_location", sa.String(length=1000), nullable=True),
            sa.Column("iceberg_type", sa.String(length=5), nullable=True),
            sa.PrimaryKeyConstraint("catalog_name", "table_namespace", "table_name"),
        )
    if "iceberg_namespace_properties" not in existing:
        op.create_table(
            "iceberg_namespace_properties",
            sa.Column("catalog_name", sa.String(length=255), nullable=False),
            sa.Column("namespace", sa.String(length=255), nullable=False),
            sa.Column("property_key", sa.String(length=255), nullable=False),
            sa.Column("property_value", sa.String(length=1000), nullable=False),
            sa.PrimaryKeyConstraint("catalog_name", "namespace", "property_key"),
        )


def downgrade() -> None:
    # The catalog's tables stay: they hold the lake's tables.
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
