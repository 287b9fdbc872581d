"""SDK part of experiment tracking: experiments, runs (`with client.runs.start(...) as
run:`), batch logging, search, comparison, lake inputs and run artifacts."""

from __future__ import annotations

import math
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from charter.experiments.schemas import (
    ArtifactRead,
    ExperimentRead,
    Metric,
    RunRead,
    RunSearchPage,
)
from charter.sdk._part import Pager, Part, new_idempotency_key, q

if TYPE_CHECKING:
    from charter.sdk.client import Client

_BATCH = 1000  # metric points a request carries (the server's limit per batch)


def _runs(account: str) -> str:
    return f"/v1/accounts/{q(account)}/runs"


def _number(value: float) -> float | str:
    """A metric value as JSON carries it: NaN and the infinities as strings."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _millis() -> int:
    return int(time.time() * 1000)


class Experiments(Part):
    """Experiments, named groups of runs in an account (`client.experiments`)."""

    def create(self, account: str, name: str, *,
               tags: dict[str, str] | None = None) -> ExperimentRead:
        """Create an experiment; its name is unique in the account."""
        return self._typed(ExperimentRead, "POST", f"/v1/accounts/{q(account)}/experiments",
                           json={"name": name, "tags": tags or {}},
                           idempotency_key=new_idempotency_key())

    def get(self, account: str, experiment_id: str) -> ExperimentRead:
        """One experiment, by id."""
        return self._typed(ExperimentRead, "GET",
                           f"/v1/accounts/{q(account)}/experiments/{q(experiment_id)}")

    def get_by_name(self, account: str, name: str) -> ExperimentRead:
        """One experiment, by name."""
        return self._typed(ExperimentRead, "GET",
                           f"/v1/accounts/{q(account)}/experiments/by-name",
                           params={"name": name})

    def list(self, account: str, *, limit: int = 100, offset: int = 0,
             cursor: str | None = None) -> Pager[ExperimentRead]:
        """The account's experiments, by id."""
        return self._pages(ExperimentRead, f"/v1/accounts/{q(account)}/experiments",
                           {"limit": limit, "offset": offset, "cursor": cursor})


class Runs(Part):
    """Runs of experiments (`client.runs`): start one as a context manager, log to it,
    search, compare, and read its artifacts back.

        with client.runs.start("team-a-dev", "churn") as run:
            run.log_params({"model": "rf"})
            data = client.lake.query("team-a-dev", "SELECT * FROM bank.customers")
            run.log_metric("acc", 0.91)

    A lake query made inside the block records the tables and snapshots it read as the
    run's inputs."""

    def start(self, account: str, experiment: str, *, name: str | None = None,
              tags: dict[str, str] | None = None) -> ActiveRun:
        """Start a run in `experiment` (an id, or a name: created when missing) and make
        it the client's active run until its block ends: FINISHED, or FAILED when the
        block raises."""
        if experiment.isdigit():
            experiment_id = experiment
        else:
            try:
                experiment_id = self._c.experiments.get_by_name(account, experiment).id
            except Exception as exc:
                if getattr(exc, "code", None) != "experiment_not_found":
                    raise
                experiment_id = self._c.experiments.create(account, experiment).id
        run = self.create(account, experiment_id, name=name, tags=tags)
        return ActiveRun(self, account, run)

    def create(self, account: str, experiment_id: str, *, name: str | None = None,
               tags: dict[str, str] | None = None, start_time: int | None = None,
               source: str | None = None, git_commit: str | None = None) -> RunRead:
        """Create a run (status RUNNING) without making it active."""
        return self._typed(RunRead, "POST", _runs(account), json={
            "experiment_id": experiment_id, "name": name, "tags": tags or {},
            "start_time": start_time, "source": source, "git_commit": git_commit},
            idempotency_key=new_idempotency_key())

    def get(self, account: str, run_id: str) -> RunRead:
        """A run with its params, latest metrics, tags and lake inputs."""
        return self._typed(RunRead, "GET", f"{_runs(account)}/{q(run_id)}")

    def list(self, account: str, *, experiment_id: str | None = None, limit: int = 100,
             offset: int = 0, cursor: str | None = None) -> Pager[RunRead]:
        """The account's active runs (of one experiment), newest first."""
        return self._pages(RunRead, _runs(account), {"experiment_id": experiment_id,
                                                     "limit": limit, "offset": offset,
                                                     "cursor": cursor})

    def search(self, account: str, experiment_ids: list[str], *, filter: str = "",
               order_by: list[str] | None = None, max_results: int = 1000,
               run_view_type: str = "ACTIVE_ONLY") -> list[RunRead]:
        """Runs matching `filter` (MLflow's grammar: `metrics.acc > 0.8 and params.model
        = 'rf'`), ordered by `order_by` (`["metrics.acc DESC"]`), up to `max_results`."""
        found: list[RunRead] = []
        token = None
        while len(found) < max_results:
            page = self.search_page(account, experiment_ids, filter=filter,
                                    order_by=order_by, max_results=max_results - len(found),
                                    page_token=token, run_view_type=run_view_type)
            found.extend(page.items)
            token = page.next_page_token
            if not token:
                break
        return found

    def search_page(self, account: str, experiment_ids: list[str], *, filter: str = "",
                    order_by: list[str] | None = None, max_results: int = 1000,
                    page_token: str | None = None,
                    run_view_type: str = "ACTIVE_ONLY") -> RunSearchPage:
        """One page of a search; pass its `next_page_token` for the next."""
        return self._typed(RunSearchPage, "POST", f"{_runs(account)}/search", json={
            "experiment_ids": [str(e) for e in experiment_ids], "filter": filter,
            "order_by": order_by or [], "max_results": max_results,
            "page_token": page_token, "run_view_type": run_view_type})

    def compare(self, account: str, run_ids: list[str]) -> list[RunRead]:
        """Several runs, in the order given, to set side by side."""
        return list(self._pages(RunRead, f"{_runs(account)}/compare",
                                {"run_id": list(run_ids), "limit": 1000}))

    def update(self, account: str, run_id: str, *, status: str | None = None,
               end_time: int | None = None, name: str | None = None) -> RunRead:
        """Change a run's status (FINISHED, FAILED, KILLED ...), end time or name."""
        return self._typed(RunRead, "PATCH", f"{_runs(account)}/{q(run_id)}", json={
            "status": status, "end_time": end_time, "name": name})

    def log_batch(self, account: str, run_id: str, *, metrics: list[dict[str, Any]] = (),
                  params: dict[str, Any] | None = None,
                  tags: dict[str, Any] | None = None) -> None:
        """Log metric points (`{key, value, step, timestamp}`), params and tags in one
        request, all or nothing; more than 1,000 points go in several."""
        points = [{"key": m["key"], "value": _number(m["value"]), "step": m.get("step", 0),
                   "timestamp": m.get("timestamp") or _millis()} for m in metrics]
        first = points[:_BATCH]
        self._c.request("POST", f"{_runs(account)}/{q(run_id)}/log", json={
            "metrics": first,
            "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
            "tags": [{"key": k, "value": str(v)} for k, v in (tags or {}).items()]})
        for i in range(_BATCH, len(points), _BATCH):
            self._c.request("POST", f"{_runs(account)}/{q(run_id)}/log",
                            json={"metrics": points[i:i + _BATCH]})

    def log_input(self, account: str, run_id: str, table: str, snapshot_id: int | str, *,
                  source_account: str | None = None) -> RunRead:
        """Record that a run read lake table `DB.TABLE` at a snapshot (in the catalog of
        `source_account`, default the run's account)."""
        return self._typed(RunRead, "POST", f"{_runs(account)}/{q(run_id)}/inputs", json={
            "table": table, "snapshot_id": str(snapshot_id), "source_account": source_account})

    def metric_history(self, account: str, run_id: str, key: str, *, limit: int = 1000,
                       offset: int = 0) -> Pager[Metric]:
        """A metric's series, by step and time."""
        return self._pages(Metric, f"{_runs(account)}/{q(run_id)}/metrics",
                           {"key": key, "limit": limit, "offset": offset})

    def artifacts(self, account: str, run_id: str, path: str = "", *,
                  limit: int = 1000) -> Pager[ArtifactRead]:
        """The files and directories directly under `path` of a run's artifacts."""
        return self._pages(ArtifactRead, f"{_runs(account)}/{q(run_id)}/artifacts",
                           {"path": path or None, "limit": limit})

    def upload(self, account: str, run_id: str, local_path: str | Path,
               artifact_path: str | None = None) -> list[ArtifactRead]:
        """Upload a file, or a directory's files, into a run's artifacts (under
        `artifact_path`, a directory relative to them)."""
        source = Path(local_path)
        files = [source] if source.is_file() else sorted(
            p for p in source.rglob("*") if p.is_file())
        written = []
        for file in files:
            relative = file.name if file == source else file.relative_to(source).as_posix()
            target = f"{artifact_path.strip('/')}/{relative}" if artifact_path else relative
            written.append(self._typed(
                ArtifactRead, "PUT", f"{_runs(account)}/{q(run_id)}/artifacts/file",
                params={"path": target}, content=file.read_bytes()))
        return written

    def download(self, account: str, run_id: str, path: str, dest: str | Path) -> Path:
        """Download one artifact file, or a directory of them, into `dest` (a directory);
        returns the local path of what `path` names."""
        dest = Path(dest)
        entries = list(self.artifacts(account, run_id, path))
        local = dest / Path(path).name
        if not entries:
            data = self._c.request("GET", f"{_runs(account)}/{q(run_id)}/artifacts/file",
                                   params={"path": path}, raw=True)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
            return local
        for entry in entries:
            self.download(account, run_id, entry.path, local)
        return local


class ActiveRun:
    """A run being logged to, made by `client.runs.start(...)`; used as a context
    manager, it is the client's active run inside its block, and ends FINISHED (FAILED
    when the block raises)."""

    def __init__(self, runs: Runs, account: str, run: RunRead) -> None:
        self._runs, self.account, self.info = runs, account, run
        self.id = run.id

    @property
    def _client(self) -> Client:
        return self._runs._c

    def __enter__(self) -> ActiveRun:
        self._client.active_runs.append(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        stack = self._client.active_runs
        if self in stack:
            stack.remove(self)
        self.end("FINISHED" if kind is None else "FAILED")

    def end(self, status: str = "FINISHED") -> RunRead:
        """End the run with `status` (FINISHED, FAILED or KILLED)."""
        self.info = self._runs.update(self.account, self.id, status=status)
        return self.info

    def refresh(self) -> RunRead:
        """The run as the server has it now."""
        self.info = self._runs.get(self.account, self.id)
        return self.info

    def log_param(self, key: str, value: Any) -> None:
        """Log one param (a param cannot change once logged)."""
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        """Log several params."""
        self._runs.log_batch(self.account, self.id, params=params)

    def log_metric(self, key: str, value: float, *, step: int = 0,
                   timestamp: int | None = None) -> None:
        """Log one point of a metric's series."""
        self._runs.log_batch(self.account, self.id, metrics=[
            {"key": key, "value": value, "step": step, "timestamp": timestamp}])

    def log_metrics(self, metrics: dict[str, float], *, step: int = 0,
                    timestamp: int | None = None) -> None:
        """Log one point of several metrics at the same step."""
        at = timestamp or _millis()
        self._runs.log_batch(self.account, self.id, metrics=[
            {"key": k, "value": v, "step": step, "timestamp": at} for k, v in metrics.items()])

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag on the run."""
        self._runs.log_batch(self.account, self.id, tags={key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set several tags on the run."""
        self._runs.log_batch(self.account, self.id, tags=tags)

    def log_input(self, table: str, snapshot: int | str, *,
                  source_account: str | None = None) -> None:
        """Record that the run read lake table `DB.TABLE` at snapshot `snapshot`."""
        self.info = self._runs.log_input(self.account, self.id, table, snapshot,
                                         source_account=source_account)

    def log_artifact(self, local_path: str | Path,
                     artifact_path: str | None = None) -> list[ArtifactRead]:
        """Upload a file or directory into the run's artifacts."""
        return self._runs.upload(self.account, self.id, local_path, artifact_path)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} of experiment {self.info.experiment_id}>"


PARTS: dict[str, type[Part]] = {"experiments": Experiments, "runs": Runs}
