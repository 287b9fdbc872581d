"""Acceptance 2: unchanged MLflow client code against a Charter account, checked through
Charter's own API; a token of another account is refused by every MLflow endpoint."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from tests.mlflow.conftest import ACCOUNT, MlflowSetup
from tests.mlflow.routes import calls

MODEL = "churn-mlflow"


@pytest.mark.timeout(600)  # the client trains, logs and loads a model: ~60 s on an idle machine
def test_the_mlflow_client_tracks_registers_and_loads(mlflow_setup: MlflowSetup):
    setup = mlflow_setup
    seen = setup.run_client("workload.py", MODEL)
    run_id = seen["run_id"]
    assert seen["run_status"] == "FINISHED"
    assert seen["params"]["features"] == "6" and seen["params"]["max_iter"] == "200"
    assert {"accuracy", "f1", "loss", "training_accuracy_score"} <= set(seen["metrics"])
    assert seen["tags"]["team"] == "a" and seen["tags"]["estimator_name"] == "LogisticRegression"
    assert seen["history"] == [[0, 1.0], [1, 0.5], [2, 1 / 3]]
    assert seen["search_run_ids"] == [run_id]
    assert seen["after_delete"] and seen["after_restore"] and "scratch" not in seen["tags"]
    assert {"metrics.accuracy", "params.features", "tags.team"} <= set(seen["search_columns"])
    assert seen["listed"] == ["docs/notes.txt"]
    assert seen["config"] == {"threshold": 0.5} and seen["user"] == "sam"
    assert seen["notes_back"] == "trained on synthetic data\n"
    assert seen["version_status"] == "READY" and seen["alias_version"] == "1"
    assert seen["aliases"] == {"champion": "1"} and seen["model_tags"] == {"owner": "team-a"}
    assert seen["version_tags"] == {"validated": "yes"}
    assert seen["registered_models"] == [MODEL] and seen["versions"] == ["1"]
    assert seen["predictions_match"] is True

    # One store, two protocols: the same run, model and version through Charter.
    admin = setup.platform.admin
    version = admin.models.version(ACCOUNT, MODEL, 1)
    assert version.approval_status == "PendingManualApproval"
    assert (version.run_id, version.model_id, version.flavor) == (run_id, seen["model_id"],
                                                                  "mlflow")
    assert {"MLmodel", "model.skops"} <= {f.path for f in version.files}
    assert version.tags == {"validated": "yes"} and version.aliases == ["champion"]
    assert admin.models.group(ACCOUNT, MODEL).aliases == {"champion": 1}
    sam = setup.platform.client(setup.sam_token)
    run = sam.runs.get(ACCOUNT, run_id)
    assert (run.status, run.user, run.params["features"], run.tags["team"]) == (
        "FINISHED", "sam", "6", "a")
    assert [(m.step, m.value) for m in sam.runs.metric_history(ACCOUNT, run_id, "loss")] == [
        (0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert [a.path for a in sam.runs.artifacts(ACCOUNT, run_id, "docs")] == ["docs/notes.txt"]
    found = sam.runs.search(ACCOUNT, [seen["experiment_id"]], filter="params.features = '6'",
                            order_by=["metrics.accuracy DESC"])
    assert [r.id for r in found] == [run_id]
    assert sam.experiments.get_by_name(ACCOUNT, "churn").id == seen["experiment_id"]

    # Audited as the token's user.
    actions = {e.action for e in admin.audit.events(principal="sam", limit=1000)}
    assert {"experiments:CreateRun", "experiments:LogBatch", "experiments:PutArtifact",
            "registry:CreateModelVersion", "registry:UpdateModelAliases"} <= actions

    _another_accounts_token_is_refused_everywhere(setup, seen)
    _a_changed_file_of_a_version_is_not_served(setup, seen, version)


def _another_accounts_token_is_refused_everywhere(setup: MlflowSetup, seen: dict) -> None:
    with setup.http(setup.bea_token) as bea:
        for method, path, params, body in calls(seen, MODEL):
            response = bea.request(method, path, params=params, json=body)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error_code"] == "PERMISSION_DENIED"
            with setup.platform.runtime.db.read() as session:
                records = list(session.scalars(select(AuditEvent).where(
                    AuditEvent.request_id == response.headers["x-request-id"])))
            assert [(r.principal, r.decision) for r in records] == [("bea", "deny")], path


def _a_changed_file_of_a_version_is_not_served(setup: MlflowSetup, seen: dict,
                                               version) -> None:
    with setup.http(setup.sam_token) as sam:
        proxy = "/api/2.0/mlflow-artifacts/artifacts"
        uri = sam.get("/api/2.0/mlflow/model-versions/get-download-uri",
                      params={"name": MODEL, "version": "1"}).json()["artifact_uri"]
        served = uri.removeprefix("mlflow-artifacts:/")
        assert sam.get(f"{proxy}/{served}/model.skops").status_code == 200
        # Written again at its path (an allowed, audited write): the version keeps its own.
        source = f"{proxy}/{version.source}/model.skops"
        assert sam.put(source, content=b"not the model").status_code == 200
        refused = sam.get(f"{proxy}/{served}/model.skops")
        assert refused.status_code == 400, refused.text
        assert (refused.json()["error_code"], refused.json()["charter_code"]) == (
            "INVALID_STATE", "artifact_tampered")
        # Changed in the object store behind Charter's back: refused wherever it is read.
        mlmodel = f"{proxy}/{version.source}/MLmodel"
        original = sam.get(mlmodel).content
        stored = _object_holding(setup.platform.settings.home, original)
        stored.write_bytes(original + b"# changed\n")
        for path in (mlmodel, f"{proxy}/{served}/MLmodel"):
            answer = sam.get(path)
            assert answer.status_code == 400 and \
                answer.json()["charter_code"] == "artifact_tampered", path


def _object_holding(home: Path, data: bytes) -> Path:
    """The file of the local object store that holds `data`."""
    digest = hashlib.sha256(data).hexdigest()
    for path in home.rglob("*"):
        if path.is_file() and path.stat().st_size == len(data) and \
                hashlib.sha256(path.read_bytes()).hexdigest() == digest:
            return path
    raise AssertionError("no stored object holds the file")
