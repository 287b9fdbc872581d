"""Writing a batch of metrics, params and tags to a run: checked first, then written with
executemany, the latest metrics in one upsert (no ORM object per point)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from charter.errors import Invalid, NotFound
from charter.experiments._common import check_key, check_length
from charter.experiments.orm import LatestMetric, MetricPoint, Param, Run, RunTag
from charter.experiments.schemas import (
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    KeyValue,
    MetricIn,
    RunLog,
)

RUN_NAME_TAG = "mlflow.runName"


def check_batch(body: RunLog) -> None:
    """Refuse a batch past MLflow's limits or with a bad key or value, before any write."""
    for items, limit, what in ((body.metrics, MAX_BATCH_METRICS, "metrics"),
                               (body.params, MAX_BATCH_PARAMS, "params"),
                               (body.tags, MAX_BATCH_TAGS, "tags")):
        if len(items) > limit:
            raise Invalid(f"a batch holds at most {limit} {what}, not {len(items)}; send the "
                          "rest in further batches", code="batch_too_large")
    for m in body.metrics:
        check_key(m.key, "metric")
        if not isinstance(m.value, float | int) or isinstance(m.value, bool):
            raise Invalid(f"metric {m.key!r} has a value that is not a number",
                          code="invalid_metric")
    for p in body.params:
        check_key(p.key, "param")
        check_length(p.value, MAX_PARAM_VALUE, f"the value of param {p.key!r}")
    for t in body.tags:
        check_key(t.key, "tag")
        check_length(t.value, MAX_TAG_VALUE, f"the value of tag {t.key!r}")


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
    existing = {key: value for key, value in session.execute(
        select(Param.key, Param.value).where(Param.run_id == run.id,
                                             Param.key.in_(list(wanted))))}
    for key, value in wanted.items():
        if key in existing and existing[key] != value:
            raise Invalid(f"param {key!r} of run {run.id} is already {existing[key][:100]!r}; "
                          "a param cannot change (log a new run, or a metric or tag)",
                          code="param_changed")
    new = [{"run_id": run.id, "key": k, "value": v} for k, v in wanted.items()
           if k not in existing]
    if new:
        session.execute(insert(Param), new)


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
    """Every point into the series (executemany), and each key's latest point into the
    latest metrics in one upsert that keeps the larger (step, timestamp, value)."""
    if not metrics:
        return
    rows = [_point(run.id, m) for m in metrics]
    session.execute(insert(MetricPoint), rows)
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = latest.get(row["key"])
        if seen is None or _order(row) > _order(seen):
            latest[row["key"]] = row
    table = LatestMetric.__table__
    upsert(session, table, ["run_id", "key"], list(latest.values()),
           ["value", "is_nan", "timestamp", "step"],
           where=lambda new: tuple_(table.c.step, table.c.timestamp, table.c.value)
           <= tuple_(new.step, new.timestamp, new.value))


def _point(run_id: str, m: MetricIn) -> dict[str, Any]:
    value = float(m.value)
    nan = math.isnan(value)
    return {"run_id": run_id, "key": m.key, "value": 0.0 if nan else value, "is_nan": nan,
            "timestamp": m.timestamp, "step": m.step}


def _order(row: dict[str, Any]) -> tuple[int, int, float]:
    return row["step"], row["timestamp"], row["value"]
