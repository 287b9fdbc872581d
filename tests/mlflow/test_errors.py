"""Refusals made before any route runs (the middleware's) and the server's own answer in
MLflow's error shape on MLflow paths, and only there."""

from __future__ import annotations

import pytest

from tests.mlflow.conftest import ACCOUNT

API = f"/mlflow/{ACCOUNT}/api/2.0/mlflow"


@pytest.fixture
def sam(platform):
    platform.vend(ACCOUNT)
    client, _ = platform.user("sam", "team-a-data-scientists")
    return client._http


def _mlflow_error(response, status: int, code: str, charter_code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error_code": code, "message": response.json()["message"],
                               "charter_code": charter_code}
    assert response.json()["message"]


def test_the_middlewares_refusals_answer_mlflows_shape(sam, platform):
    _mlflow_error(sam.get(f"{API}/experiments/get-by-name", params={"experiment_name": "a\0"}),
                  400, "INVALID_PARAMETER_VALUE", "invalid_text")
    _mlflow_error(sam.get(f"/mlflow/{ACCOUNT}/api/2.0/mlflow/experiments/a%00b"),
                  400, "INVALID_PARAMETER_VALUE", "invalid_text")
    too_big = b'{"name": "' + b"x" * (platform.settings.api.max_json_bytes + 1) + b'"}'
    _mlflow_error(sam.post(f"{API}/experiments/create", content=too_big,
                           headers={"content-type": "application/json"}),
                  400, "INVALID_PARAMETER_VALUE", "body_too_large")
    # The same refusals elsewhere keep Charter's own shape.
    assert sam.get("/v1/accounts", params={"ou": "a\0"}).json()["code"] == "invalid_text"


def test_malformed_and_misdirected_requests_answer_mlflows_shape(sam):
    _mlflow_error(sam.post(f"{API}/experiments/create", content=b"{not json",
                           headers={"content-type": "application/json"}),
                  400, "INVALID_PARAMETER_VALUE", "invalid_request")
    _mlflow_error(sam.post(f"{API}/experiments/create", json={}),
                  400, "INVALID_PARAMETER_VALUE", "invalid_request")
    _mlflow_error(sam.put(f"{API}/experiments/get"), 404, "ENDPOINT_NOT_FOUND",
                  "route_not_found")
    _mlflow_error(sam.get(f"{API}/experiments/get-by-name", params={"experiment_name": "none"}),
                  404, "RESOURCE_DOES_NOT_EXIST", "experiment_not_found")
    assert sam.post(f"{API}/experiments/create", json={"name": "twice"}).status_code == 200
    _mlflow_error(sam.post(f"{API}/experiments/create", json={"name": "twice"}),
                  400, "RESOURCE_ALREADY_EXISTS", "experiment_exists")
    _mlflow_error(sam.get(f"{API}/runs/get"), 400, "INVALID_PARAMETER_VALUE", "missing_run_id")
