"""MLflow's tracking API: experiments, runs, params, metrics and tags, on Charter's
experiments service (the same governed operations as `/v1`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from charter.api.mlflow import shapes
from charter.api.mlflow.deps import MlflowCtx
from charter.core.pagination import MAX_LIMIT, PageParams
from charter.errors import Invalid
from charter.experiments import service
from charter.experiments.schemas import (
    ExperimentCreate,
    KeyValue,
    MetricIn,
    RunCreate,
    RunLog,
    RunSearch,
    RunUpdate,
)

router = APIRouter(prefix="/{account}/api/2.0/mlflow")


class Tag(KeyValue):
    value: str = ""


class Metric(MetricIn):
    """A point as MLflow sends it: Charter's own, validated once and logged as it is."""

    model_id: str | None = None  # MLflow 3: the point is also the logged model's


class RunRef(BaseModel):
    run_id: str | None = None
    run_uuid: str | None = None  # MLflow 1.x's name, still sent beside run_id

    @property
    def id(self) -> str:
        if not (self.run_id or self.run_uuid):
            raise Invalid("run_id is required", code="missing_run_id")
        return self.run_id or self.run_uuid or ""


class ExperimentIn(BaseModel):
    name: str
    artifact_location: str | None = None
    tags: list[Tag] = []


class RunIn(BaseModel):
    experiment_id: str = "0"
    user_id: str | None = None
    run_name: str | None = None
    start_time: int | None = None
    tags: list[Tag] = []


class RunUpdateIn(RunRef):
    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class ParamIn(RunRef):
    key: str
    value: str


class MetricLogIn(RunRef, Metric):
    pass


class TagIn(RunRef):
    key: str
    value: str


class KeyRef(RunRef):
    key: str


class BatchIn(RunRef):
    metrics: list[Metric] = []
    params: list[Tag] = []
    tags: list[Tag] = []


class SearchIn(BaseModel):
    experiment_ids: list[str] = []
    filter: str = ""
    run_view_type: str = "ACTIVE_ONLY"
    max_results: int = Field(1000, ge=1, le=50_000)
    order_by: list[str] = []
    page_token: str | None = None


class ExperimentSearchIn(BaseModel):
    max_results: int = Field(1000, ge=1)
    page_token: str | None = None
    filter: str = ""


@router.get("/experiments/get-by-name")
def get_experiment_by_name(account: str, ctx: MlflowCtx,
                           experiment_name: str = Query(...)) -> dict[str, Any]:
    """An experiment by its name."""
    found = service.get_experiment_by_name(ctx, account, experiment_name)
    return {"experiment": shapes.experiment(found)}


@router.post("/experiments/create")
def create_experiment(account: str, body: ExperimentIn, ctx: MlflowCtx) -> dict[str, Any]:
    """A new experiment; its artifacts live under the account's artifact root."""
    if body.artifact_location:
        raise Invalid("artifacts of a Charter account live in its own store: create the "
                      "experiment without an artifact location", code="artifact_location_set")
    made = service.create_experiment(ctx, account, ExperimentCreate(
        name=body.name, tags=shapes.tag_dict(body.tags)))
    return {"experiment_id": str(made.id)}


@router.get("/experiments/get")
def get_experiment(account: str, ctx: MlflowCtx,
                   experiment_id: str = Query(...)) -> dict[str, Any]:
    """An experiment by its id."""
    return {"experiment": shapes.experiment(service.get_experiment(ctx, account,
                                                                   experiment_id))}


@router.post("/experiments/search")
def search_experiments(account: str, body: ExperimentSearchIn, ctx: MlflowCtx
                       ) -> dict[str, Any]:
    """The account's experiments, a page at a time (no filter)."""
    if body.filter:
        raise Invalid("experiments are listed without a filter here", code="invalid_filter")
    page = service.list_experiments(ctx, account, page=PageParams(
        limit=min(body.max_results, MAX_LIMIT), cursor=body.page_token))
    answer: dict[str, Any] = {"experiments": [shapes.experiment(e) for e in page.items]}
    if page.next_cursor:
        answer["next_page_token"] = page.next_cursor
    return answer


@router.post("/runs/create")
def create_run(account: str, body: RunIn, ctx: MlflowCtx) -> dict[str, Any]:
    """A new run, RUNNING, with the client's system tags (source, git commit). Its user is
    the token's (the client's own claim stays in the `mlflow.user` tag)."""
    tags = shapes.tag_dict(body.tags)
    made = service.create_run(ctx, account, RunCreate(
        experiment_id=body.experiment_id, name=body.run_name or tags.get("mlflow.runName"),
        start_time=body.start_time, tags=tags, user=ctx.principal.name,
        source=tags.get("mlflow.source.name"), git_commit=tags.get("mlflow.source.git.commit")))
    return {"run": shapes.run(made)}


@router.get("/runs/get")
def get_run(account: str, ctx: MlflowCtx, run_id: str | None = None,
            run_uuid: str | None = None) -> dict[str, Any]:
    """A run with its params, latest metrics and tags."""
    return {"run": shapes.run(service.get_run(ctx, account, RunRef(
        run_id=run_id, run_uuid=run_uuid).id))}


@router.post("/runs/update")
def update_run(account: str, body: RunUpdateIn, ctx: MlflowCtx) -> dict[str, Any]:
    """End a run (its status and end time) or rename it."""
    changed = service.update_run(ctx, account, body.id, RunUpdate(
        status=body.status, end_time=body.end_time, name=body.run_name))
    return {"run_info": shapes.run_info(changed)}


@router.post("/runs/log-parameter")
def log_parameter(account: str, body: ParamIn, ctx: MlflowCtx) -> dict[str, Any]:
    """One param."""
    service.log_batch(ctx, account, body.id, RunLog(
        params=[KeyValue(key=body.key, value=body.value)]))
    return {}


@router.post("/runs/log-metric")
def log_metric(account: str, body: MetricLogIn, ctx: MlflowCtx) -> dict[str, Any]:
    """One point of a metric's series."""
    service.log_batch(ctx, account, body.id, RunLog(metrics=[MetricIn(
        key=body.key, value=body.value, timestamp=body.timestamp, step=body.step)]))
    return {}


@router.post("/runs/set-tag")
def set_tag(account: str, body: TagIn, ctx: MlflowCtx) -> dict[str, Any]:
    """One tag."""
    service.log_batch(ctx, account, body.id, RunLog(
        tags=[KeyValue(key=body.key, value=body.value)]))
    return {}


@router.post("/runs/delete-tag")
def delete_tag(account: str, body: KeyRef, ctx: MlflowCtx) -> dict[str, Any]:
    """Remove a tag of a run."""
    service.delete_run_tag(ctx, account, body.id, body.key)
    return {}


@router.post("/runs/delete")
def delete_run(account: str, body: RunRef, ctx: MlflowCtx) -> dict[str, Any]:
    """Mark a run deleted (search leaves it out); its data stays."""
    service.delete_run(ctx, account, body.id)
    return {}


@router.post("/runs/restore")
def restore_run(account: str, body: RunRef, ctx: MlflowCtx) -> dict[str, Any]:
    """Bring a deleted run back."""
    service.delete_run(ctx, account, body.id, restore=True)
    return {}


@router.post("/runs/log-batch")
def log_batch(account: str, body: BatchIn, ctx: MlflowCtx) -> dict[str, Any]:
    """Metrics, params and tags in one transaction. Logging a model sends the run's points
    again, naming the model: the service stores an identical point once, as MLflow does."""
    # The body was validated into Charter's own types: the batch is built without a
    # second pass over its points.
    service.log_batch(ctx, account, body.id, RunLog.model_construct(
        metrics=body.metrics, params=body.params, tags=body.tags))
    return {}


@router.post("/runs/search")
def search_runs(account: str, body: SearchIn, ctx: MlflowCtx) -> dict[str, Any]:
    """Runs of the given experiments matching MLflow's filter grammar, ordered and paged."""
    found = service.search_runs(ctx, account, RunSearch(
        experiment_ids=body.experiment_ids, filter=body.filter, order_by=body.order_by,
        max_results=body.max_results, page_token=body.page_token,
        run_view_type=body.run_view_type))
    answer: dict[str, Any] = {"runs": [shapes.run(r) for r in found.items]}
    if found.next_page_token:
        answer["next_page_token"] = found.next_page_token
    return answer


@router.get("/metrics/get-history")
def get_metric_history(account: str, ctx: MlflowCtx, metric_key: str = Query(...),
                       run_id: str | None = None, run_uuid: str | None = None,
                       max_results: int = Query(MAX_LIMIT, ge=1),
                       page_token: str | None = None) -> dict[str, Any]:
    """A metric's points, by step and time."""
    page = service.metric_history(ctx, account, RunRef(run_id=run_id, run_uuid=run_uuid).id,
                                  metric_key, page=PageParams(
                                      limit=min(max_results, MAX_LIMIT), cursor=page_token))
    answer: dict[str, Any] = {"metrics": [shapes.metric(m) for m in page.items]}
    if page.next_cursor:
        answer["next_page_token"] = page.next_cursor
    return answer
