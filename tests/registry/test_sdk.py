"""The registry from training code, against `charter server` as a real process: a run
tracked with the SDK, its model registered (skops + ONNX uploaded as the run's artifacts),
loaded back safely, approved by the team lead only."""

from __future__ import annotations

import pytest
import skops.io
from sklearn.ensemble import RandomForestClassifier

from charter.errors import CharterError, Denied
from charter.sdk import Client
from tests.registry.conftest import A, counts, events, share_bank_table
from tests.registry.test_artifacts import Custom
from tests.servers import start


@pytest.fixture
def served(team):
    """(team, {user: client over HTTP}) with `charter server` running on the platform."""
    server = start(team.platform.settings.home).ready()
    tokens = {name: team.platform.admin.tokens.create(user=name)["token"]
              for name in ("sam", "lena", "bob")}
    clients = {name: Client(server.url, token) for name, token in tokens.items()}
    yield team, clients
    for client in clients.values():
        client.close()
    server.stop()


def test_train_register_load_approve(served, iris):
    team, clients = served
    sam, lena = clients["sam"], clients["lena"]
    X, y = iris
    snapshot = share_bank_table(team)
    with sam.runs.start(A, "churn", name="forest") as run:
        model = RandomForestClassifier(n_estimators=8, random_state=0).fit(X, y)
        sam.runs.log_batch(A, run.id, params={"n_estimators": "8"},
                           metrics=[{"key": "accuracy", "value": model.score(X, y),
                                     "step": 1}])
        sam.runs.log_input(A, run.id, "bank.customers", snapshot)
        sam.models.create_group(A, "churn", description="who leaves")
        version = sam.models.register(A, "churn", model, run_id=run.id, X_sample=X[:5])
    assert (version.version, version.approval_status, version.flavor) == (
        1, "PendingManualApproval", "skops")
    assert version.source == f"{sam.runs.get(A, run.id).experiment_id}/{run.id}/artifacts/model"
    assert [f.path for f in version.files] == ["model.onnx", "model.skops"]
    assert version.signature.inputs == [{"name": "X", "type": "float32", "shape": [-1, 4]}]
    assert [m.key for m in version.metrics] == ["accuracy"]
    assert [(i.table, i.snapshot_id) for i in version.lake_inputs] == [
        ("bank.customers", snapshot)]
    assert {a.path for a in sam.runs.artifacts(A, run.id, "model")} >= {
        "model/model.skops", "model/model.onnx"}

    loaded = sam.models.load(A, "churn", 1)
    assert (loaded.predict(X) == model.predict(X)).all()
    assert (sam.models.predict_onnx(A, "churn", 1, X)["label"] == model.predict(X)).mean() > 0.98

    with pytest.raises(Denied):
        sam.models.approve(A, "churn", 1, reason="my own model is great")
    approved = lena.models.approve(A, "churn", 1, reason="accuracy on holdout")
    assert (approved.approval_status, approved.approval.by) == ("Approved", "lena")
    assert [e["version"] for e in events(team.platform, "ModelVersionApproved")] == [1]
    assert [v.approval_status for v in sam.models.versions(A, "churn")] == ["Approved"]


def test_an_untrusted_model_is_refused_before_and_at_registration(served, iris):
    team, clients = served
    sam = clients["sam"]
    X, y = iris
    sam.models.create_group(A, "churn")
    run = sam.runs.create(A, sam.experiments.create(A, "churn").id)
    before = counts(team.platform)
    with pytest.raises(CharterError) as err:  # the SDK refuses to make its files
        sam.models.register(A, "churn", Custom().fit(X, y), run_id=run.id, X_sample=X[:2])
    assert err.value.code == "untrusted_type"
    assert sam.runs.artifacts(A, run.id).items == []
    # Files made elsewhere and uploaded as they are: the server refuses them.
    path = team.platform.settings.home / "model.skops"
    path.write_bytes(skops.io.dumps(Custom().fit(X, y)))
    sam.runs.upload(A, run.id, path, artifact_path="model")
    source = f"{run.experiment_id}/{run.id}/artifacts/model"
    with pytest.raises(CharterError) as err:
        sam.models.create_version(A, "churn", source, run_id=run.id)
    assert err.value.code == "untrusted_type"
    assert "Custom" in err.value.message
    assert counts(team.platform) == before
