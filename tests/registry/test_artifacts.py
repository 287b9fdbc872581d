"""Safe model artifacts on real files: skops + ONNX, sha256 checks, the type allow-list."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from charter.errors import CharterError
from charter.registry import artifacts
from charter.registry.schemas import ModelFile


class Custom(BaseEstimator, ClassifierMixin):
    """A class of the caller's code: never trusted, whatever it does."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


class Detonator:
    """Unpickling this writes a file: proof that something unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _record(name: str, data: bytes) -> ModelFile:
    return ModelFile(path=name, size=len(data), sha256=artifacts.sha256_of(data))


@pytest.mark.parametrize("make", [
    lambda: LogisticRegression(max_iter=500),
    lambda: RandomForestClassifier(n_estimators=5, random_state=0),
    lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
], ids=["logistic", "forest", "pipeline"])
def test_a_model_round_trips_and_its_onnx_predicts_as_it_does(iris, make):
    X, y = iris
    model = make().fit(X, y)
    dumped = artifacts.dump_model(model, X[:5])
    assert set(dumped.files) == {"model.skops", "model.onnx"}
    assert dumped.signature.inputs == [{"name": "X", "type": "float32", "shape": [-1, 4]}]
    assert [o["name"] for o in dumped.signature.outputs] == ["label", "probabilities"]
    skops_bytes = dumped.files["model.skops"]
    loaded = artifacts.load_skops(skops_bytes, _record("model.skops", skops_bytes))
    assert type(loaded) is type(model)
    assert (loaded.predict(X) == model.predict(X)).all()
    onnx_bytes = dumped.files["model.onnx"]
    outputs = artifacts.predict_onnx(onnx_bytes, _record("model.onnx", onnx_bytes), X)
    assert (outputs["label"] == model.predict(X)).mean() > 0.98  # float32 vs float64
    assert np.allclose(outputs["probabilities"], model.predict_proba(X), atol=1e-4)


def test_a_flipped_byte_is_refused_before_anything_is_read(iris):
    X, y = iris
    data = skops.io.dumps(LogisticRegression(max_iter=500).fit(X, y))
    record = _record("model.skops", data)
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0x01
    for bad in (bytes(tampered), data + b"\0"):
        with pytest.raises(CharterError) as caught:
            artifacts.load_skops(bad, record)
        assert caught.value.code == "artifact_tampered"
        assert caught.value.details["path"] == "model.skops"
    with pytest.raises(CharterError, match="does not match the sha256") as caught:
        artifacts.predict_onnx(b"not onnx", _record("model.onnx", b"onnx"), X)
    assert caught.value.code == "artifact_tampered"


def test_a_custom_class_is_an_untrusted_type(iris):
    X, y = iris
    data = skops.io.dumps(Custom().fit(X, y))
    with pytest.raises(CharterError) as caught:
        artifacts.load_skops(data, _record("model.skops", data))
    assert caught.value.code == "untrusted_type"
    assert caught.value.details["types"] == [f"{__name__}.Custom"]
    with pytest.raises(CharterError) as caught:  # nor can it be made into files
        artifacts.dump_model(Custom().fit(X, y), X[:2])
    assert caught.value.code == "untrusted_type"


def test_a_function_the_model_would_call_is_untrusted():
    model = make_pipeline(FunctionTransformer(func=eval), LogisticRegression())
    data = skops.io.dumps(model)
    with pytest.raises(CharterError) as caught:
        artifacts.check_types(data)
    assert caught.value.code == "untrusted_type"
    assert "builtins.eval" in caught.value.details["types"]


@pytest.mark.parametrize("name,trusted", [
    ("sklearn.linear_model._logistic.LogisticRegression", True),
    ("sklearn.tree._tree.Tree", True),
    ("numpy.dtype", True),
    ("numpy.log", True),  # a ufunc
    ("numpy.load", False),  # a function that reads files
    ("sklearn.utils.validation.check_array", False),  # a function, not a class
    ("builtins.eval", False),
    ("os.system", False),
    ("sklearn_evil.Model", False),
    ("sklearn.no_such_module.Model", False),
    ("sklearn", False),
    ("sklearn.linear_model.LogisticRegression(", False),
])
def test_the_allow_list(name, trusted):
    assert artifacts.trusted_type(name) is trusted


def test_a_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    data = pickle.dumps(Detonator(marker))
    with pytest.raises(CharterError) as caught:
        artifacts.load_skops(data, _record("model.skops", data))
    assert caught.value.code == "invalid_model_file"
    assert not marker.exists()


def test_a_sample_must_be_rows(iris):
    X, y = iris
    with pytest.raises(CharterError) as caught:
        artifacts.dump_model(LogisticRegression(max_iter=500).fit(X, y), X[0])
    assert caught.value.code == "invalid_model_sample"
