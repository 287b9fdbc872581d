"""What the registry reads of the experiments domain: a version's source run (its latest
metrics and lake inputs) and the artifact table (the files under a source, with sha256).

Every call goes through `charter.experiments.service`, as a nested operation of the
registry's own: the caller must be allowed to read the run and its artifacts too.
"""

from __future__ import annotations

from dataclasses import dataclass

from charter.core.context import Context
from charter.errors import Invalid, NotFound
from charter.experiments import service as experiments
from charter.registry.schemas import ModelFile, ModelLakeInput, ModelMetric

MAX_FILES = 1000  # a model folder holds a handful; more means the source is not a model


@dataclass(frozen=True)
class RunFacts:
    metrics: list[ModelMetric]
    lake_inputs: list[ModelLakeInput]


def run_facts(ctx: Context, account: str, run_id: str) -> RunFacts:
    """The run's latest metrics and the lake snapshots it read (NotFound `run_not_found`)."""
    run = experiments.get_run(ctx, account, run_id)
    return RunFacts(
        metrics=[ModelMetric(key=m.key, value=m.value, timestamp=m.timestamp, step=m.step)
                 for m in run.metrics],
        lake_inputs=[ModelLakeInput(account=i.account, table=i.table, snapshot_id=i.snapshot_id,
                               recorded_at=i.recorded_at) for i in run.inputs])


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


def read_file(ctx: Context, account: str, source: str, path: str) -> bytes:
    """The bytes of the file `path` under `source`."""
    return experiments.get_artifact(ctx, account, f"{source.strip('/')}/{path}")
