"""experiments: experiments, runs, params, metric series, latest metrics, tags, lake
inputs, artifacts, logged models

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 22:20:53.203766
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)
TAG_INDEXED = 200  # experiments.orm.TAG_INDEXED


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_id"], ["exp_runs.id"],
                                   name=op.f(f"fk_{table}_run_id_exp_runs"))


def upgrade() -> None:
    op.create_table(
        "exp_experiments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exp_experiments")),
        sa.UniqueConstraint("account", "name", name=op.f("uq_exp_experiments_account")),
    )
    op.create_table(
        "exp_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=63), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("user", sa.String(length=250), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["exp_experiments.id"],
                                name=op.f("fk_exp_runs_experiment_id_exp_experiments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exp_runs")),
    )
    op.create_index("ix_exp_runs_account_experiment_start", "exp_runs",
                    ["account", "experiment_id", "start_time"])
    op.create_table(
        "exp_params",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _run_fk("exp_params"),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_exp_params")),
    )
    op.create_table(
        "exp_metrics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("is_nan", sa.Boolean(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        _run_fk("exp_metrics"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exp_metrics")),
    )
    op.create_index("ix_exp_metrics_run_key_step", "exp_metrics",
                    ["run_id", "key", "step", "timestamp", "value", "is_nan"], unique=True)
    op.create_table(
        "exp_latest_metrics",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("is_nan", sa.Boolean(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        _run_fk("exp_latest_metrics"),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_exp_latest_metrics")),
    )
    op.create_index("ix_exp_latest_metrics_key_value", "exp_latest_metrics", ["key", "value"])
    op.create_table(
        "exp_run_tags",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _run_fk("exp_run_tags"),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_exp_run_tags")),
    )
    # A tag's value may be past what a PostgreSQL index entry holds: index its prefix.
    op.create_index("ix_exp_run_tags_key_value", "exp_run_tags",
                    ["key", sa.text(f"substr(value, 1, {TAG_INDEXED})")])
    op.create_table(
        "exp_run_inputs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("source_account", sa.String(length=63), nullable=False),
        sa.Column("table", sa.String(length=127), nullable=False),
        sa.Column("snapshot_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        _run_fk("exp_run_inputs"),
        sa.PrimaryKeyConstraint("run_id", "source_account", "table", "snapshot_id",
                                name=op.f("pk_exp_run_inputs")),
    )
    op.create_table(
        "exp_artifacts",
        sa.Column("account", sa.String(length=63), nullable=False),
        # Byte order on every backend, so a path prefix is a range of the index.
        sa.Column("path", sa.String(length=1024).with_variant(
            sa.String(length=1024, collation="C"), "postgresql"), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("account", "path", name=op.f("pk_exp_artifacts")),
    )
    op.create_table(
        "exp_logged_models",
        sa.Column("id", sa.String(length=34), nullable=False),
        sa.Column("account", sa.String(length=63), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_run_id", sa.String(length=32), nullable=True),
        sa.Column("model_type", sa.String(length=250), nullable=True),
        sa.Column("params", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["exp_experiments.id"],
                                name=op.f("fk_exp_logged_models_experiment_id_exp_experiments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exp_logged_models")),
    )
    op.create_index("ix_exp_logged_models_account_experiment", "exp_logged_models",
                    ["account", "experiment_id", "created_at"])


def downgrade() -> None:
    for table in ("exp_logged_models", "exp_artifacts", "exp_run_inputs", "exp_run_tags",
                  "exp_latest_metrics", "exp_metrics", "exp_params", "exp_runs",
                  "exp_experiments"):
        op.drop_table(table)
