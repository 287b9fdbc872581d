"""MLflow's model registry: registered models, versions, aliases and tags, on Charter's
registry service; a version registered here awaits approval like any other."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from charter.api.mlflow import artifacts, shapes
from charter.api.mlflow.deps import MlflowCtx
from charter.api.mlflow.tracking import Tag
from charter.core.context import Context
from charter.core.pagination import MAX_LIMIT, PageParams
from charter.errors import Invalid, NotFound
from charter.experiments import service as experiments
from charter.registry import service
from charter.registry.schemas import ModelGroupCreate, ModelVersionCreate

router = APIRouter(prefix="/{account}/api/2.0/mlflow")


class ModelIn(BaseModel):
    name: str
    description: str | None = None
    tags: list[Tag] = []


class VersionIn(BaseModel):
    name: str
    source: str
    run_id: str | None = None
    model_id: str | None = None
    description: str | None = None
    tags: list[Tag] = []


class AliasRef(BaseModel):
    name: str
    alias: str


class AliasIn(AliasRef):
    version: str


class KeyIn(BaseModel):
    name: str
    key: str


class VersionKeyIn(KeyIn):
    version: str


class ModelTagIn(BaseModel):
    name: str
    key: str
    value: str = ""


class VersionTagIn(ModelTagIn):
    version: str


@router.post("/registered-models/create")
def create_registered_model(account: str, body: ModelIn, ctx: MlflowCtx) -> dict[str, Any]:
    """A model group (MLflow's registered model)."""
    made = service.create_group(ctx, account, ModelGroupCreate(
        name=body.name, description=body.description, tags=shapes.tag_dict(body.tags)))
    return {"registered_model": shapes.registered_model(made, None)}


@router.get("/registered-models/get")
def get_registered_model(account: str, ctx: MlflowCtx, name: str = Query(...)
                         ) -> dict[str, Any]:
    """A model group with its latest version, tags and aliases."""
    group = service.get_group(ctx, account, name)
    latest = (service.get_version(ctx, account, name, group.latest_version)
              if group.latest_version else None)
    return {"registered_model": shapes.registered_model(group, latest)}


@router.get("/registered-models/search")
def search_registered_models(account: str, ctx: MlflowCtx, filter: str = "",
                             max_results: int = Query(100, ge=1),
                             page_token: str | None = None) -> dict[str, Any]:
    """The account's model groups, a page at a time, or the one named by
    `name = '...'` (without their latest versions: get one for those)."""
    text, prompts = _without_prompt_clause(filter)
    if prompts:
        return {}  # prompts are not served
    name = shapes.name_filter(text, "registered models")
    if name is not None:
        try:
            found = [service.get_group(ctx, account, name)]
        except NotFound:
            return {}
        return {"registered_models": [shapes.registered_model(g, None) for g in found
                                      if g.tags.get(_PROMPT_TAG) != "true"]}
    page = service.list_groups(ctx, account, page=PageParams(
        limit=min(max_results, MAX_LIMIT), cursor=page_token))
    answer: dict[str, Any] = {"registered_models": [
        shapes.registered_model(g, None) for g in page.items
        if g.tags.get(_PROMPT_TAG) != "true"]}
    if page.next_cursor:
        answer["next_page_token"] = page.next_cursor
    return answer


@router.post("/registered-models/set-tag")
def set_registered_model_tag(account: str, body: ModelTagIn, ctx: MlflowCtx
                             ) -> dict[str, Any]:
    """Set a tag of a model group."""
    service.set_group_tag(ctx, account, body.name, body.key, body.value)
    return {}


@router.delete("/registered-models/delete-tag")
def delete_registered_model_tag(account: str, body: KeyIn, ctx: MlflowCtx) -> dict[str, Any]:
    """Remove a tag of a model group."""
    service.delete_group_tag(ctx, account, body.name, body.key)
    return {}


@router.post("/registered-models/alias")
def set_alias(account: str, body: AliasIn, ctx: MlflowCtx) -> dict[str, Any]:
    """Point an alias at a version."""
    service.set_alias(ctx, account, body.name, body.alias, _number(body.version))
    return {}


@router.get("/registered-models/alias")
def get_version_by_alias(account: str, ctx: MlflowCtx, name: str = Query(...),
                         alias: str = Query(...)) -> dict[str, Any]:
    """The version an alias points at."""
    found = service.get_version_by_alias(ctx, account, name, alias)
    return {"model_version": shapes.model_version(found)}


@router.delete("/registered-models/alias")
def delete_alias(account: str, body: AliasRef, ctx: MlflowCtx) -> dict[str, Any]:
    """Remove an alias."""
    service.delete_alias(ctx, account, body.name, body.alias)
    return {}


@router.post("/model-versions/create")
def create_model_version(account: str, body: VersionIn, ctx: MlflowCtx) -> dict[str, Any]:
    """A new version, READY at once, awaiting approval (PendingManualApproval)."""
    # The client's fields are checked before the source is looked up, so a refused input
    # is recorded as refused, not as the lookup that went before it.
    asked = ModelVersionCreate(source=body.source, run_id=body.run_id,
                               model_id=body.model_id or None, description=body.description,
                               tags=shapes.tag_dict(body.tags))
    source, run_id, model_id = _source(ctx, account, body)
    made = service.create_version(ctx, account, body.name, ModelVersionCreate.model_validate(
        {**asked.model_dump(), "source": source, "run_id": run_id, "model_id": model_id}))
    return {"model_version": shapes.model_version(made)}


@router.get("/model-versions/get")
def get_model_version(account: str, ctx: MlflowCtx, name: str = Query(...),
                      version: str = Query(...)) -> dict[str, Any]:
    """One version."""
    found = service.get_version(ctx, account, name, _number(version))
    return {"model_version": shapes.model_version(found)}


@router.get("/model-versions/get-download-uri")
def get_model_version_download_uri(account: str, ctx: MlflowCtx, name: str = Query(...),
                                   version: str = Query(...)) -> dict[str, Any]:
    """Where a version's files are read from (the artifact proxy, which checks each file
    against the digest recorded at registration)."""
    found = service.get_version(ctx, account, name, _number(version))
    return {"artifact_uri": shapes.artifact_uri(
        f"{artifacts.VERSIONS}/{found.group}/{found.version}")}


@router.get("/model-versions/search")
def search_model_versions(account: str, ctx: MlflowCtx, filter: str = "",
                          max_results: int = Query(100, ge=1),
                          page_token: str | None = None) -> dict[str, Any]:
    """The versions of the model group named by `name = '...'`, newest first."""
    name = shapes.name_filter(filter, "model versions")
    if name is None:
        raise Invalid("model versions are searched by their model's name: "
                      "name = '<registered model>'", code="invalid_filter")
    page = service.list_versions(ctx, account, name, page=PageParams(
        limit=min(max_results, MAX_LIMIT), cursor=page_token))
    answer: dict[str, Any] = {"model_versions": [shapes.model_version(v)
                                                 for v in page.items]}
    if page.next_cursor:
        answer["next_page_token"] = page.next_cursor
    return answer


@router.post("/model-versions/set-tag")
def set_model_version_tag(account: str, body: VersionTagIn, ctx: MlflowCtx
                          ) -> dict[str, Any]:
    """Set a tag of a version."""
    service.set_version_tag(ctx, account, body.name, _number(body.version), body.key,
                            body.value)
    return {}


@router.delete("/model-versions/delete-tag")
def delete_model_version_tag(account: str, body: VersionKeyIn, ctx: MlflowCtx
                             ) -> dict[str, Any]:
    """Remove a tag of a version."""
    service.delete_version_tag(ctx, account, body.name, _number(body.version), body.key)
    return {}


_PROMPT_TAG = "mlflow.prompt.is_prompt"
_PROMPT_CLAUSE = re.compile(
    r"\s*(?:^|\bAND\b)\s*tags?\.`mlflow\.prompt\.is_prompt`\s*(!=|=)\s*'true'\s*$",
    re.IGNORECASE)


def _without_prompt_clause(text: str) -> tuple[str, bool]:
    """The client adds "AND tag.`mlflow.prompt.is_prompt` != 'true'" to every search of
    registered models (MLflow keeps prompts there); the filter without it, and whether
    it asked for prompts instead."""
    match = _PROMPT_CLAUSE.search(text)
    if match is None:
        return text, False
    return text[:match.start()].strip(), match.group(1) == "="


def _number(version: str) -> int:
    number = shapes.version_number(version)
    if number is None:
        raise Invalid(f"version {version[:20]!r} is not a version number (1, 2, ...)",
                      code="invalid_version")
    return number


def _source(ctx: Context, account: str, body: VersionIn
            ) -> tuple[str, str | None, str | None]:
    """The artifact path under the account's root that the client's source names, the
    source run and the logged model: `models:/<model id>` (MLflow 3: the run is the logged
    model's), `runs:/<run id>/<path>` or `mlflow-artifacts:/...`. A version names a logged
    model only if its files are that model's, one of this account (the registry's
    create_version checks it, as it does for `/v1`)."""
    source, model_id = body.source, body.model_id or None
    if source.startswith("models:/m-"):
        named = source.removeprefix("models:/")
        if model_id not in (None, named):
            raise Invalid(f"model_id {model_id[:40]} is not the logged model the source "
                          f"names ({named[:40]})", code="model_id_not_of_source")
        model = experiments.get_logged_model(ctx, account, named)
        return (shapes.artifact_path(model.artifact_location),
                body.run_id or model.source_run_id, model.id)
    if source.startswith("runs:/"):
        run_id, _, sub = source.removeprefix("runs:/").partition("/")
        run = experiments.get_run(ctx, account, run_id)
        path = "/".join(p for p in (shapes.artifact_path(run.artifact_uri), sub.strip("/"))
                        if p)
        found: tuple[str, str | None] = (path, body.run_id or run.id)
    else:
        found = (shapes.artifact_path(source), body.run_id)
    return (*found, model_id)  # the registry checks that the files are the model's
