"""One sample request for every route of the MLflow adapter, naming real resources (those
the workload client made), so a refusal is the caller's and not a missing resource's."""

from __future__ import annotations

import re
from typing import Any

from charter.api.mlflow.app import ROUTERS

Call = tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]


def calls(seen: dict[str, Any], model: str) -> list[Call]:
    """(method, path under the tracking URI, query, JSON body) for every adapter route."""
    exp, run, model_id = seen["experiment_id"], seen["run_id"], seen["model_id"]
    api, art = "/api/2.0/mlflow", "/api/2.0/mlflow-artifacts/artifacts"
    run_file = f"{exp}/{run}/artifacts/docs/notes.txt"
    tag = {"key": "k", "value": "v"}
    samples: list[Call] = [
        ("GET", f"{api}/experiments/get-by-name", {"experiment_name": "churn"}, None),
        ("POST", f"{api}/experiments/create", None, {"name": "another"}),
        ("GET", f"{api}/experiments/get", {"experiment_id": exp}, None),
        ("POST", f"{api}/experiments/search", None, {"max_results": 10}),
        ("POST", f"{api}/runs/create", None, {"experiment_id": exp}),
        ("GET", f"{api}/runs/get", {"run_id": run}, None),
        ("POST", f"{api}/runs/update", None, {"run_id": run, "status": "KILLED"}),
        ("POST", f"{api}/runs/log-parameter", None, {"run_id": run, "key": "k", "value": "v"}),
        ("POST", f"{api}/runs/log-metric", None,
         {"run_id": run, "key": "k", "value": 1.0, "timestamp": 1, "step": 0}),
        ("POST", f"{api}/runs/set-tag", None, {"run_id": run, **tag}),
        ("POST", f"{api}/runs/log-batch", None, {"run_id": run, "tags": [tag]}),
        ("POST", f"{api}/runs/delete-tag", None, {"run_id": run, "key": "team"}),
        ("POST", f"{api}/runs/delete", None, {"run_id": run}),
        ("POST", f"{api}/runs/restore", None, {"run_id": run}),
        ("POST", f"{api}/runs/search", None, {"experiment_ids": [exp]}),
        ("GET", f"{api}/metrics/get-history", {"run_id": run, "metric_key": "loss"}, None),
        ("POST", f"{api}/logged-models", None, {"experiment_id": exp, "name": "m"}),
        ("GET", f"{api}/logged-models/{model_id}", None, None),
        ("PATCH", f"{api}/logged-models/{model_id}", None, {"status": "LOGGED_MODEL_READY"}),
        ("PATCH", f"{api}/logged-models/{model_id}/tags", None, {"tags": [tag]}),
        ("POST", f"{api}/logged-models/search", None, {"experiment_ids": [exp]}),
        ("POST", f"{api}/runs/outputs", None,
         {"run_id": run, "models": [{"model_id": model_id}]}),
        ("POST", f"{api}/registered-models/create", None, {"name": "another"}),
        ("GET", f"{api}/registered-models/get", {"name": model}, None),
        ("GET", f"{api}/registered-models/search", {"filter": f"name = '{model}'"}, None),
        ("POST", f"{api}/registered-models/set-tag", None, {"name": model, **tag}),
        ("DELETE", f"{api}/registered-models/delete-tag", None, {"name": model, "key": "owner"}),
        ("POST", f"{api}/registered-models/alias", None,
         {"name": model, "alias": "a", "version": "1"}),
        ("GET", f"{api}/registered-models/alias", {"name": model, "alias": "champion"}, None),
        ("DELETE", f"{api}/registered-models/alias", None, {"name": model, "alias": "champion"}),
        ("POST", f"{api}/model-versions/create", None,
         {"name": model, "source": f"models:/{model_id}", "model_id": model_id}),
        ("GET", f"{api}/model-versions/get", {"name": model, "version": "1"}, None),
        ("GET", f"{api}/model-versions/get-download-uri", {"name": model, "version": "1"},
         None),
        ("GET", f"{api}/model-versions/search", {"filter": f"name = '{model}'"}, None),
        ("POST", f"{api}/model-versions/set-tag", None, {"name": model, "version": "1", **tag}),
        ("DELETE", f"{api}/model-versions/delete-tag", None,
         {"name": model, "version": "1", "key": "validated"}),
        ("PUT", f"{art}/{exp}/{run}/artifacts/other.txt", None, None),
        ("GET", f"{art}/{run_file}", None, None),
        ("GET", art, {"path": f"{exp}/{run}/artifacts"}, None),
        ("GET", "/api/3.0/mlflow/server-info", None, None),
    ]
    _check_every_route_is_sampled(samples)
    return samples


def _check_every_route_is_sampled(samples: list[Call]) -> None:
    routes = {(method, re.sub(r"\{[^}]+\}", "*", route.path.removeprefix("/{account}")))
              for router in ROUTERS for route in router.routes for method in route.methods}
    sampled = set()
    for method, path, _, _ in samples:
        for route_method, pattern in routes:
            regex = re.escape(pattern).replace(r"\*", ".+")
            if method == route_method and re.fullmatch(regex, path):
                sampled.add((route_method, pattern))
    assert routes == sampled, f"routes without a sample request: {sorted(routes - sampled)}"
