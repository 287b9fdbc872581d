"""The tracking workload as an MLflow user runs it: one script, MLflow's own Python client.

bench/tracking.py runs this file with the MLflow client's interpreter (its own virtual
environment: MLflow's pins do not fit Charter's), once against `mlflow server` and once
against Charter's MLflow tracking URI, with MLFLOW_TRACKING_URI (and for Charter
MLFLOW_TRACKING_TOKEN) set. It prints one JSON object of timings (seconds) on its last
line. It imports nothing of Charter.

Workloads (sizes from the command line):
- batch: `MlflowClient.log_batch` of 1,000 metric points (10 keys x 100 steps, a training
  loop's flush) into one run, repeated; each call timed.
- points: 100,000 metric points (10 keys x 10,000 steps) from one client, sent the two
  ways a real client sends many: `MlflowClient.log_batch(run_id, metrics=all_points)`,
  which the client itself cuts into requests of 1,000 metrics, and
  `mlflow.log_metric(..., synchronous=False)` per point with
  MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1, so that MLflow's background queue gathers the
  points into batches of up to 1,000 (without it, the queue sends one request per point),
  timed up to `mlflow.flush_async_logging()`. Also one point per
  `mlflow.log_metric(...)` call (synchronous, the default), for a number of calls, each
  timed: what every single request costs.
- search: RUNS runs made through the same client (`create_run`, then one `log_batch` with
  their params and metrics, from THREADS threads), then `MlflowClient.search_runs` with a
  filter on a param and a metric, ordered by a metric, repeated; each call timed, for the
  first page of 100 and of 1,000 (the client's default page).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

KEYS = 10
MODELS = ("rf", "gbm", "logreg", "svm")
SEARCH_FILTER = "params.model = 'rf' and metrics.rmse < 0.5"
SEARCH_ORDER = ["metrics.rmse ASC"]


def now_ms() -> int:
    return int(time.time() * 1000)


def points(first_step: int, steps: int) -> list[Metric]:
    """KEYS x steps metric points, step by step as a training loop logs them."""
    ts = now_ms()
    return [Metric(key=f"metric_{k}", value=(step % 97) / 97 + k, timestamp=ts, step=step)
            for step in range(first_step, first_step + steps) for k in range(KEYS)]


def new_run(client: MlflowClient, experiment_id: str) -> str:
    return client.create_run(experiment_id).info.run_id


def batch(client: MlflowClient, experiment_id: str, repeat: int) -> dict:
    run_id = new_run(client, experiment_id)
    steps = 1_000 // KEYS
    client.log_batch(run_id, metrics=points(0, steps))  # warm up: connection, first rows
    times = []
    for i in range(1, repeat + 1):
        metrics = points(i * steps, steps)
        start = time.perf_counter()
        client.log_batch(run_id, metrics=metrics)
        times.append(time.perf_counter() - start)
    history = client.get_metric_history(run_id, "metric_0")
    assert len(history) == (repeat + 1) * steps, len(history)
    return {"batch_1000": times}


def many_points(client: MlflowClient, experiment_id: str, total: int, singles: int) -> dict:
    steps = total // KEYS
    out = {}
    run_id = new_run(client, experiment_id)
    metrics = points(0, steps)
    start = time.perf_counter()
    client.log_batch(run_id, metrics=metrics)  # the client sends chunks of 1,000
    out["points_log_batch"] = time.perf_counter() - start
    assert len(client.get_metric_history(run_id, "metric_0")) == steps

    # read by the queue's thread at every turn: wait a second, then send what came as
    # batches of up to 1,000
    os.environ.setdefault("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "1")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        start = time.perf_counter()
        for m in metrics:
            mlflow.log_metric(m.key, m.value, step=m.step, timestamp=m.timestamp,
                              synchronous=False)
        mlflow.flush_async_logging()
        out["points_async"] = time.perf_counter() - start
    assert len(client.get_metric_history(run.info.run_id, "metric_0")) == steps

    with mlflow.start_run(experiment_id=experiment_id):
        times = []
        for step in range(singles):
            start = time.perf_counter()
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            times.append(time.perf_counter() - start)
        out["log_metric_single"] = times
    return out


def make_runs(client: MlflowClient, experiment_id: str, runs: int, threads: int) -> float:
    """`runs` runs with a param `model`, a few more params and metrics `rmse` and `r2`."""
    def one(i: int) -> None:
        run_id = new_run(client, experiment_id)
        ts = now_ms()
        client.log_batch(run_id, params=[
            Param("model", MODELS[i % len(MODELS)]), Param("max_depth", str(i % 12)),
            Param("seed", str(i))], metrics=[
            Metric("rmse", (i * 7919 % 1000) / 1000, ts, 0),
            Metric("r2", 1 - (i * 104729 % 1000) / 1000, ts, 0)])

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(one, range(runs)):
            pass
    return time.perf_counter() - start


def search(client: MlflowClient, experiment_id: str, runs: int, threads: int,
           repeat: int) -> dict:
    made = make_runs(client, experiment_id, runs, threads)
    out: dict = {"make_runs": made}
    expected = sorted((i * 7919 % 1000) / 1000 for i in range(runs)
                      if MODELS[i % len(MODELS)] == "rf" and (i * 7919 % 1000) / 1000 < 0.5)
    for page in (100, 1000):
        found = client.search_runs([experiment_id], SEARCH_FILTER, order_by=SEARCH_ORDER,
                                   max_results=page)  # warm up, and check the answer
        got = [r.data.metrics["rmse"] for r in found]
        assert got == expected[:page], (got[:5], expected[:5])
        assert all(r.data.params["model"] == "rf" for r in found)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.search_runs([experiment_id], SEARCH_FILTER, order_by=SEARCH_ORDER,
                               max_results=page)
            times.append(time.perf_counter() - start)
        out[f"search_{page}"] = times
    out["search_matches"] = len(expected)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-repeat", type=int, default=50)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=30_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--search-repeat", type=int, default=10)
    parser.add_argument("--only", choices=("batch", "points", "search"), action="append")
    args = parser.parse_args()
    client = MlflowClient()
    only = set(args.only or ("batch", "points", "search"))
    result: dict = {"mlflow": mlflow.__version__,
                    "uri": os.environ.get("MLFLOW_TRACKING_URI", "")}
    name = f"bench-{uuid.uuid4().hex[:8]}"
    if "batch" in only:
        result |= batch(client, client.create_experiment(f"{name}-batch"), args.batch_repeat)
    if "points" in only:
        result |= many_points(client, client.create_experiment(f"{name}-points"), args.points,
                              args.singles)
    if "search" in only:
        result |= search(client, client.create_experiment(f"{name}-search"), args.runs,
                         args.threads, args.search_repeat)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
