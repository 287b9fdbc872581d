"""What the registry reads of the experiments domain: a version's source run (its latest
metrics and lake inputs) and the artifact table (the files under a source, with sha256).

At registration every read goes through `charter.experiments.service`, as a nested
operation of the registry's own: who registers a model must be allowed to read its run
and list its artifacts. The bytes of a file a version recorded are another matter: its
sha256 names them in the account's content-addressed artifact store, and the registry's
own operation reads them there, so reading a version's files asks for the registry's
permission only (an ML engineer deploys a model without reading experiments).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from charter.core.context import Context
from charter.core.storage import storage_errors
from charter.errors import Invalid, NotFound
from charter.experiments import service as experiments
from charter.registry.schemas import ModelFile, ModelLakeInput, ModelMetric

MAX_FILES = 1000  # a model folder holds a handful; more means the source is not a model


_MODEL_FOLDER = re.compile(r"([^/]+)/models/(m-[0-9a-f]{1,32})/artifacts")


@dataclass(frozen=True)
class RunFacts:
    metrics: list[ModelMetric]
    lake_inputs: list[ModelLakeInput]
    artifact_root: str | None = None  # `<experiment>/<run>/artifacts`


def run_facts(ctx: Context, account: str, run_id: str) -> RunFacts:
    """The run's latest metrics and the lake snapshots it read (NotFound `run_not_found`)."""
    run = experiments.get_run(ctx, account, run_id)
    return RunFacts(
        metrics=[ModelMetric(key=m.key, value=m.value, timestamp=m.timestamp, step=m.step)
                 for m in run.metrics],
        lake_inputs=[ModelLakeInput(account=i.account, table=i.table, snapshot_id=i.snapshot_id,
                               recorded_at=i.recorded_at) for i in run.inputs],
        artifact_root=experiments.run_artifact_path(run))


def check_source_of_run(ctx: Context, account: str, source: str, run_id: str,
                        facts: RunFacts) -> None:
    """`source` lies under the run's own artifacts, or under those of a logged model the
    run made (`<experiment>/models/<model>/artifacts`, the model's source run being the
    run); else Invalid `model_source_not_of_run`: a version records its run's metrics and
    lake inputs as its lineage, so its files must be that run's."""
    path = source.strip("/")
    if facts.artifact_root and _within(path, facts.artifact_root):
        return
    found = _MODEL_FOLDER.match(path)
    if found and _within(path, found.group(0)):
        model = experiments.get_logged_model(ctx, account, found.group(2))
        if model.source_run_id == run_id and model.experiment_id == found.group(1):
            return
    raise Invalid(f"the source {source[:300]} does not lie under the artifacts of run "
                  f"{run_id} nor of a logged model it made: a version's files are its "
                  "run's own", code="model_source_not_of_run", run_id=run_id)


def check_model_of_source(ctx: Context, account: str, source: str, model_id: str,
                          run_id: str | None) -> None:
    """`source` lies under the artifacts of logged model `model_id` of the account, made
    by `run_id` when one is given; else Invalid `model_id_not_of_source` (NotFound
    `logged_model_not_found` for a model the account does not have): a version names a
    logged model only if its files are that model's."""
    model = experiments.get_logged_model(ctx, account, model_id)
    root = f"{model.experiment_id}/models/{model.id}/artifacts"
    if not _within(source.strip("/"), root):
        raise Invalid(f"the source {source[:300]} does not lie under the artifacts of "
                      f"logged model {model.id}", code="model_id_not_of_source")
    if run_id is not None and model.source_run_id != run_id:
        raise Invalid(f"logged model {model.id} was not made by run {run_id}",
                      code="model_id_not_of_source")


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def source_files(ctx: Context, account: str, source: str) -> list[ModelFile]:
    """Every file under the artifact path `source` (paths relative to it), as the
    artifact table records them; NotFound `model_source_not_found` if there is none."""
    root = source.strip("/")
    files: list[ModelFile] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        for item in experiments.list_artifacts(ctx, account, folder):
            if item.is_dir:
                folders.append(item.path)
                continue
            files.append(ModelFile(path=item.path[len(root) + 1:], size=item.size or 0,
                                    sha256=item.sha256 or ""))
            if len(files) > MAX_FILES:
                raise Invalid(f"{source} holds more than {MAX_FILES} files; register the "
                              "folder that holds the model itself", code="model_source_too_large")
    if not files:
        raise NotFound(f"no artifacts are stored under {source} in {account}",
                       code="model_source_not_found")
    return sorted(files, key=lambda f: f.path)


def read_recorded(ctx: Context, account: str, record: ModelFile) -> bytes:
    """The bytes a version recorded for a file, by their sha256 in the account's
    content-addressed artifact store (writing the run's path again later leaves them as
    they were), as stored: the caller checks them against the record. NotFound
    `artifact_not_found` if the store no longer holds them."""
    store = ctx.runtime.storage
    key = experiments.artifact_content_key(account, record.sha256)
    with storage_errors(store):
        try:
            return store.get_bytes(key)
        except NotFound:
            raise NotFound(f"the store of {account} holds no bytes with sha256 "
                           f"{record.sha256} (file {record.path})",
                           code="artifact_not_found") from None
