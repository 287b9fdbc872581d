"""Loading through the SDK: a model comes back only through skops, after its sha256 and
types were checked; a tampered file or an untrusted type is refused with a clear error."""

from __future__ import annotations

import pickle

import pytest
import skops.io

from charter.errors import CharterError
from charter.experiments import service as experiments
from charter.registry import service
from charter.registry.orm import ModelVersion
from charter.registry.schemas import ModelGroupCreate, ModelVersionCreate
from tests.registry.conftest import A, object_key
from tests.registry.test_artifacts import Custom, Detonator


@pytest.fixture
def registered(team, store_model):
    """Version 1 of team-a-dev's churn from a fitted model; (team, its source)."""
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    stored = store_model()
    service.create_version(ctx, A, "churn", ModelVersionCreate(source=stored.source,
                                                               run_id=stored.run_id))
    return team, stored.source


def test_a_registered_model_loads_and_its_onnx_predicts_alike(registered, fitted, iris):
    team, _ = registered
    X, _ = iris
    sam = team.clients["sam"]
    model = sam.models.load(A, "churn", 1)
    assert type(model) is type(fitted)
    assert (model.predict(X) == fitted.predict(X)).all()
    outputs = sam.models.predict_onnx(A, "churn", 1, X)
    assert (outputs["label"] == fitted.predict(X)).mean() > 0.98
    assert sam.models.download(A, "churn", 1, "model.onnx").startswith(b"\x08")


def test_a_flipped_byte_in_the_store_is_refused_at_load(registered):
    team, source = registered
    storage = team.platform.runtime.storage
    for name in ("model.skops", "model.onnx"):
        key = object_key(team.platform, A, f"{source}/{name}")
        data = bytearray(storage.get_bytes(key))
        data[len(data) // 2] ^= 0x01
        storage.put_bytes(key, bytes(data))
    sam = team.clients["sam"]
    for call in (lambda: sam.models.load(A, "churn", 1),
                 lambda: sam.models.predict_onnx(A, "churn", 1, [[0.0] * 4]),
                 lambda: sam.models.download(A, "churn", 1, "model.skops")):
        with pytest.raises(CharterError) as err:
            call()
        assert err.value.code == "artifact_tampered"
        assert "does not match the sha256 recorded" in err.value.message


def test_a_file_replaced_after_registration_leaves_the_version_as_registered(registered,
                                                                            fitted, iris):
    """Writing the path again updates the artifact table; the version reads its files by
    the sha256 it recorded (the store is content addressed), so it loads what was
    registered, not the new bytes."""
    team, source = registered
    X, y = iris
    experiments.put_artifact(team.ctx("sam"), A, f"{source}/model.skops",
                             skops.io.dumps(Custom().fit(X, y)))
    model = team.clients["sam"].models.load(A, "churn", 1)
    assert type(model) is type(fitted)
    assert (model.predict(X) == fitted.predict(X)).all()


def test_an_untrusted_type_is_refused_at_load_even_with_its_hash_recorded(registered, iris,
                                                                          tmp_path):
    """A record forged in the metadata store to match a file with a custom class: the
    hash passes, the allow-list refuses it; a pickle is refused without being opened."""
    team, source = registered
    X, y = iris
    ctx = team.ctx("sam")
    marker = tmp_path / "unpickled"
    for data, code in ((skops.io.dumps(Custom().fit(X, y)), "untrusted_type"),
                       (pickle.dumps(Detonator(marker)), "invalid_model_file")):
        info = experiments.put_artifact(ctx, A, f"{source}/model.skops", data)
        with team.platform.runtime.db.transaction() as session:
            row = session.get(ModelVersion, (A, "churn", 1))
            row.files = {"files": [
                {**f, "sha256": info.sha256, "size": info.size}
                if f["path"] == "model.skops" else f for f in row.files["files"]]}
        with pytest.raises(CharterError) as err:
            team.clients["sam"].models.load(A, "churn", 1)
        assert err.value.code == code
    assert not marker.exists()


def test_a_version_without_skops_is_never_loaded(team, store_model, tmp_path):
    marker = tmp_path / "unpickled"
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="legacy"))
    stored = store_model({"MLmodel": b"flavors:\n  sklearn: {}\n",
                          "model.pkl": pickle.dumps(Detonator(marker))})
    service.create_version(ctx, A, "legacy", ModelVersionCreate(source=stored.source))
    sam = team.clients["sam"]
    with pytest.raises(CharterError) as err:
        sam.models.load(A, "legacy", 1)
    assert err.value.code == "model_file_not_found"
    # Served back as it came, byte for byte, to whoever loads it on their own terms.
    assert sam.models.download(A, "legacy", 1, "model.pkl") == pickle.dumps(Detonator(marker))
    assert not marker.exists()


def test_reading_files_is_governed(registered):
    team, _ = registered
    for who in ("bob", "nobody"):
        with pytest.raises(CharterError) as err:
            team.clients[who].models.load(A, "churn", 1)
        assert err.value.code == "access_denied"
    with pytest.raises(CharterError) as err:
        team.clients["sam"].models.download(A, "churn", 1, "nope.bin")
    assert err.value.code == "model_file_not_found"
