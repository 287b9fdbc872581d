"""Experiment routes: experiments, runs, batch logging, metric history, search, lake
inputs and run artifacts."""

from __future__ import annotations

from fastapi import APIRouter, Body, Query, Response

from charter.api.deps import Ctx, PageDep
from charter.core.pagination import Page, page_of_list
from charter.experiments import service
from charter.experiments.schemas import (
    ArtifactRead,
    ExperimentCreate,
    ExperimentPage,
    ExperimentRead,
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

router = APIRouter(prefix="/v1/accounts/{account}", tags=["experiments"])
RUN = "/runs/{run_id}"


@router.post("/experiments", status_code=201)
def create_experiment(account: str, body: ExperimentCreate, ctx: Ctx) -> ExperimentRead:
    """Create an experiment, a named group of runs."""
    return service.create_experiment(ctx, account, body)


@router.get("/experiments")
def list_experiments(account: str, ctx: Ctx, page: PageDep) -> ExperimentPage:
    """The account's experiments, by id."""
    return service.list_experiments(ctx, account, page=page)


@router.get("/experiments/by-name")
def get_experiment_by_name(account: str, ctx: Ctx,
                           name: str = Query(..., min_length=1, max_length=500)
                           ) -> ExperimentRead:
    """One experiment, by name."""
    return service.get_experiment_by_name(ctx, account, name)


@router.get("/experiments/{experiment_id}")
def get_experiment(account: str, experiment_id: str, ctx: Ctx) -> ExperimentRead:
    """One experiment, by id."""
    return service.get_experiment(ctx, account, experiment_id)


@router.post("/runs", status_code=201)
def create_run(account: str, body: RunCreate, ctx: Ctx) -> RunRead:
    """Start a run in an experiment."""
    return service.create_run(ctx, account, body)


@router.get("/runs")
def list_runs(account: str, ctx: Ctx, page: PageDep,
              experiment_id: str | None = Query(None, max_length=20)) -> RunPage:
    """The account's active runs (of one experiment), newest first."""
    return service.list_runs(ctx, account, experiment_id=experiment_id, page=page)


@router.post("/runs/search")
def search_runs(account: str, body: RunSearch, ctx: Ctx) -> RunSearchPage:
    """Runs matching a filter in MLflow's grammar, ordered, a page at a time."""
    return service.search_runs(ctx, account, body)


@router.get("/runs/compare")
def compare_runs(account: str, ctx: Ctx, page: PageDep,
                 run_id: list[str] = Query(..., max_length=100)) -> Page[RunRead]:
    """Several runs, in the order asked, to set side by side."""
    return page_of_list(Page[RunRead], service.compare_runs(ctx, account, run_id), page)


@router.get(RUN)
def get_run(account: str, run_id: str, ctx: Ctx) -> RunRead:
    """A run with its params, latest metrics, tags and lake inputs."""
    return service.get_run(ctx, account, run_id)


@router.patch(RUN)
def update_run(account: str, run_id: str, body: RunUpdate, ctx: Ctx) -> RunRead:
    """Change a run's status, end time or name."""
    return service.update_run(ctx, account, run_id, body)


@router.post(RUN + "/log", status_code=204)
def log_run_batch(account: str, run_id: str, body: RunLog, ctx: Ctx) -> Response:
    """Log metric points, params and tags to a run, all or nothing."""
    service.log_batch(ctx, account, run_id, body)
    return Response(status_code=204)


@router.get(RUN + "/metrics")
def get_metric_history(account: str, run_id: str, ctx: Ctx, page: PageDep,
                       key: str = Query(..., min_length=1, max_length=250)) -> MetricPage:
    """A metric's series, by step and time."""
    return service.metric_history(ctx, account, run_id, key, page=page)


@router.post(RUN + "/inputs")
def log_run_input(account: str, run_id: str, body: RunInputCreate, ctx: Ctx) -> RunRead:
    """Record a lake table and the snapshot a run read."""
    return service.log_input(ctx, account, run_id, body)


ARTIFACT_PATH = Query(..., min_length=1, max_length=1024,
                      description="Relative to the run's artifacts, e.g. `model/model.skops`.")


@router.put(RUN + "/artifacts/file")
def put_run_artifact(account: str, run_id: str, ctx: Ctx, path: str = ARTIFACT_PATH,
                     data: bytes = Body(b"", media_type="application/octet-stream"),
                     ) -> ArtifactRead:
    """Write a file among a run's artifacts (the path is relative to them)."""
    return service.put_artifact(ctx, account, path, data, run_id=run_id)


@router.get(RUN + "/artifacts/file", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The file's bytes."}})
def get_run_artifact(account: str, run_id: str, ctx: Ctx,
                     path: str = ARTIFACT_PATH) -> Response:
    """One of a run's artifact files."""
    return Response(service.get_artifact(ctx, account, path, run_id=run_id),
                    media_type="application/octet-stream")


@router.get(RUN + "/artifacts")
def list_run_artifacts(account: str, run_id: str, ctx: Ctx, page: PageDep,
                       path: str = Query("", max_length=1024)) -> Page[ArtifactRead]:
    """The files and directories directly under a path of a run's artifacts."""
    found = service.list_artifacts(ctx, account, path, run_id=run_id)
    return page_of_list(Page[ArtifactRead], found, page)
