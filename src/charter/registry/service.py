"""Registry service: model groups per account, their versions numbered from 1, tags,
aliases, and approval by the account's ML team lead.

Key contracts:
- Version numbers are taken under a lock on the group (`core.db.lock`, and the group's
  row read for update): two versions created at once never get the same number, and
  numbers are never reused.
- A version's source lies under its run's own artifacts (or a logged model's the run
  made), else `model_source_not_of_run`; a version that names a logged model lies under
  that model's artifacts (and the model is its run's), else `model_id_not_of_source`.
- A version records, when it is registered, every file under its source with the sha256
  the artifact table holds, the source run's latest metrics and its lake inputs; its
  files are read by that sha256 (the artifact store is content addressed), so writing
  the run's paths again later leaves a version's files as they were. A skops
  file among them must hold only trusted types (`artifacts.check_types`), else nothing
  is registered (`untrusted_type`); an ONNX file among them must be an ONNX model
  (`invalid_model_file`).
- ModelApproval status moves between `PendingManualApproval`, `Approved` and `Rejected`, as in
  MLflow and SageMaker: an approved version can be rejected later and the other way
  round. Each change records who, when and why and emits exactly one event
  (`ModelVersionApproved` / `ModelVersionRejected`); asking for the status a version
  already has changes nothing, emits nothing and answers the version as it is. Both take
  an idempotency key: a retried decision answers its first result and changes nothing,
  even after a later decision.
- Only a principal holding ml-team-lead in the version's account may approve or reject
  (`_cedar`): a permit, and a forbid that no other permission set, cloud-admin included,
  overrides (separation of duties).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from charter.access.authorizer import Fragment, Target, register_source
from charter.access.idempotency import idempotent
from charter.access.pipeline import emit, operation
from charter.core.clock import now
from charter.core.context import Context
from charter.core.db import lock
from charter.core.ids import crn
from charter.core.lookup import require
from charter.core.pagination import PageParams, page_of, paginate
from charter.core.text import invalid_text, refused
from charter.errors import Conflict, Invalid
from charter.org import service as org
from charter.registry import _sources, artifacts
from charter.registry.orm import ModelAlias, ModelGroup, ModelVersion
from charter.registry.schemas import (
    MAX_REASON,
    ModelApproval,
    ModelFile,
    ModelGroupCreate,
    ModelGroupPage,
    ModelGroupRead,
    ModelLakeInput,
    ModelMetric,
    ModelSignature,
    ModelVersionCreate,
    ModelVersionPage,
    ModelVersionRead,
)

PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"
_GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,254}")
_RESERVED_ALIAS = re.compile(r"latest|v[0-9]+", re.IGNORECASE)
MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS = 250, 5000, 100


# -- Cedar: only the account's ML team lead decides ------------------------------------

_TEAM_LEAD = ('resource is Account && principal has roles && principal.roles has '
              '"ml-team-lead" && principal.roles["ml-team-lead"].contains(resource.name)')
_DECISIONS = ('[Action::"registry:ApproveModelVersion", '
              'Action::"registry:RejectModelVersion"]')
_POLICIES = f"""@id("registry:team-lead-decides")
permit(principal, action in {_DECISIONS}, resource) when {{ {_TEAM_LEAD} }};
@id("registry:only-team-lead-decides")
forbid(principal, action in {_DECISIONS}, resource) unless {{ {_TEAM_LEAD} }};"""


def _cedar(session: Session) -> Fragment:
    return Fragment(policies=[_POLICIES], explanations={
        "registry:only-team-lead-decides": "only a holder of ml-team-lead in the model's "
        "account approves or rejects its versions (separation of duties)"})


register_source("registry", _cedar)


# -- names, targets, lookups -----------------------------------------------------------

def _group_crn(account: str, name: str) -> str:
    return crn(account, "registry", "model-group", name)


def _version_crn(account: str, group: str, version: int) -> str:
    return crn(account, "registry", "model-version", f"{group}/{version}")


def _group_target(ctx: Context, account: str, name: str, *a: Any, **k: Any) -> Target:
    return org.target_in_account(ctx.db, account, _group_crn(account, name))


def _version_target(ctx: Context, account: str, group: str, version: int, *a: Any,
                    **k: Any) -> Target:
    return org.target_in_account(ctx.db, account, _version_crn(account, group, version))


def check_group_name(name: str) -> str:
    if not _GROUP_NAME.fullmatch(name or ""):
        raise Invalid(f"invalid model group name {name!r}: use 1-63 letters, digits, '.', "
                      "'_' and '-', starting with a letter or digit",
                      code="invalid_model_group_name")
    return name


def _check_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} tags", code="too_many_tags")
    for key, value in tags.items():
        _check_tag(key, value)
    return dict(tags)


def _check_tag(key: str, value: str | None = None) -> None:
    if not key or len(key) > MAX_TAG_KEY or (value is not None and len(value) > MAX_TAG_VALUE):
        raise Invalid(f"a tag key has 1-{MAX_TAG_KEY} characters and its value at most "
                      f"{MAX_TAG_VALUE}", code="invalid_tag")
    if refused(key) or (value is not None and refused(value)):
        raise invalid_text("tag")


def _require_group(ctx: Context, account: str, name: str, *,
                   for_update: bool = False) -> ModelGroup:
    org.require_account(ctx.db, account)
    check_group_name(name)
    found = ctx.db.get(ModelGroup, (account, name), with_for_update=for_update,
                       populate_existing=for_update)
    return require(found, f"model group {name!r} of {account}", code="model_group_not_found")


def _require_version(ctx: Context, account: str, group: str, version: int, *,
                     for_update: bool = False) -> ModelVersion:
    _require_group(ctx, account, group)
    found = ctx.db.get(ModelVersion, (account, group, version), with_for_update=for_update,
                       populate_existing=for_update)
    return require(found, f"version {version} of model group {group!r} of {account}",
                   code="model_version_not_found")


def _aliases(ctx: Context, account: str, groups: list[str]) -> list[ModelAlias]:
    """The aliases of `groups` of an account, by alias (one query)."""
    if not groups:
        return []
    return list(ctx.db.scalars(select(ModelAlias).where(
        ModelAlias.account == account, ModelAlias.group.in_(groups)
    ).order_by(ModelAlias.alias)))


def _group_read(ctx: Context, g: ModelGroup,
                aliases: list[ModelAlias] | None = None) -> ModelGroupRead:
    if aliases is None:
        aliases = _aliases(ctx, g.account, [g.name])
    return ModelGroupRead(name=g.name, account=g.account, crn=_group_crn(g.account, g.name),
                          description=g.description, tags=g.tags,
                          aliases={a.alias: a.version for a in aliases},
                          latest_version=g.latest_version or None, created_by=g.created_by,
                          created_at=g.created_at, updated_at=g.updated_at)


def _version_read(v: ModelVersion, aliases: Iterable[str]) -> ModelVersionRead:
    approval = (ModelApproval(by=v.approved_by, at=v.approved_at,
                              reason=v.approval_reason or "")
                if v.approved_by and v.approved_at else None)
    return ModelVersionRead(
        group=v.group, account=v.account, version=v.version,
        crn=_version_crn(v.account, v.group, v.version), status="READY",
        approval_status=v.approval_status, approval=approval, source=v.source,
        run_id=v.run_id, model_id=v.model_id, description=v.description,
        files=[ModelFile.model_validate(f) for f in v.files["files"]],
        flavor=v.flavor,
        signature=ModelSignature.model_validate(v.signature) if v.signature else None,
        metrics=[ModelMetric.model_validate(m) for m in v.metrics["metrics"]],
        lake_inputs=[ModelLakeInput.model_validate(i) for i in v.lake_inputs["inputs"]],
        tags=v.tags, aliases=sorted(aliases), created_by=v.created_by,
        created_at=v.created_at)


def _read_version(ctx: Context, v: ModelVersion) -> ModelVersionRead:
    aliases = ctx.db.scalars(select(ModelAlias.alias).where(
        ModelAlias.account == v.account, ModelAlias.group == v.group,
        ModelAlias.version == v.version))
    return _version_read(v, aliases)


# -- groups ----------------------------------------------------------------------------

@operation("registry:CreateModelGroup", "write",
           target=lambda ctx, account, body: _group_target(ctx, account, body.name))
@idempotent
def create_group(ctx: Context, account: str, body: ModelGroupCreate) -> ModelGroupRead:
    """Create a model group in an account."""
    org.require_account(ctx.db, account)
    check_group_name(body.name)
    tags = _check_tags(body.tags)
    # Held to the commit: of parallel creations of one name, the first makes it and the
    # others find it (model_group_exists), never the unique index (a 500).
    lock(ctx.db, f"registry.groups:{account}/{body.name}")
    if ctx.db.get(ModelGroup, (account, body.name)) is not None:
        raise Conflict(f"model group {body.name!r} already exists in {account}",
                       code="model_group_exists")
    at = now()
    group = ModelGroup(account=account, name=body.name, description=body.description,
                       tags=tags, latest_version=0, created_by=ctx.principal.name,
                       created_at=at, updated_at=at)
    ctx.db.add(group)
    ctx.db.flush()
    return _group_read(ctx, group)


@operation("registry:DescribeModelGroup", "read", target=_group_target, read_only=True)
def get_group(ctx: Context, account: str, name: str) -> ModelGroupRead:
    """A model group: its tags, aliases and newest version."""
    return _group_read(ctx, _require_group(ctx, account, name))


@operation("registry:ListModelGroups", "read", read_only=True,
           target=lambda ctx, account, **k: _group_target(ctx, account, "*"))
def list_groups(ctx: Context, account: str, *, page: PageParams | None = None) -> ModelGroupPage:
    """An account's model groups, by name (one page)."""
    org.require_account(ctx.db, account)
    query = select(ModelGroup).where(ModelGroup.account == account)

    def read(rows: list[ModelGroup]) -> list[ModelGroupRead]:
        found: dict[str, list[ModelAlias]] = {}
        for alias in _aliases(ctx, account, [g.name for g in rows]):
            found.setdefault(alias.group, []).append(alias)
        return [_group_read(ctx, g, found.get(g.name, [])) for g in rows]

    return page_of(ModelGroupPage, ctx.db, query, key=(ModelGroup.name,), params=page,
                   read=read)


@operation("registry:UpdateModelGroupTags", "write", target=_group_target)
def update_group_tags(ctx: Context, account: str, name: str, *,
                      set_tags: dict[str, str] | None = None,
                      remove: list[str] | None = None) -> ModelGroupRead:
    """Set and remove tags of a model group."""
    group = _require_group(ctx, account, name, for_update=True)
    tags = dict(group.tags)
    for key in remove or []:
        _check_tag(key)
        tags.pop(key, None)
    tags.update(set_tags or {})
    group.tags = _check_tags(tags)
    group.updated_at = now()
    return _group_read(ctx, group)


def set_group_tag(ctx: Context, account: str, name: str, key: str, value: str) -> ModelGroupRead:
    """Set one tag of a model group."""
    return update_group_tags(ctx, account, name, set_tags={key: value})


def delete_group_tag(ctx: Context, account: str, name: str, key: str) -> ModelGroupRead:
    """Remove one tag of a model group (no error if it has none)."""
    return update_group_tags(ctx, account, name, remove=[key])


@operation("registry:UpdateModelAliases", "write", target=_group_target)
def update_aliases(ctx: Context, account: str, name: str, *,
                   set_aliases: dict[str, int] | None = None,
                   remove: list[str] | None = None) -> ModelGroupRead:
    """Point aliases of a model group at versions, and remove aliases."""
    group = _require_group(ctx, account, name, for_update=True)
    for alias in remove or []:
        _check_alias(alias)
        ctx.db.execute(delete(ModelAlias).where(
            ModelAlias.account == account, ModelAlias.group == name, ModelAlias.alias == alias))
    for alias, version in (set_aliases or {}).items():
        _check_alias(alias)
        _require_version(ctx, account, name, version)
        row = ctx.db.get(ModelAlias, (account, name, alias))
        if row is None:
            ctx.db.add(ModelAlias(account=account, group=name, alias=alias, version=version))
        else:
            row.version = version
    group.updated_at = now()
    ctx.db.flush()
    return _group_read(ctx, group)


def _check_alias(alias: str) -> None:
    if not _ALIAS.fullmatch(alias or "") or _RESERVED_ALIAS.fullmatch(alias):
        raise Invalid(f"invalid alias {alias!r}: use letters, digits, '_' and '-', starting "
                      "with a letter or '_'; 'latest' and 'v<number>' are reserved",
                      code="invalid_alias")


def set_alias(ctx: Context, account: str, name: str, alias: str, version: int) -> ModelGroupRead:
    """Point `alias` of a model group at `version`."""
    return update_aliases(ctx, account, name, set_aliases={alias: version})


def delete_alias(ctx: Context, account: str, name: str, alias: str) -> ModelGroupRead:
    """Remove `alias` of a model group (no error if it has none)."""
    return update_aliases(ctx, account, name, remove=[alias])


@operation("registry:DescribeModelVersionByAlias", "read", target=_group_target,
           read_only=True)
def get_version_by_alias(ctx: Context, account: str, name: str, alias: str) -> ModelVersionRead:
    """The version an alias of a model group points at."""
    _require_group(ctx, account, name)
    row = require(ctx.db.get(ModelAlias, (account, name, alias)),
                  f"alias {alias!r} of model group {name!r}", code="model_alias_not_found")
    return _read_version(ctx, _require_version(ctx, account, name, row.version))


# -- versions --------------------------------------------------------------------------

@operation("registry:CreateModelVersion", "write",
           target=lambda ctx, account, group, body: _group_target(ctx, account, group))
@idempotent
def create_version(ctx: Context, account: str, group: str,
                   body: ModelVersionCreate) -> ModelVersionRead:
    """Register a new version of a model group from stored artifacts."""
    _require_group(ctx, account, group)
    tags = _check_tags(body.tags)
    if body.run_id is None:
        facts = _sources.RunFacts(metrics=[], lake_inputs=[])
    else:
        facts = _sources.run_facts(ctx, account, body.run_id)
        _sources.check_source_of_run(ctx, account, body.source, body.run_id, facts)
    if body.model_id is not None:
        _sources.check_model_of_source(ctx, account, body.source, body.model_id,
                                       body.run_id)
    files = _sources.source_files(ctx, account, body.source)
    flavor = _flavor(ctx, account, body.source, files)
    # The number last: the lock is held from here to the commit, so it is held briefly.
    lock(ctx.db, f"registry.versions:{account}/{group}")
    row = _require_group(ctx, account, group, for_update=True)
    row.latest_version += 1
    row.updated_at = at = now()
    version = ModelVersion(
        account=account, group=group, version=row.latest_version, status="READY",
        approval_status=PENDING, approved_by=None, approved_at=None, approval_reason=None,
        source=body.source.strip("/"), run_id=body.run_id, model_id=body.model_id,
        description=body.description, flavor=flavor,
        files={"files": [f.model_dump(mode="json") for f in files]},
        signature=body.signature.model_dump(mode="json") if body.signature else None,
        metrics={"metrics": [m.model_dump(mode="json") for m in facts.metrics]},
        lake_inputs={"inputs": [i.model_dump(mode="json") for i in facts.lake_inputs]},
        tags=tags, created_by=ctx.principal.name, created_at=at)
    ctx.db.add(version)
    ctx.db.flush()
    emit(ctx, "ModelVersionCreated", account, {
        "group": group, "version": version.version, "crn": _version_crn(account, group,
                                                                       version.version),
        "source": version.source, "run_id": body.run_id, "flavor": flavor})
    return _version_read(version, [])


def _flavor(ctx: Context, account: str, source: str, files: list[ModelFile]) -> str:
    """`mlflow` for an MLflow model folder, else `skops`; every skops file in it must hold
    only trusted types and every ONNX file must be a valid ONNX model, checked on the
    bytes whose sha256 the version records."""
    names = {f.path for f in files}
    skops_files = [f for f in files if f.path.endswith(".skops")]
    if artifacts.MLFLOW_FILE not in names and artifacts.SKOPS_FILE not in names:
        raise Invalid(f"{source} holds neither {artifacts.SKOPS_FILE} nor an MLflow model "
                      f"({artifacts.MLFLOW_FILE})", code="unknown_model_format")
    for record in skops_files:
        data = artifacts.verify(_sources.read_recorded(ctx, account, record), record)
        artifacts.check_types(data, path=record.path)
    for record in (f for f in files if f.path.endswith(".onnx")):
        data = artifacts.verify(_sources.read_recorded(ctx, account, record), record)
        artifacts.check_onnx(data, path=record.path)
    return "mlflow" if artifacts.MLFLOW_FILE in names else "skops"


@operation("registry:DescribeModelVersion", "read", target=_version_target, read_only=True)
def get_version(ctx: Context, account: str, group: str, version: int) -> ModelVersionRead:
    """One version of a model group: files, signature, metrics, lineage and approval."""
    return _read_version(ctx, _require_version(ctx, account, group, version))


@operation("registry:DescribeModelVersionFile", "read", target=_version_target,
           read_only=True)
def get_version_file(ctx: Context, account: str, group: str, version: int,
                     path: str) -> bytes:
    """The bytes of one file of a model version, checked against its recorded sha256.
    Whoever may describe the version may read them: no permission on the run's
    artifacts is asked for (`_sources.read_recorded`)."""
    row = _require_version(ctx, account, group, version)
    record = next((f for f in row.files["files"] if f["path"] == path), None)
    if record is None:
        raise artifacts.missing_file(group, version, path)
    if path.startswith("/") or any(p in ("", ".", "..") for p in path.split("/")):
        raise artifacts.missing_file(group, version, path)  # never recorded so
    found = ModelFile.model_validate(record)
    return artifacts.verify(_sources.read_recorded(ctx, account, found), found)


@operation("registry:ListModelVersions", "read", read_only=True,
           target=lambda ctx, account, group, **k: _group_target(ctx, account, group))
def list_versions(ctx: Context, account: str, group: str, *,
                  page: PageParams | None = None) -> ModelVersionPage:
    """A model group's versions, newest first (one page)."""
    _require_group(ctx, account, group)
    query = select(ModelVersion).where(ModelVersion.account == account,
                                       ModelVersion.group == group)

    def read(rows: list[ModelVersion]) -> list[ModelVersionRead]:
        found: dict[int, list[str]] = {}
        if rows:
            for alias in ctx.db.scalars(select(ModelAlias).where(
                    ModelAlias.account == account, ModelAlias.group == group,
                    ModelAlias.version.in_([r.version for r in rows]))):
                found.setdefault(alias.version, []).append(alias.alias)
        return [_version_read(r, found.get(r.version, [])) for r in rows]

    page = page or PageParams()
    found = paginate(ctx.db, query, key=(ModelVersion.version,), params=page, descending=True)
    return found.to_page(ModelVersionPage, read(found.rows), page)


@operation("registry:UpdateModelVersionTags", "write", target=_version_target)
def update_version_tags(ctx: Context, account: str, group: str, version: int, *,
                        set_tags: dict[str, str] | None = None,
                        remove: list[str] | None = None) -> ModelVersionRead:
    """Set and remove tags of a model version."""
    row = _require_version(ctx, account, group, version, for_update=True)
    tags = dict(row.tags)
    for key in remove or []:
        _check_tag(key)
        tags.pop(key, None)
    tags.update(set_tags or {})
    row.tags = _check_tags(tags)
    return _read_version(ctx, row)


def set_version_tag(ctx: Context, account: str, group: str, version: int, key: str,
                    value: str) -> ModelVersionRead:
    """Set one tag of a model version."""
    return update_version_tags(ctx, account, group, version, set_tags={key: value})


def delete_version_tag(ctx: Context, account: str, group: str, version: int,
                       key: str) -> ModelVersionRead:
    """Remove one tag of a model version (no error if it has none)."""
    return update_version_tags(ctx, account, group, version, remove=[key])


# -- approval --------------------------------------------------------------------------

@operation("registry:ApproveModelVersion", "write", target=_version_target)
@idempotent
def approve_version(ctx: Context, account: str, group: str, version: int,
                    reason: str) -> ModelVersionRead:
    """Approve a model version (the account's ML team lead only)."""
    return _decide(ctx, account, group, version, reason, APPROVED, "ModelVersionApproved")


@operation("registry:RejectModelVersion", "write", target=_version_target)
@idempotent
def reject_version(ctx: Context, account: str, group: str, version: int,
                   reason: str) -> ModelVersionRead:
    """Reject a model version (the account's ML team lead only)."""
    return _decide(ctx, account, group, version, reason, REJECTED, "ModelVersionRejected")


def _decide(ctx: Context, account: str, group: str, version: int, reason: str, status: str,
            event: str) -> ModelVersionRead:
    reason = _check_reason(reason)
    lock(ctx.db, f"registry.version:{account}/{group}/{version}")
    row = _require_version(ctx, account, group, version, for_update=True)
    if row.approval_status == status:  # asked again: nothing changes, nothing is emitted
        ctx.audit_details["unchanged"] = status
        return _read_version(ctx, row)
    previous = row.approval_status
    row.approval_status, row.approval_reason = status, reason
    row.approved_by, row.approved_at = ctx.principal.name, now()
    ctx.db.flush()
    emit(ctx, event, account, {
        "group": group, "version": version, "crn": _version_crn(account, group, version),
        "previous_status": previous, "status": status, "by": ctx.principal.name,
        "reason": reason})
    return _read_version(ctx, row)


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("give the reason for the decision", code="reason_required")
    if len(reason) > MAX_REASON:
        raise Invalid(f"the reason has {len(reason)} characters; at most {MAX_REASON}",
                      code="reason_too_long")
    if refused(reason):
        raise invalid_text("reason")
    return reason
