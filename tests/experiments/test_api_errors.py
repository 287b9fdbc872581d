"""Acceptance 5 over Charter's API: bad input gets a clear error with a stable code and
leaves nothing behind (tables and object store); another account's token gets 403, and
its attempt is audited."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from tests.experiments.conftest import table_counts

A = "team-a-dev"


def _objects(platform) -> list[Path]:
    root = Path(platform.settings.resolved_storage_root)
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def a_run(team):
    platform, sam = team
    with sam.runs.start(A, "churn") as run:
        run.log_param("model", "rf")
        run.log_metric("acc", 0.5)
    (Path(platform.settings.home) / "m.txt").write_text("model")
    run.log_artifact(Path(platform.settings.home) / "m.txt")
    return platform, sam, sam.runs.get(A, run.id)


@pytest.mark.parametrize("method,path,body,status,code", [
    ("POST", "/runs/{run}/log", {"metrics": [{"key": "acc", "value": "high",
                                              "timestamp": 1}]}, 422, "invalid_request"),
    ("POST", "/runs/{run}/log", {"metrics": [{"key": "acc", "value": [1],
                                              "timestamp": 1}]}, 422, "invalid_request"),
    ("POST", "/runs/{run}/log", {"params": [{"key": "big", "value": "x" * 10_000_000}]},
     422, "value_too_long"),
    ("POST", "/runs/{run}/log", {"params": [{"key": "model", "value": "gbm"}]},
     422, "param_changed"),
    ("POST", "/runs/search", {"experiment_ids": ["{experiment}"],
                              "filter": "attributes.colour = 'red'"}, 422, "invalid_filter"),
    ("POST", "/runs/search", {"experiment_ids": ["{experiment}"],
                              "filter": "metrics.acc > 0.5 OR params.model = 'rf'"},
     422, "invalid_filter"),
    ("POST", "/runs/search", {"experiment_ids": ["{experiment}"],
                              "order_by": ["metrics.acc SIDEWAYS"]}, 422, "invalid_order_by"),
    ("PUT", "/runs/{run}/artifacts/file?path=../../escape.txt", b"x", 422,
     "invalid_artifact_path"),
    ("PUT", "/runs/{run}/artifacts/file?path=a/%2E%2E/b", b"x", 422, "invalid_artifact_path"),
    ("PUT", "/runs/{run}/artifacts/file?path=m.txt/inner", b"x", 409,
     "artifact_path_conflict"),
    ("GET", "/runs/{run}/artifacts/file?path=nothing.txt", None, 404, "artifact_not_found"),
    ("POST", "/runs", {"experiment_id": "999999"}, 404, "experiment_not_found"),
    ("GET", "/runs/{other}", None, 404, "run_not_found"),
    ("POST", "/runs/{run}/inputs", {"table": "customers", "snapshot_id": "1"}, 422,
     "invalid_table_name"),
])
def test_bad_input_is_refused_with_its_code_and_leaves_nothing(a_run, method, path, body,
                                                               status, code):
    platform, sam, run = a_run
    before, objects = table_counts(platform), _objects(platform)
    url = f"/v1/accounts/{A}" + path.format(run=run.id, experiment=run.experiment_id,
                                             other="f" * 32)
    if isinstance(body, dict) and "experiment_ids" in body:
        body = {**body, "experiment_ids": [run.experiment_id]}
    if isinstance(body, bytes):
        response = sam._http.request(method, url, content=body,
                                     headers={"content-type": "application/octet-stream"})
    else:
        response = sam._http.request(method, url, json=body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["code"] == code and answer["message"]
    assert table_counts(platform) == before
    assert _objects(platform) == objects


def test_nan_and_infinity_travel(a_run):
    _, sam, run = a_run
    sam.runs.log_batch(A, run.id, metrics=[{"key": "odd", "value": math.nan},
                                           {"key": "big", "value": -math.inf}])
    got = {m.key: m.value for m in sam.runs.get(A, run.id).metrics}
    assert math.isnan(got["odd"]) and got["big"] == -math.inf


def test_another_accounts_token_is_refused_and_audited(a_run):
    platform, _, run = a_run
    platform.vend("team-b-dev")
    bob, _ = platform.user("bob", "team-b-data-scientists")
    calls = [("GET", f"/runs/{run.id}", None), ("POST", f"/runs/{run.id}/log",
                                                 {"params": [{"key": "x", "value": "1"}]}),
             ("POST", "/runs/search", {"experiment_ids": [run.experiment_id]}),
             ("GET", f"/runs/{run.id}/artifacts/file?path=m.txt", None),
             ("GET", "/experiments", None)]
    before = table_counts(platform)
    for method, path, body in calls:
        response = bob._http.request(method, f"/v1/accounts/{A}{path}", json=body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "access_denied"
        with platform.runtime.db.read() as session:
            record = session.scalars(select(AuditEvent).where(
                AuditEvent.request_id == response.headers["x-request-id"])).one()
        assert (record.principal, record.decision, record.account) == ("bob", "deny", A)
        assert record.action.startswith("experiments:")
    assert table_counts(platform) == before
