"""MLflow 3's logged models (a model's artifacts and metadata before it is registered) and
a run's outputs, on Charter's experiments service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from charter.api.mlflow import shapes
from charter.api.mlflow.deps import MlflowCtx
from charter.api.mlflow.tracking import RunRef, Tag
from charter.core.pagination import MAX_LIMIT, PageParams
from charter.errors import Invalid
from charter.experiments import service
from charter.experiments.schemas import LoggedModelCreate, LoggedModelUpdate

router = APIRouter(prefix="/{account}/api/2.0/mlflow")


class ModelIn(BaseModel):
    experiment_id: str
    name: str
    source_run_id: str | None = None
    model_type: str | None = None
    params: list[Tag] = []
    tags: list[Tag] = []


class StatusIn(BaseModel):
    status: str


class TagsIn(BaseModel):
    tags: list[Tag] = []


# As many experiments as a search of runs takes (and as many logged models as a run's
# outputs): each is a bound parameter of one query, or one operation, of this request.
MAX_ITEMS = 100


class ModelSearchIn(BaseModel):
    experiment_ids: list[str] = Field([], max_length=MAX_ITEMS)
    filter: str = ""
    max_results: int = Field(MAX_LIMIT, ge=1)
    page_token: str | None = None


class ModelOutput(BaseModel):
    model_id: str
    step: int = 0


class OutputsIn(RunRef):
    models: list[ModelOutput] = Field([], max_length=MAX_ITEMS)


@router.post("/logged-models")
def create_logged_model(account: str, body: ModelIn, ctx: MlflowCtx) -> dict[str, Any]:
    """A logged model, PENDING until its artifacts are up."""
    made = service.create_logged_model(ctx, account, LoggedModelCreate(
        experiment_id=body.experiment_id, name=body.name, source_run_id=body.source_run_id,
        model_type=body.model_type, params=shapes.tag_dict(body.params),
        tags=shapes.tag_dict(body.tags)))
    return {"model": shapes.logged_model(made)}


@router.get("/logged-models/{model_id}")
def get_logged_model(account: str, model_id: str, ctx: MlflowCtx) -> dict[str, Any]:
    """A logged model."""
    return {"model": shapes.logged_model(service.get_logged_model(ctx, account, model_id))}


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(account: str, model_id: str, body: StatusIn, ctx: MlflowCtx
                          ) -> dict[str, Any]:
    """Mark a logged model READY (its artifacts are up) or FAILED."""
    status = shapes.MODEL_STATUS_IN.get(body.status)
    if status is None:
        raise Invalid(f"status {body.status!r} is not one of "
                      f"{', '.join(sorted(shapes.MODEL_STATUS_IN))}", code="invalid_status")
    changed = service.update_logged_model(ctx, account, model_id,
                                          LoggedModelUpdate(status=status))
    return {"model": shapes.logged_model(changed)}


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(account: str, model_id: str, body: TagsIn, ctx: MlflowCtx
                          ) -> dict[str, Any]:
    """Set tags of a logged model."""
    service.set_logged_model_tags(ctx, account, model_id, shapes.tag_dict(body.tags))
    return {}


@router.post("/logged-models/search")
def search_logged_models(account: str, body: ModelSearchIn, ctx: MlflowCtx
                         ) -> dict[str, Any]:
    """Logged models of the given experiments, optionally by name (the one filter the
    client sends: `name = '<name>'`)."""
    name = shapes.name_filter(body.filter, "logged models")
    params = PageParams(limit=min(body.max_results, MAX_LIMIT), cursor=body.page_token)
    page = service.search_logged_models(ctx, account, body.experiment_ids, page=params)
    if name is None:
        found, token = page.items, page.next_cursor
    else:
        # The service searches without a name; its pages are read through here, so the
        # answer is every model of that name, on one page.
        found, token = [m for m in page.items if m.name == name], None
        while page.next_cursor:
            page = service.search_logged_models(ctx, account, body.experiment_ids,
                                                page=PageParams(limit=MAX_LIMIT,
                                                                cursor=page.next_cursor))
            found += [m for m in page.items if m.name == name]
    answer: dict[str, Any] = {"models": [shapes.logged_model(m) for m in found]}
    if token:
        answer["next_page_token"] = token
    return answer


@router.post("/runs/outputs")
def log_outputs(account: str, body: OutputsIn, ctx: MlflowCtx) -> dict[str, Any]:
    """A run's output models: a logged model already names the run it came from, so this
    checks that both exist in the account and that the model is the run's."""
    run = service.get_run(ctx, account, body.id)
    for model_id in dict.fromkeys(o.model_id for o in body.models):  # each model once
        model = service.get_logged_model(ctx, account, model_id)
        if model.source_run_id not in (None, run.id):
            raise Invalid(f"logged model {model.id} comes from run {model.source_run_id}, "
                          f"not {run.id}", code="model_of_another_run")
    return {}
