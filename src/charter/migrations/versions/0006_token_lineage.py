"""token lineage

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tokens made before this revision have no recorded parent: they keep their expiry.
    with op.batch_alter_table("identity_tokens") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(length=40), nullable=True))
        batch.create_index(batch.f("ix_identity_tokens_parent_id"), ["parent_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_identity_tokens_parent_id_identity_tokens"),
                                 "identity_tokens", ["parent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("identity_tokens") as batch:
        batch.drop_constraint(batch.f("fk_identity_tokens_parent_id_identity_tokens"),
                              type_="foreignkey")
        batch.drop_index(batch.f("ix_identity_tokens_parent_id"))
        batch.drop_column("parent_id")
