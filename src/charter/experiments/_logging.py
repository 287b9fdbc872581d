"""Writing a batch of metrics, params and tags to a run: checked first, then written with
executemany, the latest metrics in one upsert (no ORM object per point)."""

from __future__ import annotations

import functools
import math
from typing import Any

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from charter.errors import Invalid, NotFound
from charter.experiments.orm import POINT_KEY, LatestMetric, MetricPoint, Param, Run, RunTag
from charter.experiments.schemas import KeyValue, MetricIn

RUN_NAME_TAG = "mlflow.runName"


def upsert(session: Session, table: Any, index: list[str], rows: list[dict[str, Any]],
           update: list[str], where: Any = None) -> None:
    """INSERT ... ON CONFLICT (index) DO UPDATE SET update (WHERE where), for many rows
    in one executemany."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=index,
                                      set_={c: stmt.excluded[c] for c in update},
                                      where=where(stmt.excluded) if where else None)
    session.execute(stmt, rows)


def write_params(session: Session, run: Run, params: list[KeyValue]) -> None:
    """New params are added; one logged again with its value is a no-op, with another
    value refused (`param_changed`): a param describes how the run was made."""
    wanted: dict[str, str] = {}
    for p in params:
        if wanted.setdefault(p.key, p.value) != p.value:
            raise Invalid(f"the batch logs param {p.key!r} twice with different values",
                          code="param_changed")
    if not wanted:
        return
    # Insert what is missing, leaving a row already there (a retry or another writer may
    # have logged it, committed or not: ON CONFLICT waits for it), then compare: a param
    # logged again with its value is a no-op, never a unique-index error.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(Param).on_conflict_do_nothing(
        index_elements=["run_id", "key"]),
        [{"run_id": run.id, "key": k, "value": v} for k, v in wanted.items()])
    stored = session.execute(select(Param.key, Param.value).where(
        Param.run_id == run.id, Param.key.in_(list(wanted))))
    for key, value in stored:
        if wanted[key] != value:
            raise Invalid(f"param {key!r} of run {run.id} is already {value[:100]!r}; "
                          "a param cannot change (log a new run, or a metric or tag)",
                          code="param_changed")


def write_tags(session: Session, run: Run, tags: list[KeyValue]) -> None:
    """Tags are set (the last value of a key wins); `mlflow.runName` renames the run."""
    last = {t.key: t.value for t in tags}
    if RUN_NAME_TAG in last:
        run.name = last[RUN_NAME_TAG][:250]
    upsert(session, RunTag.__table__, ["run_id", "key"],
           [{"run_id": run.id, "key": k, "value": v} for k, v in last.items()], ["value"])


def delete_tag(session: Session, run: Run, key: str) -> None:
    """Remove a tag; NotFound when the run has none of that key."""
    tag = session.get(RunTag, (run.id, key))
    if tag is None:
        raise NotFound(f"run {run.id} has no tag {key[:250]!r}", code="run_tag_not_found")
    session.delete(tag)
    session.flush()


def write_metrics(session: Session, run: Run, metrics: list[MetricIn]) -> None:
    """Every point into the series (one executemany), and each key's latest point into
    the latest metrics in one upsert that keeps the larger (step, timestamp, value). A
    point already in the series (same key, value, time and step: MLflow's client sends a
    run's points again when it logs a model) is stored once, as MLflow stores it: its
    unique index skips it, on both backends."""
    if not metrics:
        return
    run_id = run.id
    isnan = math.isnan
    # (run, key, value, NaN, time, step), each point once; NaN is stored as 0 and flagged.
    points = list(dict.fromkeys(
        (run_id, m.key, 0.0, True, m.timestamp, m.step) if isnan(m.value)
        else (run_id, m.key, m.value, False, m.timestamp, m.step) for m in metrics))
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # The statement compiled once, the rows handed to the driver as they are: for a
        # batch of 1,000, SQLAlchemy's building of each row's parameters costs as much as
        # SQLite's insert.
        connection.exec_driver_sql(_points_sql(), points)
    else:
        session.execute(_insert_points(postgresql), [dict(zip(_POINT_COLUMNS, p, strict=True))
                                                     for p in points])
    latest: dict[str, tuple[Any, ...]] = {}
    for point in points:  # the larger (step, time, value) of each key
        seen = latest.get(point[1])
        if seen is None or (point[5], point[4], point[2]) > (seen[5], seen[4], seen[2]):
            latest[point[1]] = point
    session.execute(_upsert_latest(connection.dialect.name),
                    [dict(zip(_POINT_COLUMNS, p, strict=True)) for p in latest.values()])


_POINT_COLUMNS = ("run_id", "key", "value", "is_nan", "timestamp", "step")


@functools.cache
def _upsert_latest(dialect_name: str) -> Any:
    """Each key's latest point: INSERT ... ON CONFLICT DO UPDATE when the new (step,
    timestamp, value) is not smaller (built once: every log-batch runs it)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = LatestMetric.__table__
    stmt = dialect.insert(table)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={c: new[c] for c in ("value", "is_nan", "timestamp", "step")},
        where=tuple_(table.c.step, table.c.timestamp, table.c.value)
        <= tuple_(new.step, new.timestamp, new.value))


@functools.cache
def _insert_points(dialect: Any) -> Any:
    """INSERT a point, skipping one already stored (its unique index)."""
    return dialect.insert(MetricPoint.__table__).values(
        {c: bindparam(c) for c in _POINT_COLUMNS}).on_conflict_do_nothing(
        index_elements=POINT_KEY)


@functools.cache
def _points_sql() -> str:
    """`_insert_points` as SQLite's text, with positional parameters in `_POINT_COLUMNS`'
    order."""
    compiled = _insert_points(sqlite).compile(dialect=sqlite.dialect())
    assert compiled.positiontup == list(_POINT_COLUMNS), compiled.positiontup
    return str(compiled)
