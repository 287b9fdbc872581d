"""Experiment tracking benchmark: MLflow's own client against Charter and against `mlflow server`.

The same script (bench/_mlflow_client.py) runs through the same MLflow client (mlflow
3.17.2, in its own virtual environment: MLflow's pins do not fit Charter's) against two
servers on this machine, one after the other, each alone:

- Charter: `charter server` (SQLite metadata store, one process), the client pointed at the
  account's MLflow tracking URI `http://HOST:PORT/mlflow/<account>` with a data
  scientist's token in MLFLOW_TRACKING_TOKEN: every call is authenticated, authorized by
  Cedar and written to the hash-chained audit trail (counted at the end);
- the peer: `mlflow server` from the same environment as the client, SQLite backend store,
  local artifact store, `--workers 1` (Charter's server is one uvicorn process).

Workloads (the client's docstring says exactly what it sends):
1. 1,000 metric points in one `MlflowClient.log_batch`, repeated: p50 of a call;
2. 100,000 metric points from one client, two ways: `MlflowClient.log_batch(run_id,
   metrics=...)` with all of them (the client cuts them into requests of 1,000), and
   `mlflow.log_metric(..., synchronous=False)` per point with
   MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1 (MLflow's background queue gathers the
   points into batches of up to 1,000); wall time until all are stored. Beside them, one
   synchronous `mlflow.log_metric` per call (p50): what a single request costs;
3. 30,000 runs (each made with `create_run` and one `log_batch` of 3 params and 2
   metrics, from 8 client threads), then `MlflowClient.search_runs` with
   `params.model = 'rf' and metrics.rmse < 0.5` ordered by `metrics.rmse ASC`: p50 of the
   first page of 100 and of 1,000 runs.

Target: Charter at least 3x as fast as MLflow on each (speedup = MLflow time / Charter
time). `--quick` runs small sizes; `--only search` (or `batch`, `points`; repeatable) runs
just those workloads. Charter's own time per request, from its access log, is
printed beside the table, to show how much of a call is the server's.

The MLflow client's environment is `.venv-mlflow` at the repository's root (`make
mlflow-client`), or the Python named by CHARTER_MLFLOW_PYTHON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from _common import Row, _free_port, print_table, server
from charter.api.app import create_app
from charter.platform.bootstrap import initialize
from charter.platform.runtime import build_runtime
from charter.sdk import Client
from charter.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CLIENT_SCRIPT = Path(__file__).resolve().parent / "_mlflow_client.py"
ACCOUNT, TEAM, USER = "team-bench-dev", "team-bench", "sam"
TARGET = 3.0
FULL = {"batch-repeat": 50, "points": 100_000, "singles": 1_000, "runs": 30_000,
        "threads": 8, "search-repeat": 10}
QUICK = {"batch-repeat": 10, "points": 5_000, "singles": 100, "runs": 500,
         "threads": 4, "search-repeat": 5}
WORKLOADS = ("batch", "points", "search")


def mlflow_python() -> Path:
    """The interpreter of the MLflow client's environment."""
    named = os.environ.get("CHARTER_MLFLOW_PYTHON")
    python = Path(named) if named else ROOT / ".venv-mlflow" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"no MLflow client environment at {python}: build it with "
                           "`make mlflow-client` (or name one in CHARTER_MLFLOW_PYTHON)")
    return python


def setup(home: Path) -> str:
    """A platform in `home` with team-bench's dev account and its data scientist; the
    data scientist's token."""
    runtime = build_runtime(Settings(home=home, database_url=None))
    try:
        token = initialize(runtime).admin_token
        assert token
        with Client(token=token, app=create_app(runtime=runtime)) as admin:
            admin.accounts.create(ACCOUNT, ou="/workloads/ml/nonprod", blueprint="ml-team-dev",
                                  tags={"owner": TEAM, "cost-center": "cc-4711"})
            admin.users.create(USER, groups=[f"{TEAM}-data-scientists"])
            return admin.tokens.create(user=USER)["token"]
    finally:
        runtime.close()


@contextmanager
def mlflow_server(python: Path, home: Path) -> Iterator[str]:
    """`mlflow server` (SQLite backend, local artifacts, one worker) on a free port."""
    port = _free_port()
    mlflow = python.parent / "mlflow"
    log = (home / "mlflow-server.log").open("wb")
    proc = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
         "--artifacts-destination", str(home / "mlartifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        cwd=home, stdout=log, stderr=subprocess.STDOUT, env=_clean_env())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError("mlflow server exited: "
                                   + (home / "mlflow-server.log").read_text()[-2000:])
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "CHARTER_", "PYTHONPATH"))}
    # MLflow's telemetry sets and unsets an environment variable from its own thread,
    # which a client thread reading the environment (requests does, for proxies) can meet
    # half-changed (KeyError): off, for the client and the server alike.
    return {**env, "MLFLOW_DISABLE_TELEMETRY": "true", **extra}


def run_client(python: Path, sizes: dict[str, int], uri: str, token: str | None,
               only: tuple[str, ...] = WORKLOADS) -> dict:
    """Run the workload script (the workloads `only` names) against `uri`; its timings."""
    args = [str(python), str(CLIENT_SCRIPT)]
    for key, value in sizes.items():
        args += [f"--{key}", str(value)]
    for workload in only:
        args += ["--only", workload]
    env = _clean_env(MLFLOW_TRACKING_URI=uri, MLFLOW_HTTP_REQUEST_TIMEOUT="600")
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=4 * 3600)
    if done.returncode != 0:
        raise RuntimeError(f"the MLflow client failed against {uri}:\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    summary = {k: round(_p50(v) if isinstance(v, list) else v, 4)
               for k, v in result.items() if k not in ("mlflow", "uri")}
    print(f"   (the client's run against {uri}: {time.perf_counter() - start:.0f} s; "
          f"seconds, p50 of lists: {summary})", flush=True)
    return result


def audited(home: Path) -> Counter[str]:
    """The data scientist's audit records by action and decision."""
    engine = create_engine(f"sqlite:///{home / 'charter.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT action, decision, count(*) FROM audit_events WHERE principal = :p "
                "GROUP BY action, decision"), {"p": USER}).all()
    finally:
        engine.dispose()
    return Counter({f"{action} ({decision})": n for action, decision, n in rows})


_LINE = re.compile(r" (GET|POST|PATCH|PUT|DELETE) (\S+) (\d{3}) ([\d.]+)ms ")


def server_times(log: Path) -> dict[str, list[float]]:
    """Charter's own milliseconds per request, from its access log, by method and
    endpoint (ids and query strings cut off)."""
    out: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        match = _LINE.search(line)
        if match and "/mlflow/" in match.group(2):
            path = match.group(2).split("?")[0]
            endpoint = path.split("/api/", 1)[-1]
            out[f"{match.group(1)} {endpoint}"].append(float(match.group(4)))
    return out


def _p50(samples: list[float]) -> float:
    return statistics.median(samples)


def rows(charter: dict, peer: dict, sizes: dict[str, int],
         only: tuple[str, ...] = WORKLOADS) -> list[Row]:
    def row(label: str, key: str, unit: str, scale: float, target: bool = True) -> Row:
        mine, theirs = charter[key], peer[key]
        if isinstance(mine, list):
            mine, theirs = _p50(mine), _p50(theirs)
        mine, theirs = mine * scale, theirs * scale
        return Row(label, mine, theirs, unit, f">= {TARGET:.0f}x" if target else "-",
                   theirs / mine >= TARGET if target else None)

    points, runs = f"{sizes['points']:,}", f"{sizes['runs']:,}"
    out: list[Row] = []
    if "batch" in only:
        out += [row("log_batch of 1,000 metrics, p50", "batch_1000", "ms", 1e3)]
    if "points" in only:
        out += [row(f"{points} points, log_batch (1,000 a request)", "points_log_batch", "s", 1),
                row(f"{points} points, log_metric async (batched)", "points_async", "s", 1),
                row("one log_metric call, p50", "log_metric_single", "ms", 1e3, target=False)]
    if "search" in only:
        out += [row(f"making {runs} runs (2 calls each)", "make_runs", "s", 1, target=False),
                row(f"search {runs} runs, first 100, p50", "search_100", "ms", 1e3),
                row(f"search {runs} runs, first 1,000, p50", "search_1000", "ms", 1e3)]
    return out


def main(quick: bool = False, only: tuple[str, ...] = WORKLOADS) -> None:
    python = mlflow_python()
    sizes = QUICK if quick else FULL
    print(f"   (load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="charter-bench-tracking-") as tmp:
        peer_home, home = Path(tmp) / "mlflow", Path(tmp) / "charter"
        peer_home.mkdir()
        home.mkdir()
        with mlflow_server(python, peer_home) as url:
            peer = run_client(python, sizes, url, None, only)
        token = setup(home)
        log = home / "server.log"
        with server(str(home), log=log) as url:
            mine = run_client(python, sizes, f"{url}/mlflow/{ACCOUNT}", token, only)
        print(f"   (load average after: {os.getloadavg()[0]:.1f}; MLflow client "
              f"{peer['mlflow']}; {mine.get('search_matches', 0):,} runs match the search)",
              flush=True)
        print_table("The same MLflow client against Charter and against mlflow server",
                    f"charter server, SQLite, 1 process; account {ACCOUNT}, a data scientist's "
                    "token: authorized and audited",
                    "mlflow server, SQLite backend, --workers 1", rows(mine, peer, sizes, only),
                    speedup=True)
        if "points" in only:
            print("   log_metric async: the MLflow client's own queue sets the pace (its work "
                  "per point, the same against either server); the server's share of it is "
                  "the log-batch requests' time below.")
        times = server_times(log)
        print("\n   Charter's own time per request (its access log), p50 and count:")
        for endpoint, samples in sorted(times.items(), key=lambda kv: -sum(kv[1])):
            print(f"     {endpoint:<55} {_p50(samples):8.1f} ms  x {len(samples):,}")
        records = audited(home)
        print(f"\n   audit records of the data scientist: {sum(records.values()):,} "
              f"(requests in the access log: {sum(len(s) for s in times.values()):,})")
        for action, n in records.most_common():
            print(f"     {action:<55} {n:,}")


def _arguments() -> tuple[bool, tuple[str, ...]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", choices=WORKLOADS, action="append",
                        help="run just this workload (repeatable); all by default")
    args = parser.parse_args()
    return args.quick, tuple(args.only or WORKLOADS)


if __name__ == "__main__":
    main(*_arguments())
