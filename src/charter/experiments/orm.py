"""Experiment tracking tables: experiments, runs, their params, metric series, latest
metrics, tags and lake inputs, artifacts, and logged models.

Search runs over these in SQL: params by (run, key), latest metrics by (key, is_nan,
value), tags by (key, value prefix), runs by (account, experiment, start time). Metric
points are written with executemany (see `_logging.py`), never one ORM object per point.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from charter.core.db import Base

# SQLite makes only an INTEGER PRIMARY KEY its rowid (and so autoincrement).
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")
# A path ordered byte by byte on every backend, so a prefix is a range of the index.
PATH = String(1024).with_variant(String(1024, collation="C"), "postgresql")
TAG_INDEXED = 200  # characters of a tag's value its (key, value) index holds
# The largest experiment id: the column is a 32-bit integer on PostgreSQL, which refuses
# a larger number even in a comparison, so no experiment has one.
MAX_EXPERIMENT_ID = 2**31 - 1


class Experiment(Base):
    __tablename__ = "exp_experiments"
    __table_args__ = (UniqueConstraint("account", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(500))
    lifecycle_stage: Mapped[str] = mapped_column(String(16), default="active")
    tags: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Run(Base):
    __tablename__ = "exp_runs"
    __table_args__ = (Index("ix_exp_runs_account_experiment_start", "account",
                            "experiment_id", "start_time"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(63))
    experiment_id: Mapped[int] = mapped_column(ForeignKey("exp_experiments.id"))
    name: Mapped[str] = mapped_column(String(250), default="")
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user: Mapped[str] = mapped_column(String(250), default="")
    source: Mapped[str | None] = mapped_column(String(500), nullable=True)
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[str] = mapped_column(String(100))


class Param(Base):
    __tablename__ = "exp_params"

    run_id: Mapped[str] = mapped_column(ForeignKey("exp_runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# What makes a metric point itself: a point logged again is stored once (as MLflow's
# primary key does). Its unique index also serves a series read by step and time.
POINT_KEY = ["run_id", "key", "step", "timestamp", "value", "is_nan"]


class MetricPoint(Base):
    """One point of a metric series. NaN is kept as `is_nan` (SQLite stores a NaN
    float as NULL); its `value` is then 0."""

    __tablename__ = "exp_metrics"
    __table_args__ = (Index("ix_exp_metrics_run_key_step", *POINT_KEY, unique=True),)

    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("exp_runs.id"))
    key: Mapped[str] = mapped_column(String(250))
    value: Mapped[float] = mapped_column(Float)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int] = mapped_column(BigInteger, default=0)


class LatestMetric(Base):
    """A run's latest point of each metric: the one with the largest (step, timestamp,
    value), as MLflow defines it; what search filters and orders on.

    Its (key, is_nan, value, run_id) index holds a metric's numbers in order, NaN apart,
    and the run of each: a filter on the metric is a range of it, and a search ordered by
    it walks it (`_ordering.py`) without reading the table's rows."""

    __tablename__ = "exp_latest_metrics"
    __table_args__ = (Index("ix_exp_latest_metrics_key_nan_value", "key", "is_nan", "value",
                            "run_id"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("exp_runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int] = mapped_column(BigInteger)


class RunTag(Base):
    __tablename__ = "exp_run_tags"
    run_id: Mapped[str] = mapped_column(ForeignKey("exp_runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# A tag's value may hold 8,000 characters, past what a PostgreSQL index entry takes: the
# index holds its first TAG_INDEXED, and equality filters compare those too.
Index("ix_exp_run_tags_key_value", RunTag.key, func.substr(RunTag.value, 1, TAG_INDEXED))


class RunInput(Base):
    """A lake table a run read, at the snapshot it read (lineage)."""

    __tablename__ = "exp_run_inputs"

    run_id: Mapped[str] = mapped_column(ForeignKey("exp_runs.id"), primary_key=True)
    source_account: Mapped[str] = mapped_column(String(63), primary_key=True)
    table: Mapped[str] = mapped_column(String(127), primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]


class Artifact(Base):
    """A file in an account's artifact root: its path there, and the content-addressed
    object holding its bytes."""

    __tablename__ = "exp_artifacts"

    account: Mapped[str] = mapped_column(String(63), primary_key=True)
    path: Mapped[str] = mapped_column(PATH, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class LoggedModel(Base):
    """An MLflow 3 logged model: a model's artifacts and facts within an experiment."""

    __tablename__ = "exp_logged_models"
    __table_args__ = (Index("ix_exp_logged_models_account_experiment", "account",
                            "experiment_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(34), primary_key=True)
    account: Mapped[str] = mapped_column(String(63))
    experiment_id: Mapped[int] = mapped_column(ForeignKey("exp_experiments.id"))
    name: Mapped[str] = mapped_column(String(250))
    status: Mapped[str] = mapped_column(String(16))
    source_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model_type: Mapped[str | None] = mapped_column(String(250), nullable=True)
    params: Mapped[dict[str, Any]]
    tags: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]  # {"metrics": [{key, value, timestamp, step, run_id}]}
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
