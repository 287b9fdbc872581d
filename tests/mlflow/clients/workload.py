"""Acceptance 2 as a data scientist writes it: unchanged MLflow client code, one process.

Run with the MLflow client's own interpreter; MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN
name the server. Prints one JSON object with what the test checks through Charter."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import mlflow
from mlflow import MlflowClient

MODEL = sys.argv[1] if len(sys.argv) > 1 else "churn-mlflow"


def main() -> None:
    experiment = mlflow.set_experiment("churn")
    x, y = make_classification(n_samples=300, n_features=6, random_state=7)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=7)
    mlflow.sklearn.autolog(log_models=False)
    with mlflow.start_run(run_name="logreg") as run:
        model = LogisticRegression(max_iter=200).fit(x_train, y_train)
        mlflow.log_param("features", 6)
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"accuracy": float(model.score(x_test, y_test)), "f1": 0.5})
        mlflow.set_tag("team", "a")
        with tempfile.TemporaryDirectory() as tmp:
            notes = Path(tmp, "notes.txt")
            notes.write_text("trained on synthetic data\n")
            mlflow.log_artifact(str(notes), artifact_path="docs")
        mlflow.log_dict({"threshold": 0.5}, "config/serving.json")
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=MODEL,
                                        input_example=x_train[:2])
    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", 1)
    client.set_registered_model_tag(MODEL, "owner", "team-a")
    client.set_model_version_tag(MODEL, "1", "validated", "yes")
    by_alias = client.get_model_version_by_alias(MODEL, "champion")
    version = client.get_model_version(MODEL, "1")
    registered = client.get_registered_model(MODEL)
    history = client.get_metric_history(run.info.run_id, "loss")
    models = [m.name for m in client.search_registered_models()]
    versions = [v.version for v in client.search_model_versions(f"name = '{MODEL}'")]
    runs = mlflow.search_runs([experiment.experiment_id], filter_string="metrics.loss < 2 "
                              "and params.features = '6'", order_by=["metrics.accuracy DESC"])
    listed = [a.path for a in client.list_artifacts(run.info.run_id, "docs")]
    with tempfile.TemporaryDirectory() as tmp:
        got = mlflow.artifacts.download_artifacts(run_id=run.info.run_id,
                                                  artifact_path="docs/notes.txt", dst_path=tmp)
        notes_back = Path(got).read_text()
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL}/1")
    predicted = loaded.predict(x_test[:5])
    expected = model.predict(x_test[:5])
    client.set_tag(run.info.run_id, "scratch", "x")
    client.delete_tag(run.info.run_id, "scratch")
    with mlflow.start_run(run_name="discarded") as discarded:
        pass
    client.delete_run(discarded.info.run_id)
    active = [r.info.run_id for r in client.search_runs([experiment.experiment_id])]
    client.restore_run(discarded.info.run_id)
    restored = [r.info.run_id for r in client.search_runs([experiment.experiment_id])]
    fetched = client.get_run(run.info.run_id)
    print(json.dumps({
        "experiment_id": experiment.experiment_id,
        "run_id": run.info.run_id,
        "model_id": info.model_id,
        "run_status": fetched.info.status,
        "params": fetched.data.params,
        "metrics": fetched.data.metrics,
        "tags": {k: v for k, v in fetched.data.tags.items() if not k.startswith("mlflow.")},
        "history": [[m.step, m.value] for m in history],
        "search_columns": sorted(runs.columns),
        "search_run_ids": list(runs["run_id"]),
        "after_delete": active == [run.info.run_id],
        "after_restore": sorted(restored) == sorted([run.info.run_id,
                                                     discarded.info.run_id]),
        "listed": listed,
        "config": mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/config/serving.json"),
        "user": fetched.info.user_id,
        "notes_back": notes_back,
        "version_status": version.status,
        "version_source": version.source,
        "alias_version": by_alias.version,
        "aliases": registered.aliases,
        "registered_models": models,
        "versions": versions,
        "model_tags": registered.tags,
        "version_tags": version.tags,
        "predictions_match": bool(np.array_equal(predicted, expected)),
    }))


if __name__ == "__main__":
    main()
