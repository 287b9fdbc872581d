"""Experiment helpers every experiments module uses: targets, lookups, reads."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from charter.access.authorizer import Target
from charter.core.context import Context
from charter.core.ids import crn
from charter.errors import Invalid, NotFound
from charter.experiments.orm import (
    MAX_EXPERIMENT_ID,
    Experiment,
    LatestMetric,
    LoggedModel,
    Param,
    Run,
    RunInput,
    RunTag,
)
from charter.experiments.schemas import (
    ExperimentRead,
    LoggedModelRead,
    Metric,
    RunInputRead,
    RunRead,
)
from charter.org import service as org


def target(ctx: Context, account: str, type_: str, path: str) -> Target:
    return org.target_in_account(ctx.db, account, crn(account, "experiments", type_, path))


def experiment_number(experiment_id: str) -> int:
    """An experiment id as the integer it is stored as; NotFound for one that is not, or
    that no experiment can have (past `MAX_EXPERIMENT_ID`)."""
    number = _digits(experiment_id)
    if number is None or number > MAX_EXPERIMENT_ID:
        raise _no_experiment(experiment_id)
    return number


def experiment_numbers(experiment_ids: list[str]) -> list[int]:
    """Experiment ids as numbers, leaving out those no experiment can have (past
    `MAX_EXPERIMENT_ID`); NotFound for one that is no number."""
    numbers = []
    for experiment_id in experiment_ids:
        number = _digits(experiment_id)
        if number is None:
            raise _no_experiment(experiment_id)
        if number <= MAX_EXPERIMENT_ID:
            numbers.append(number)
    return numbers


def _digits(experiment_id: str) -> int | None:
    text = str(experiment_id)
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _no_experiment(experiment_id: str) -> NotFound:
    return NotFound(f"experiment {experiment_id!r} does not exist", code="experiment_not_found")


def require_experiment(ctx: Context, account: str, experiment_id: str) -> Experiment:
    """An experiment of `account` (which must exist), or NotFound."""
    org.require_account(ctx.db, account)
    found = ctx.db.get(Experiment, experiment_number(experiment_id))
    if found is None or found.account != account:
        raise NotFound(f"experiment {experiment_id} does not exist in {account}",
                       code="experiment_not_found")
    return found


def require_run(ctx: Context, account: str, run_id: str, *, for_update: bool = False) -> Run:
    """A run of `account` (which must exist), or NotFound; with `for_update`, its row is
    locked to the end of the transaction (read again if it was read before)."""
    org.require_account(ctx.db, account)
    found = ctx.db.get(Run, run_id, with_for_update=for_update,
                       populate_existing=for_update) if len(run_id) == 32 else None
    if found is None or found.account != account:
        raise NotFound(f"run {run_id} does not exist in {account}", code="run_not_found")
    return found


def require_active_run(ctx: Context, account: str, run_id: str, *,
                       for_update: bool = False) -> Run:
    """A run of `account` that may still be logged to (not deleted)."""
    run = require_run(ctx, account, run_id, for_update=for_update)
    if run.lifecycle_stage != "active":
        raise Invalid(f"run {run_id} is deleted; restore it before logging to it",
                      code="run_not_active")
    return run


def experiment_read(e: Experiment) -> ExperimentRead:
    return ExperimentRead(
        id=str(e.id), account=e.account, name=e.name,
        crn=crn(e.account, "experiments", "experiment", str(e.id)),
        artifact_location=f"mlflow-artifacts:/{e.id}", lifecycle_stage=e.lifecycle_stage,
        tags=e.tags, created_by=e.created_by, created_at=e.created_at,
        updated_at=e.updated_at)


def metric_value(value: float, is_nan: bool) -> float:
    return math.nan if is_nan else value


def run_reads(ctx: Context, runs: Sequence[Run]) -> list[RunRead]:
    """Runs with their params, latest metrics, tags and inputs: four queries a page."""
    ids = [r.id for r in runs]
    if not ids:
        return []
    params: dict[str, dict[str, str]] = defaultdict(dict)
    for p in ctx.db.execute(select(Param.run_id, Param.key, Param.value)
                            .where(Param.run_id.in_(ids))):
        params[p.run_id][p.key] = p.value
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for t in ctx.db.execute(select(RunTag.run_id, RunTag.key, RunTag.value)
                            .where(RunTag.run_id.in_(ids))):
        tags[t.run_id][t.key] = t.value
    metrics: dict[str, list[Metric]] = defaultdict(list)
    for m in ctx.db.execute(select(LatestMetric).where(LatestMetric.run_id.in_(ids))
                            .order_by(LatestMetric.key)).scalars():
        metrics[m.run_id].append(Metric(key=m.key, value=metric_value(m.value, m.is_nan),
                                        timestamp=m.timestamp, step=m.step))
    inputs: dict[str, list[RunInputRead]] = defaultdict(list)
    for i in ctx.db.execute(select(RunInput).where(RunInput.run_id.in_(ids))
                            .order_by(RunInput.recorded_at, RunInput.table)).scalars():
        inputs[i.run_id].append(RunInputRead(account=i.source_account, table=i.table,
                                             snapshot_id=i.snapshot_id,
                                             recorded_at=i.recorded_at))
    return [_run_read(r, params[r.id], metrics[r.id], tags[r.id], inputs[r.id]) for r in runs]


def _run_read(r: Run, params: dict[str, str], metrics: list[Metric], tags: dict[str, str],
              inputs: list[RunInputRead]) -> RunRead:
    return RunRead(
        id=r.id, account=r.account, experiment_id=str(r.experiment_id), name=r.name,
        crn=crn(r.account, "experiments", "run", f"{r.experiment_id}/{r.id}"),
        status=r.status, start_time=r.start_time, end_time=r.end_time, user=r.user,
        source=r.source, git_commit=r.git_commit,
        artifact_uri=f"mlflow-artifacts:/{r.experiment_id}/{r.id}/artifacts",
        lifecycle_stage=r.lifecycle_stage, params=params, metrics=metrics, tags=tags,
        inputs=inputs)


def logged_model_read(m: LoggedModel) -> LoggedModelRead:
    return LoggedModelRead(
        id=m.id, account=m.account, experiment_id=str(m.experiment_id), name=m.name,
        crn=crn(m.account, "experiments", "logged-model", f"{m.experiment_id}/{m.id}"),
        artifact_location=f"mlflow-artifacts:/{m.experiment_id}/models/{m.id}/artifacts",
        status=m.status, source_run_id=m.source_run_id, model_type=m.model_type,
        params=m.params, tags=m.tags, metrics=m.metrics.get("metrics", []),
        created_by=m.created_by, created_at=m.created_at, updated_at=m.updated_at)


def as_str_dict(values: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in values.items()}
