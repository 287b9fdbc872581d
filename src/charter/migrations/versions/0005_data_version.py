"""data version

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("authz_state", sa.Column("data_version", sa.BigInteger(), nullable=False,
                                           server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("authz_state") as batch:
        batch.drop_column("data_version")
