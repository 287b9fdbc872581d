"""experiments: the latest metrics indexed by (key, is_nan, value, run_id), for searches
ordered by a metric

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 02:00:00.000000

A search ordered by a metric walks this index in value order (NaN apart) and finds each
run from it without reading the table; a filter on a metric is a range of it. It replaces
the (key, value) index, whose every use it serves.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_exp_latest_metrics_key_nan_value", "exp_latest_metrics",
                    ["key", "is_nan", "value", "run_id"])
    op.drop_index("ix_exp_latest_metrics_key_value", table_name="exp_latest_metrics")


def downgrade() -> None:
    op.create_index("ix_exp_latest_metrics_key_value", "exp_latest_metrics", ["key", "value"])
    op.drop_index("ix_exp_latest_metrics_key_nan_value", table_name="exp_latest_metrics")
