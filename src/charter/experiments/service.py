"""Experiments service: experiments, runs, batch logging, metric history, search, lake
inputs (lineage), artifacts and MLflow 3 logged models, each a governed operation.

The MLflow protocol adapter (`api/mlflow`) and the registry call these same functions.
Experiment ids are digits and run ids 32 hex characters, as MLflow's; every lookup is
scoped by account in SQL, so another account's id is "not found" here.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

from sqlalchemy import select

from charter.access.authorizer import Target
from charter.access.idempotency import idempotent
from charter.access.pipeline import emit, operation
from charter.core.clock import now
from charter.core.context import Context
from charter.core.db import kept, lock
from charter.core.ids import crn, split_table_name
from charter.core.pagination import MAX_LIMIT, PageParams, page_of, paginate
from charter.errors import Conflict, Invalid, NotFound
from charter.experiments import _artifacts, _logging, _ordering, _search
from charter.experiments._common import (
    as_str_dict,
    experiment_number,
    experiment_numbers,
    experiment_read,
    logged_model_read,
    metric_value,
    require_active_run,
    require_experiment,
    require_run,
    run_reads,
    target,
)
from charter.experiments.checks import (
    check_batch,
    check_key,
    check_length,
    check_tags,
    check_time,
)
from charter.experiments.orm import Experiment, LoggedModel, MetricPoint, Run, RunInput
from charter.experiments.schemas import (
    MAX_TAG_VALUE,
    ArtifactRead,
    ExperimentCreate,
    ExperimentPage,
    ExperimentRead,
    KeyValue,
    LoggedModelCreate,
    LoggedModelPage,
    LoggedModelRead,
    LoggedModelUpdate,
    Metric,
    MetricPage,
    RunCreate,
    RunInputCreate,
    RunLog,
    RunPage,
    RunRead,
    RunSearch,
    RunSearchPage,
    RunUpdate,
)
from charter.lake import service as lake
from charter.org import service as org

TERMINAL = ("FINISHED", "FAILED", "KILLED")
USER_TAG = "mlflow.user"
RUN_NAME_TAG = _logging.RUN_NAME_TAG


def _experiment_target(ctx: Context, account: str, experiment_id: Any = "*", *a: Any,
                       **k: Any) -> Target:
    return target(ctx, account, "experiment", str(experiment_id))


def _run_target(ctx: Context, account: str, run_id: Any = "*", *a: Any, **k: Any) -> Target:
    return _run_crn_target(ctx, account, str(run_id))


def _run_crn_target(ctx: Context, account: str, run_id: str, below: str = "") -> Target:
    """A run by its crn, `run/<experiment>/<run>` (and `below` it: its artifacts), as
    `runs show` prints it. A refusal names it `run/*/<run>`, the same words whether it
    exists or not."""
    # The run itself, kept for the operation (which reads it next) rather than a column.
    run = kept(ctx.db, ctx.db.get(Run, run_id)) if len(run_id) == 32 else None
    experiment = run.experiment_id if run is not None and run.account == account else None
    path = f"{'*' if experiment is None else experiment}/{run_id}"
    found = target(ctx, account, "run", path + (f"/{below}" if below else ""))
    return dataclasses.replace(found, shown_as=found.shown_as or crn(
        account, "experiments", "run", f"*/{run_id}"))


_RUN_ARTIFACT = re.compile(r"[0-9]{1,18}/([0-9a-f]{32})/(artifacts(?:/.*)?)", re.DOTALL)


def _artifact_target(ctx: Context, account: str, path: str = "", *a: Any,
                     run_id: str | None = None, **k: Any) -> Target:
    if run_id:
        return _run_crn_target(ctx, account, str(run_id),
                               "artifacts" + (f"/{path}" if path else ""))
    of_run = _RUN_ARTIFACT.fullmatch(path)
    if of_run:  # a run's artifact named from the account's root: below the run's crn too
        return _run_crn_target(ctx, account, of_run[1], of_run[2])
    return target(ctx, account, "artifact", path or "*")


# -- experiments -----------------------------------------------------------------------

@operation("experiments:CreateExperiment", "write",
           target=lambda ctx, account, body: target(ctx, account, "experiment", "*"))
@idempotent
def create_experiment(ctx: Context, account: str, body: ExperimentCreate) -> ExperimentRead:
    """Create an experiment: a named group of runs, unique in the account."""
    org.require_account(ctx.db, account)
    if any(c in body.name for c in "\x00\r\n"):
        raise Invalid("an experiment name holds no control characters",
                      code="invalid_experiment_name")
    check_tags(body.tags)
    _name_lock(ctx, account, body.name)
    if ctx.db.scalar(select(Experiment.id).where(Experiment.account == account,
                                                 Experiment.name == body.name)):
        raise Conflict(f"experiment {body.name!r} already exists in {account}",
                       code="experiment_exists")
    t = now()
    experiment = Experiment(account=account, name=body.name, lifecycle_stage="active",
                            tags=dict(body.tags), created_by=ctx.principal.name,
                            created_at=t, updated_at=t)
    ctx.db.add(experiment)
    ctx.db.flush()
    emit(ctx, "ExperimentCreated", account,
         {"experiment_id": str(experiment.id), "name": experiment.name})
    return experiment_read(experiment)


@operation("experiments:DescribeExperiment", "read", target=_experiment_target,
           read_only=True)
def get_experiment(ctx: Context, account: str, experiment_id: str) -> ExperimentRead:
    """One experiment of the account, by id."""
    return experiment_read(require_experiment(ctx, account, experiment_id))


@operation("experiments:DescribeExperimentByName", "read",
           target=lambda ctx, account, name: target(ctx, account, "experiment", "*"),
           read_only=True)
def get_experiment_by_name(ctx: Context, account: str, name: str) -> ExperimentRead:
    """One experiment of the account, by name."""
    org.require_account(ctx.db, account)
    found = ctx.db.scalar(select(Experiment).where(Experiment.account == account,
                                                   Experiment.name == name))
    if found is None:
        raise NotFound(f"experiment {name[:200]!r} does not exist in {account}",
                       code="experiment_not_found")
    return experiment_read(found)


@operation("experiments:ListExperiments", "read",
           target=lambda ctx, account, **k: target(ctx, account, "experiment", "*"),
           read_only=True)
def list_experiments(ctx: Context, account: str, *, page: PageParams | None = None,
                     lifecycle_stage: str | None = "active") -> ExperimentPage:
    """One page of the account's experiments, by id."""
    org.require_account(ctx.db, account)
    query = select(Experiment).where(Experiment.account == account)
    if lifecycle_stage:
        query = query.where(Experiment.lifecycle_stage == lifecycle_stage)
    return page_of(ExperimentPage, ctx.db, query, key=(Experiment.id,), params=page,
                   read=lambda rows: [experiment_read(e) for e in rows])


@operation("experiments:UpdateExperiment", "write", target=_experiment_target)
def update_experiment(ctx: Context, account: str, experiment_id: str, *,
                      name: str | None = None, tags: dict[str, str] | None = None,
                      lifecycle_stage: str | None = None) -> ExperimentRead:
    """Rename an experiment, set tags on it, or delete and restore it."""
    experiment = require_experiment(ctx, account, experiment_id)
    if tags:
        check_tags({**experiment.tags, **tags})
    if name is not None and name != experiment.name:
        _name_lock(ctx, account, name)
        if ctx.db.scalar(select(Experiment.id).where(Experiment.account == account,
                                                     Experiment.name == name)):
            raise Conflict(f"experiment {name!r} already exists in {account}",
                           code="experiment_exists")
        experiment.name = name
    if tags:
        experiment.tags = {**experiment.tags, **tags}
    if lifecycle_stage is not None:
        if lifecycle_stage not in ("active", "deleted"):
            raise Invalid("lifecycle_stage is active or deleted", code="invalid_request")
        experiment.lifecycle_stage = lifecycle_stage
    experiment.updated_at = now()
    return experiment_read(experiment)


def _name_lock(ctx: Context, account: str, name: str) -> None:
    """Hold the experiment name until the transaction ends: of parallel creations of one
    name, the first makes it and the others find it (409), never the unique index (500)."""
    lock(ctx.db, f"experiments:name:{account}:{name}")


# -- runs ------------------------------------------------------------------------------

@operation("experiments:CreateRun", "write",
           target=lambda ctx, account, body: target(
               ctx, account, "run", f"{body.experiment_id}/*"))
@idempotent
def create_run(ctx: Context, account: str, body: RunCreate) -> RunRead:
    """Start a run in an experiment (status RUNNING)."""
    experiment = require_experiment(ctx, account, body.experiment_id)
    if experiment.lifecycle_stage != "active":
        raise Invalid(f"experiment {body.experiment_id} is deleted; restore it to start runs "
                      "in it", code="experiment_not_active")
    check_time(body.start_time, "start_time")
    tags = dict(body.tags)
    name = body.name or tags.get(RUN_NAME_TAG) or f"run-{uuid.uuid4().hex[:8]}"
    tags[RUN_NAME_TAG] = name
    if body.user and body.user != ctx.principal.name:
        # The run's user is who made it; a client's own claim is kept as MLflow keeps it.
        tags.setdefault(USER_TAG, body.user)
    check_batch(RunLog(tags=[KeyValue(key=k, value=v) for k, v in tags.items()]))
    run = Run(id=uuid.uuid4().hex, account=account, experiment_id=experiment.id,
              name=name[:250], status="RUNNING",
              start_time=body.start_time if body.start_time is not None else _millis(),
              end_time=None, user=ctx.principal.name, source=body.source,
              git_commit=body.git_commit, lifecycle_stage="active",
              created_by=ctx.principal.name)
    ctx.db.add(run)
    ctx.db.flush()
    _logging.write_tags(ctx.db, run, [KeyValue(key=k, value=v) for k, v in tags.items()])
    return run_reads(ctx, [run])[0]


def _millis() -> int:
    return int(now().timestamp() * 1000)


@operation("experiments:DescribeRun", "read", target=_run_target, read_only=True)
def get_run(ctx: Context, account: str, run_id: str) -> RunRead:
    """A run with its params, latest metrics, tags and lake inputs."""
    return run_reads(ctx, [require_run(ctx, account, run_id)])[0]


@operation("experiments:CompareRuns", "read",
           target=lambda ctx, account, run_ids: target(ctx, account, "run", "*"),
           read_only=True)
def compare_runs(ctx: Context, account: str, run_ids: list[str]) -> list[RunRead]:
    """Several runs of the account, in the order asked, to set side by side."""
    if not 1 <= len(run_ids) <= 100:
        raise Invalid("compare 1 to 100 runs", code="invalid_request")
    runs = [require_run(ctx, account, r) for r in run_ids]
    return run_reads(ctx, runs)


@operation("experiments:ListRuns", "read",
           target=lambda ctx, account, **k: target(ctx, account, "run", "*"), read_only=True)
def list_runs(ctx: Context, account: str, *, experiment_id: str | None = None,
              page: PageParams | None = None) -> RunPage:
    """One page of the account's active runs (of one experiment), newest first."""
    org.require_account(ctx.db, account)
    query = select(Run).where(Run.account == account, Run.lifecycle_stage == "active")
    if experiment_id is not None:
        query = query.where(Run.experiment_id
                            == require_experiment(ctx, account, experiment_id).id)
    page = page or PageParams()
    found = paginate(ctx.db, query, key=(Run.start_time, Run.id), params=page,
                     descending=True)
    return found.to_page(RunPage, run_reads(ctx, found.rows), page)


@operation("experiments:UpdateRun", "write", target=_run_target)
def update_run(ctx: Context, account: str, run_id: str, body: RunUpdate) -> RunRead:
    """Change a run's status, end time or name; ending it emits RunFinished."""
    # The row locked before its status is read: of parallel ends of a run, one finds it
    # running and ends it (RunFinished once), the others find it ended.
    run = require_active_run(ctx, account, run_id, for_update=True)
    check_time(body.end_time, "end_time")
    if body.name is not None:
        _logging.write_tags(ctx.db, run, [KeyValue(key=RUN_NAME_TAG, value=body.name)])
    if body.status is not None and body.status != run.status:
        run.status = body.status
        if body.status in TERMINAL:
            run.end_time = body.end_time if body.end_time is not None else _millis()
            emit(ctx, "RunFinished", account, {"run_id": run.id, "status": run.status,
                                               "experiment_id": str(run.experiment_id)})
    if body.end_time is not None:
        run.end_time = body.end_time
    return run_reads(ctx, [run])[0]


@operation("experiments:DeleteRun", "write", target=_run_target)
def delete_run(ctx: Context, account: str, run_id: str, *, restore: bool = False) -> RunRead:
    """Mark a run deleted (search leaves it out), or restore it."""
    run = require_run(ctx, account, run_id)
    run.lifecycle_stage = "active" if restore else "deleted"
    return run_reads(ctx, [run])[0]


@operation("experiments:LogBatch", "write", target=_run_target)
@idempotent
def log_batch(ctx: Context, account: str, run_id: str, body: RunLog) -> None:
    """Log metric points, params and tags to a run in one transaction: all or nothing."""
    check_batch(body)
    run = require_active_run(ctx, account, run_id)
    _logging.write_params(ctx.db, run, body.params)
    _logging.write_tags(ctx.db, run, body.tags)
    _logging.write_metrics(ctx.db, run, body.metrics)
    ctx.audit_details["logged"] = {"metrics": len(body.metrics), "params": len(body.params),
                                   "tags": len(body.tags)}


@operation("experiments:DeleteRunTag", "write", target=_run_target)
def delete_run_tag(ctx: Context, account: str, run_id: str, key: str) -> None:
    """Remove a tag from a run."""
    _logging.delete_tag(ctx.db, require_active_run(ctx, account, run_id), key)


@operation("experiments:ListMetricHistory", "read", target=_run_target, read_only=True)
def metric_history(ctx: Context, account: str, run_id: str, key: str, *,
                   page: PageParams | None = None) -> MetricPage:
    """One page of a metric's series, by step and time."""
    require_run(ctx, account, run_id)
    query = select(MetricPoint).where(MetricPoint.run_id == run_id, MetricPoint.key == key)
    return page_of(MetricPage, ctx.db, query,
                   key=(MetricPoint.step, MetricPoint.timestamp, MetricPoint.id), params=page,
                   read=lambda rows: [Metric(key=p.key, value=metric_value(p.value, p.is_nan),
                                             timestamp=p.timestamp, step=p.step)
                                      for p in rows])


@operation("experiments:SearchRuns", "read",
           target=lambda ctx, account, body: target(ctx, account, "run", "*"), read_only=True)
def search_runs(ctx: Context, account: str, body: RunSearch) -> RunSearchPage:
    """Runs of the given experiments that match a filter in MLflow's grammar, ordered,
    one page at a time (indexed SQL, never runs loaded to be filtered)."""
    org.require_account(ctx.db, account)
    ids = sorted({experiment_number(e) for e in body.experiment_ids})
    found = set(ctx.db.scalars(select(Experiment.id).where(Experiment.account == account,
                                                           Experiment.id.in_(ids))))
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise NotFound(f"experiment {', '.join(missing)} does not exist in {account}",
                       code="experiment_not_found")
    terms = _search.parse_filter(body.filter)
    conditions = _search.filter_conditions(terms, ctx.db.get_bind().dialect.name)
    scope = [Run.account == account, Run.experiment_id.in_(ids)]
    if body.run_view_type != "ALL":
        stage = "active" if body.run_view_type == "ACTIVE_ONLY" else "deleted"
        scope.append(Run.lifecycle_stage == stage)
    search = _ordering.SearchQuery(scope, terms, conditions,
                                 [_search.parse_order(clause) for clause in body.order_by])
    fingerprint = _search.query_fingerprint(ids, body.filter, body.order_by,
                                            body.run_view_type)
    offset = _search.decode_token(body.page_token, fingerprint)
    runs = _ordering.read_page(ctx.db, search, offset=offset, limit=body.max_results + 1)
    more = len(runs) > body.max_results
    runs = runs[:body.max_results]
    token = _search.encode_token(offset + len(runs), fingerprint) if more else None
    return RunSearchPage(items=run_reads(ctx, runs), next_page_token=token)


@operation("experiments:LogInput", "write", target=_run_target)
def log_input(ctx: Context, account: str, run_id: str, body: RunInputCreate) -> RunRead:
    """Record that a run read a lake table at a snapshot (lineage): one the caller may
    read, as the lake decides, and that exists."""
    run = require_active_run(ctx, account, run_id)
    database, table = split_table_name(body.table)
    source = body.source_account or account
    _require_snapshot(ctx, source, database, table, body.snapshot_id)
    name = f"{database}.{table}"
    if ctx.db.get(RunInput, (run.id, source, name, body.snapshot_id)) is None:
        ctx.db.add(RunInput(run_id=run.id, source_account=source, table=name,
                            snapshot_id=body.snapshot_id, recorded_by=ctx.principal.name,
                            recorded_at=now()))
        ctx.db.flush()
    return run_reads(ctx, [run])[0]


def _require_snapshot(ctx: Context, account: str, database: str, table: str,
                      snapshot_id: int) -> None:
    """A snapshot of a table the caller may see in `account`'s catalog. The lake decides,
    as the caller: refused in the same words whether the account exists or not, and
    `table_not_found` for a table missing or not the caller's to see."""
    offset = 0
    while True:
        page = lake.list_snapshots(ctx, account, database, table,
                                   page=PageParams(limit=MAX_LIMIT, offset=offset))
        if any(s.snapshot_id == snapshot_id for s in page.items):
            return
        offset += len(page.items)
        if not page.items or offset >= page.total:
            raise NotFound(f"table {database}.{table} of {account} has no snapshot "
                           f"{snapshot_id}", code="snapshot_not_found")


# -- artifacts -------------------------------------------------------------------------

@operation("experiments:PutArtifact", "write", target=_artifact_target)
def put_artifact(ctx: Context, account: str, path: str, data: bytes, *,
                 run_id: str | None = None) -> ArtifactRead:
    """Write a file at a path under the account's artifact root (replacing one there);
    with `run_id`, the path is relative to that run's artifacts."""
    org.require_account(ctx.db, account)
    ctx.audit_details["bytes"] = len(data)
    root = _run_root(ctx, account, run_id, active=True)
    if root is None:
        _refuse_deleted_run_folder(ctx, account, path)
    return _relative(_artifacts.put(ctx, account, _under(root, path), data), root)


def _refuse_deleted_run_folder(ctx: Context, account: str, path: str) -> None:
    """A path in a run's own folder (`<its experiment>/<run>/artifacts/...`) is logging to
    that run: refused as any logging is once the run is deleted (`run_not_active`)."""
    of_run = _RUN_ARTIFACT.fullmatch(path)
    run = ctx.db.get(Run, of_run[1]) if of_run else None
    if (run is not None and run.account == account
            and path.startswith(f"{run.experiment_id}/{run.id}/")):
        require_active_run(ctx, account, run.id)


@operation("experiments:GetArtifact", "read", target=_artifact_target, read_only=True)
def get_artifact(ctx: Context, account: str, path: str, *, run_id: str | None = None) -> bytes:
    """The bytes of one artifact file (with `run_id`: relative to the run's artifacts)."""
    org.require_account(ctx.db, account)
    return _artifacts.get(ctx, account, _under(_run_root(ctx, account, run_id), path))


@operation("experiments:DescribeArtifact", "read", target=_artifact_target, read_only=True)
def artifact_info(ctx: Context, account: str, path: str, *,
                  run_id: str | None = None) -> ArtifactRead:
    """One artifact path: a file (size, sha256) or a directory."""
    org.require_account(ctx.db, account)
    root = _run_root(ctx, account, run_id)
    return _relative(_artifacts.info(ctx, account, _under(root, path)), root)


@operation("experiments:ListArtifacts", "read", target=_artifact_target, read_only=True)
def list_artifacts(ctx: Context, account: str, prefix: str = "", *,
                   run_id: str | None = None) -> list[ArtifactRead]:
    """The files and directories directly under a path of the artifact root (with
    `run_id`: of the run's artifacts, paths relative to them)."""
    org.require_account(ctx.db, account)
    root = _run_root(ctx, account, run_id)
    found = _artifacts.children(ctx, account, _under(root, prefix) if prefix else root or "")
    return [_relative(a, root) for a in found]


def _run_root(ctx: Context, account: str, run_id: str | None, *,
              active: bool = False) -> str | None:
    """The path of a run's artifacts under the account's root (None without a run)."""
    if run_id is None:
        return None
    run = (require_active_run if active else require_run)(ctx, account, run_id)
    return f"{run.experiment_id}/{run.id}/artifacts"


def _under(root: str | None, path: str) -> str:
    if root is None:
        return path
    return f"{root}/{_artifacts.check_path(path)}" if path else root


def _relative(item: ArtifactRead, root: str | None) -> ArtifactRead:
    if root is None:
        return item
    return item.model_copy(update={"path": item.path[len(root) + 1:]})


def run_artifact_path(run: RunRead, path: str = "") -> str:
    """A path relative to a run's artifacts, as a path under the account's root."""
    return _under(f"{run.experiment_id}/{run.id}/artifacts", path)


def artifact_content_key(account: str, sha256: str) -> str:
    """The object key of the bytes with this sha256 among the account's artifacts (they
    are stored by content, and stay when a path is written again). It reads nothing: an
    operation that decided its caller may read such bytes (the registry's, reading the
    files a model version recorded) reads them from the object store itself, and checks
    their sha256. Invalid `invalid_sha256` for a string that is no sha256."""
    return _artifacts.content_key(account, sha256)


# -- logged models (MLflow 3) ----------------------------------------------------------

def _model_target(ctx: Context, account: str, model_id: str = "*", *a: Any,
                  **k: Any) -> Target:
    return target(ctx, account, "logged-model", str(model_id))


def _require_model(ctx: Context, account: str, model_id: str, *,
                   for_update: bool = False) -> LoggedModel:
    org.require_account(ctx.db, account)
    found = ctx.db.get(LoggedModel, model_id, with_for_update=for_update,
                       populate_existing=for_update) if len(model_id) <= 34 else None
    if found is None or found.account != account:
        raise NotFound(f"logged model {model_id[:40]} does not exist in {account}",
                       code="logged_model_not_found")
    return found


@operation("experiments:CreateLoggedModel", "write",
           target=lambda ctx, account, body: _model_target(ctx, account, "*"))
@idempotent
def create_logged_model(ctx: Context, account: str, body: LoggedModelCreate) -> LoggedModelRead:
    """Create a logged model (status PENDING) in an experiment, from a run of it."""
    experiment = require_experiment(ctx, account, body.experiment_id)
    if body.source_run_id is not None:
        run = require_run(ctx, account, body.source_run_id)
        if run.experiment_id != experiment.id:
            raise Invalid(f"run {run.id} belongs to experiment {run.experiment_id}, not "
                          f"{experiment.id}", code="run_not_in_experiment")
    for key, value in {**body.tags, **body.params}.items():
        check_key(key, "tag or param")
        check_length(value, MAX_TAG_VALUE, f"the value of {key!r}")
    t = now()
    model = LoggedModel(id=f"m-{uuid.uuid4().hex}", account=account,
                        experiment_id=experiment.id, name=body.name, status="PENDING",
                        source_run_id=body.source_run_id, model_type=body.model_type,
                        params=dict(body.params), tags=dict(body.tags),
                        metrics={"metrics": []}, created_by=ctx.principal.name,
                        created_at=t, updated_at=t)
    ctx.db.add(model)
    ctx.db.flush()
    return logged_model_read(model)


@operation("experiments:DescribeLoggedModel", "read", target=_model_target, read_only=True)
def get_logged_model(ctx: Context, account: str, model_id: str) -> LoggedModelRead:
    """One logged model of the account."""
    return logged_model_read(_require_model(ctx, account, model_id))


@operation("experiments:UpdateLoggedModel", "write", target=_model_target)
def update_logged_model(ctx: Context, account: str, model_id: str,
                        body: LoggedModelUpdate) -> LoggedModelRead:
    """Change a logged model's status (PENDING, READY, FAILED)."""
    model = _require_model(ctx, account, model_id)
    if body.status is not None:
        model.status = body.status
    model.updated_at = now()
    return logged_model_read(model)


@operation("experiments:SetLoggedModelTags", "write", target=_model_target)
def set_logged_model_tags(ctx: Context, account: str, model_id: str,
                          tags: dict[str, str]) -> LoggedModelRead:
    """Set tags on a logged model (the last value of a key wins)."""
    # The row locked before its tags are read: parallel writers merge in turn, and none
    # writes back tags read before another's were committed.
    model = _require_model(ctx, account, model_id, for_update=True)
    for key, value in tags.items():
        check_key(key, "tag")
        check_length(value, MAX_TAG_VALUE, f"the value of tag {key!r}")
    model.tags = {**model.tags, **as_str_dict(tags)}
    model.updated_at = now()
    return logged_model_read(model)


@operation("experiments:SearchLoggedModels", "read",
           target=lambda ctx, account, experiment_ids, **k: _model_target(ctx, account, "*"),
           read_only=True)
def search_logged_models(ctx: Context, account: str, experiment_ids: list[str], *,
                         page: PageParams | None = None) -> LoggedModelPage:
    """One page of the logged models of some experiments of the account, oldest first."""
    org.require_account(ctx.db, account)
    ids = experiment_numbers(experiment_ids)
    query = select(LoggedModel).where(LoggedModel.account == account,
                                      LoggedModel.experiment_id.in_(ids))
    return page_of(LoggedModelPage, ctx.db, query,
                   key=(LoggedModel.created_at, LoggedModel.id), params=page,
                   read=lambda rows: [logged_model_read(m) for m in rows])
