"""Acceptance 5 over MLflow's protocol: bad input sent as the MLflow client sends it (its
own transport, `http_request`, where the client would refuse it before sending).

Prints one JSON object: for each case, the status and the MLflow error code answered."""

from __future__ import annotations

import json

from mlflow.exceptions import MlflowException
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

import mlflow
from mlflow import MlflowClient


def main() -> None:
    experiment = mlflow.set_experiment("bad-input").experiment_id
    other = mlflow.create_experiment("other")
    with mlflow.start_run() as run:
        mlflow.log_param("kept", "1")
    run_id = run.info.run_id
    creds = get_default_host_creds(mlflow.get_tracking_uri())
    answers: dict[str, object] = {"run_id": run_id, "experiment_id": experiment}

    def call(case: str, endpoint: str, method: str = "POST", **kwargs: object) -> None:
        response = http_request(creds, endpoint, method, max_retries=0, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text[:200]}
        answers[case] = [response.status_code, body.get("error_code"), body.get("charter_code")]

    api = "/api/2.0/mlflow"
    call("metric_not_a_number", f"{api}/runs/log-metric",
         json={"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1, "step": 0})
    call("batch_with_a_metric_not_a_number", f"{api}/runs/log-batch",
         json={"run_id": run_id, "params": [{"key": "p2", "value": "v"}],
               "metrics": [{"key": "ok", "value": 1.0, "timestamp": 1, "step": 0},
                           {"key": "m2", "value": "abc", "timestamp": 1, "step": 0}]})
    call("run_of_another_experiment", f"{api}/logged-models",
         json={"experiment_id": other, "name": "model", "source_run_id": run_id})
    call("unknown_filter_attribute", f"{api}/runs/search",
         json={"experiment_ids": [experiment], "filter": "attributes.colour = 'red'"})
    call("param_of_10_mb", f"{api}/runs/log-parameter",
         json={"run_id": run_id, "key": "big", "value": "x" * 10_000_000})
    call("artifact_path_with_dotdot", "/api/2.0/mlflow-artifacts/artifacts/"
         f"{experiment}/{run_id}/artifacts/%2E%2E/%2E%2E/escape.txt", "PUT", data=b"escape")
    call("artifact_listing_with_dotdot", "/api/2.0/mlflow-artifacts/artifacts", "GET",
         params={"path": f"{experiment}/../.."})
    call("nul_in_a_name", f"{api}/experiments/create", json={"name": "a\u0000b"})
    call("not_served", f"{api}/runs/log-inputs", json={"run_id": run_id, "datasets": []})
    try:
        MlflowClient().search_runs([experiment], "attributes.colour = 'red'")
        answers["client_search_with_unknown_attribute"] = None
    except MlflowException as error:
        answers["client_search_with_unknown_attribute"] = error.error_code
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
