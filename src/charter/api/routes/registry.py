"""Registry routes: model groups, versions, tags, aliases, approval."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from charter.api.deps import Ctx, PageDep
from charter.registry import service
from charter.registry.schemas import (
    ModelAliasSet,
    ModelDecision,
    ModelGroupCreate,
    ModelGroupPage,
    ModelGroupRead,
    ModelTagSet,
    ModelVersionCreate,
    ModelVersionPage,
    ModelVersionRead,
)

router = APIRouter(prefix="/v1/accounts/{account}/registry/models", tags=["registry"])
GROUP = "/{group}"
VERSION = "/{group}/versions/{version}"
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="The version's number.")]
TagKey = Annotated[str, Query(min_length=1, max_length=250, description="The tag's key.")]


@router.post("", status_code=201)
def create_model_group(account: str, body: ModelGroupCreate, ctx: Ctx) -> ModelGroupRead:
    """Create a model group in an account."""
    return service.create_group(ctx, account, body)


@router.get("")
def list_model_groups(account: str, ctx: Ctx, page: PageDep) -> ModelGroupPage:
    """An account's model groups, by name."""
    return service.list_groups(ctx, account, page=page)


@router.get(GROUP)
def get_model_group(account: str, group: str, ctx: Ctx) -> ModelGroupRead:
    """A model group: tags, aliases and newest version."""
    return service.get_group(ctx, account, group)


@router.put(GROUP + "/tags")
def set_model_group_tag(account: str, group: str, body: ModelTagSet,
                        ctx: Ctx) -> ModelGroupRead:
    """Set a tag of a model group."""
    return service.set_group_tag(ctx, account, group, body.key, body.value)


@router.delete(GROUP + "/tags")
def delete_model_group_tag(account: str, group: str, key: TagKey,
                           ctx: Ctx) -> ModelGroupRead:
    """Remove a tag of a model group."""
    return service.delete_group_tag(ctx, account, group, key)


@router.put(GROUP + "/aliases/{alias}")
def set_model_alias(account: str, group: str, alias: str, body: ModelAliasSet,
                    ctx: Ctx) -> ModelGroupRead:
    """Point an alias of a model group at a version."""
    return service.set_alias(ctx, account, group, alias, body.version)


@router.delete(GROUP + "/aliases/{alias}")
def delete_model_alias(account: str, group: str, alias: str, ctx: Ctx) -> ModelGroupRead:
    """Remove an alias of a model group."""
    return service.delete_alias(ctx, account, group, alias)


@router.get(GROUP + "/aliases/{alias}")
def get_model_version_by_alias(account: str, group: str, alias: str,
                               ctx: Ctx) -> ModelVersionRead:
    """The version an alias points at."""
    return service.get_version_by_alias(ctx, account, group, alias)


@router.post(GROUP + "/versions", status_code=201)
def create_model_version(account: str, group: str, body: ModelVersionCreate,
                         ctx: Ctx) -> ModelVersionRead:
    """Register a new version of a model group from stored artifacts."""
    return service.create_version(ctx, account, group, body)


@router.get(GROUP + "/versions")
def list_model_versions(account: str, group: str, ctx: Ctx,
                        page: PageDep) -> ModelVersionPage:
    """A model group's versions, newest first."""
    return service.list_versions(ctx, account, group, page=page)


@router.get(VERSION)
def get_model_version(account: str, group: str, version: Version,
                      ctx: Ctx) -> ModelVersionRead:
    """One version: files, signature, metrics, lineage and approval."""
    return service.get_version(ctx, account, group, version)


@router.get(VERSION + "/file", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The file's bytes."}})
def get_model_version_file(account: str, group: str, version: Version, ctx: Ctx,
                           path: str = Query(min_length=1, max_length=1000, description=
                                             "The file's path under the version's source, "
                                             "e.g. `model.skops`.")) -> Response:
    """One file of a model version, after its sha256 was checked against the record."""
    return Response(service.get_version_file(ctx, account, group, version, path),
                    media_type="application/octet-stream")


@router.put(VERSION + "/tags")
def set_model_version_tag(account: str, group: str, version: Version, body: ModelTagSet,
                          ctx: Ctx) -> ModelVersionRead:
    """Set a tag of a model version."""
    return service.set_version_tag(ctx, account, group, version, body.key, body.value)


@router.delete(VERSION + "/tags")
def delete_model_version_tag(account: str, group: str, version: Version, key: TagKey,
                             ctx: Ctx) -> ModelVersionRead:
    """Remove a tag of a model version."""
    return service.delete_version_tag(ctx, account, group, version, key)


@router.post(VERSION + "/approve")
def approve_model_version(account: str, group: str, version: Version, body: ModelDecision,
                          ctx: Ctx) -> ModelVersionRead:
    """Approve a model version (the account's ML team lead only)."""
    return service.approve_version(ctx, account, group, version, body.reason)


@router.post(VERSION + "/reject")
def reject_model_version(account: str, group: str, version: Version, body: ModelDecision,
                         ctx: Ctx) -> ModelVersionRead:
    """Reject a model version (the account's ML team lead only)."""
    return service.reject_version(ctx, account, group, version, body.reason)
