"""Hardening of the model registry against attacks: type names that would import code,
zip bombs, a source that is not the run's, retried decisions, failures past Exception,
files overwritten under a version, and ONNX files that are not ONNX."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tracemalloc
import zipfile

import pytest
import skops.io

from charter.errors import CharterError, Invalid
from charter.experiments import service as experiment_service
from charter.experiments.schemas import ExperimentCreate, LoggedModelCreate, RunCreate
from charter.registry import artifacts, service
from charter.registry.schemas import ModelGroupCreate, ModelVersionCreate
from tests.registry.conftest import A, counts

GROUP = "churn"


def _with_schema(data: bytes, change) -> bytes:
    """The skops file `data` with its schema.json changed by `change(schema)`."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            body = source.read(name)
            if name == "schema.json":
                schema = json.loads(body)
                change(schema)
                body = json.dumps(schema).encode()
            target.writestr(name, body)
    return out.getvalue()


def test_a_type_name_never_imports_a_module_that_runs_code(fitted, monkeypatch):
    """A skops file names `numpy.f2py.__main__.LogisticRegression`. Deciding whether that
    type is trusted imports the module `numpy.f2py.__main__`, which runs NumPy's f2py
    command line with the server's own argv and raises SystemExit inside the request
    (registration on the server, load in the SDK). The right answer: `untrusted_type`,
    nothing imported beyond what the libraries import themselves."""
    monkeypatch.setattr(sys, "argv", ["charter"])
    monkeypatch.delitem(sys.modules, "numpy.f2py.__main__", raising=False)
    data = _with_schema(skops.io.dumps(fitted),
                        lambda s: s.__setitem__("__module__", "numpy.f2py.__main__"))
    try:
        with pytest.raises(Invalid) as err:
            artifacts.check_types(data)
    except SystemExit:
        pytest.fail("checking a type name ran numpy.f2py's command line (SystemExit)")
    finally:
        sys.modules.pop("numpy.f2py.__main__", None)
    assert err.value.code == "untrusted_type"
    assert "numpy.f2py.__main__" not in sys.modules


def test_a_type_name_never_imports_test_modules(monkeypatch):
    """`sklearn.conftest.X` imports scikit-learn's pytest conftest (pytest, plugins, its
    fixtures) into the server to answer whether X is trusted."""
    monkeypatch.delitem(sys.modules, "sklearn.conftest", raising=False)
    try:
        artifacts.trusted_type("sklearn.conftest.Anything")
        assert "sklearn.conftest" not in sys.modules
    finally:
        sys.modules.pop("sklearn.conftest", None)


def test_a_zip_bomb_skops_file_is_refused_in_bounded_memory(fitted):
    """A 300 MB schema.json that compresses to about 300 KB: the server reads it whole
    into memory (and parses it) at registration. The right answer: refuse a skops file
    whose parts decompress past a limit, before reading them."""
    pad = b" " * (300 * 1024 * 1024)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("schema.json", b'{"__class__": "dict", "__module__": "builtins",'
                      b' "__loader__": "DictNode", "content": {}' + pad + b"}")
    data = out.getvalue()
    assert len(data) < 2 * 1024 * 1024
    del pad
    tracemalloc.start()
    try:
        with pytest.raises(Invalid):
            artifacts.check_types(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"checking a 1 MB file took {peak >> 20} MB"


def test_a_version_source_must_be_its_runs_own(team, store_model):
    """A version made from run Y's model folder but naming run X as its run records X's
    metrics and lake snapshots as the lineage of a model X never made. The right answer:
    the source lies under the run's own artifacts, else Invalid."""
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name=GROUP))
    x, y = store_model(), store_model()
    before = counts(team.platform)
    with pytest.raises(CharterError) as err:
        service.create_version(ctx, A, GROUP, ModelVersionCreate(source=y.source,
                                                                 run_id=x.run_id))
    assert err.value.code == "model_source_not_of_run"
    assert counts(team.platform) == before


@pytest.fixture
def pending(team, store_model):
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name=GROUP))
    stored = store_model()
    service.create_version(ctx, A, GROUP, ModelVersionCreate(source=stored.source,
                                                             run_id=stored.run_id))
    return team


def test_a_retried_approve_does_not_undo_a_later_reject(pending):
    """The lead approves (a client that retries sends an Idempotency-Key), then rejects;
    the approve's retry arrives late with its key. Approve takes no key (not
    `@idempotent`), so the retry runs again and silently approves the rejected version.
    The right answer: the retry returns the first approve's result and changes nothing."""
    http = pending.clients["lena"]._http
    path = f"/v1/accounts/{A}/registry/models/{GROUP}/versions/1"
    key = {"Idempotency-Key": "approve-churn-1-attempt"}
    first = http.post(f"{path}/approve", json={"reason": "AUC 0.91"}, headers=key)
    assert first.status_code == 200, first.text
    rejected = http.post(f"{path}/reject", json={"reason": "drift found"})
    assert rejected.json()["approval_status"] == "Rejected"
    http.post(f"{path}/approve", json={"reason": "AUC 0.91"}, headers=key)
    assert http.get(path).json()["approval_status"] == "Rejected"


def test_registering_a_type_that_names_f2py_leaves_the_server_answering(team, fitted,
                                                                         tmp_path):
    """Against `charter server`: the data scientist uploads a skops file naming
    `numpy.f2py.__main__.LogisticRegression` and registers it. The right answer: 422
    `untrusted_type`, nothing registered, the server answering as before."""
    from charter.sdk import Client
    from tests.servers import start

    server = start(team.platform.settings.home).ready()
    sam = Client(server.url, team.platform.admin.tokens.create(user="sam")["token"])
    try:
        sam.models.create_group(A, GROUP)
        run = sam.runs.create(A, sam.experiments.create(A, "churn").id)
        path = tmp_path / "model.skops"
        path.write_bytes(_with_schema(skops.io.dumps(fitted), lambda s: s.__setitem__(
            "__module__", "numpy.f2py.__main__")))
        sam.runs.upload(A, run.id, path, artifact_path="model")
        before = counts(team.platform)
        with pytest.raises(CharterError) as err:
            sam.models.create_version(A, GROUP, f"{run.experiment_id}/{run.id}/artifacts/model",
                                      run_id=run.id)
        import httpx

        alive = httpx.get(f"{server.url}/healthz", timeout=5).status_code
        log = server.log.read_text(errors="replace")
        assert (err.value.code, alive, "f2py" in log) == ("untrusted_type", 200, False), (
            err.value.message, log[-1500:])
        assert counts(team.platform) == before
        assert sam.models.group(A, GROUP).latest_version is None
    finally:
        sam.close()
        server.stop()


def test_an_onnx_file_that_is_not_one_is_refused_at_registration(pending, store_model,
                                                                 fitted, iris):
    """A valid model.skops beside a model.onnx of junk: registered, and predicting with
    it raises onnxruntime's own exception in the SDK. The right answer: registration
    checks model.onnx parses (`invalid_model_file`), as it checks model.skops."""
    X, _ = iris
    files = artifacts.dump_model(fitted, X[:5]).files
    stored = store_model({**files, "model.onnx": b"this is not an onnx model"})
    before = counts(pending.platform)
    with pytest.raises(CharterError) as err:
        service.create_version(pending.ctx("sam"), A, GROUP, ModelVersionCreate(
            source=stored.source, run_id=stored.run_id))
    assert err.value.code == "invalid_model_file"
    assert counts(pending.platform) == before


def test_a_registration_that_blew_up_is_still_audited(team, store_model, fitted, monkeypatch):
    """In-process: the f2py type name raises SystemExit out of `create_version`. The
    operation records no audit entry for the attempt (it handles `Exception` only). The
    right answer: the attempt is refused as `untrusted_type` and audited as failed."""
    from sqlalchemy import select

    from charter.audit.orm import AuditEvent

    monkeypatch.setattr(sys, "argv", ["charter"])
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name=GROUP))
    data = _with_schema(skops.io.dumps(fitted),
                        lambda s: s.__setitem__("__module__", "numpy.f2py.__main__"))
    stored = store_model({"model.skops": data})
    try:
        service.create_version(team.ctx("sam"), A, GROUP, ModelVersionCreate(
            source=stored.source, run_id=stored.run_id))
    except BaseException as error:
        raised = error
    finally:
        sys.modules.pop("numpy.f2py.__main__", None)
    with team.platform.runtime.db.read() as session:
        audited = list(session.scalars(select(AuditEvent.outcome).where(
            AuditEvent.principal == "sam", AuditEvent.action == "registry:CreateModelVersion")))
    assert audited, f"no audit record of the attempt (it raised {type(raised).__name__})"
    assert isinstance(raised, Invalid) and raised.code == "untrusted_type"


def test_an_approved_versions_files_cannot_be_overwritten_under_it(pending, fitted, iris):
    """After the lead approves version 1, the data scientist writes the run's artifact
    path `model/model.skops` again (any model, or junk). The artifact table now points at
    the new bytes, so the approved version can never be read again (`artifact_tampered`
    for good): one write of a run's artifact destroys an approved model. The right answer:
    the write is refused for a file a version records, or the version keeps reading the
    bytes it recorded."""
    from charter.experiments import service as experiments

    lena = pending.clients["lena"]
    lena.models.approve(A, GROUP, 1, reason="AUC 0.91")
    source = pending.clients["sam"].models.version(A, GROUP, 1).source
    original = service.get_version_file(pending.ctx("sam"), A, GROUP, 1, "model.skops")
    with contextlib.suppress(CharterError):  # refused: the right answer
        experiments.put_artifact(pending.ctx("sam"), A, f"{source}/model.skops", b"junk")
    assert service.get_version_file(pending.ctx("lena"), A, GROUP, 1,
                                    "model.skops") == original


def test_a_zip_bomb_is_refused_with_its_own_code(fitted):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("schema.json", b"{" + b" " * (artifacts.MAX_SKOPS_SCHEMA + 1) + b"}")
    with pytest.raises(Invalid) as err:
        artifacts.check_types(out.getvalue())
    assert err.value.code == "model_file_too_large"
    artifacts.check_types(skops.io.dumps(fitted))  # a real model passes


@pytest.mark.parametrize("name", [
    "sklearn.linear_model._logistic.LogisticRegression", "sklearn.tree._tree.Tree",
    "numpy.ndarray", "numpy.float64", "numpy.add"])
def test_the_types_models_use_are_trusted(name):
    assert artifacts.trusted_type(name)


@pytest.mark.parametrize("name", [
    "numpy.f2py.__main__.LogisticRegression", "sklearn.conftest.Anything",
    "sklearn.tests.test_base.T", "sklearn.utils._testing.MinimalClassifier",
    "numpy.testing.TestCase", "sklearn.externals.array_api_compat.numpy.ndarray",
    "numpy.f2py.f2py2e.main", "builtins.eval", "os.system", "numpy.lib.npyio._private",
    "numpy.__builtins__.eval", "sklearn.linear_model._logistic.np"])
def test_types_outside_the_libraries_models_are_refused(name):
    assert not artifacts.trusted_type(name)


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt()])
def test_an_operation_that_raises_past_exception_is_audited_and_reraised(
        team, store_model, monkeypatch, raised):
    from sqlalchemy import select

    from charter.audit.orm import AuditEvent

    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name=GROUP))
    stored = store_model()

    def blow_up(*args, **kwargs):
        raise raised

    monkeypatch.setattr(artifacts, "check_types", blow_up)
    before = counts(team.platform)
    with pytest.raises(type(raised)):
        service.create_version(ctx, A, GROUP, ModelVersionCreate(source=stored.source,
                                                                 run_id=stored.run_id))
    with team.platform.runtime.db.read() as session:
        audited = list(session.execute(select(AuditEvent.outcome, AuditEvent.error_code).where(
            AuditEvent.action == "registry:CreateModelVersion")))
    assert [tuple(a) for a in audited] == [("error", "internal_error")]
    assert counts(team.platform) == before


def test_a_source_of_a_logged_model_the_run_made_is_accepted(team, fitted, iris):
    """MLflow 3: a model's files lie under `<exp>/models/<model>/artifacts`, the logged
    model's source run being the version's run; another run's logged model is refused."""
    from charter.experiments import service as experiments
    from charter.experiments.schemas import ExperimentCreate, LoggedModelCreate, RunCreate

    X, _ = iris
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name=GROUP))
    exp = experiments.create_experiment(ctx, A, ExperimentCreate(name="lm"))
    run, other = (experiments.create_run(ctx, A, RunCreate(experiment_id=exp.id))
                  for _ in range(2))
    model = experiments.create_logged_model(ctx, A, LoggedModelCreate(
        experiment_id=exp.id, name="m", source_run_id=run.id))
    source = f"{exp.id}/models/{model.id}/artifacts"
    for path, data in artifacts.dump_model(fitted, X[:5]).files.items():
        experiments.put_artifact(ctx, A, f"{source}/{path}", data)
    with pytest.raises(Invalid) as err:
        service.create_version(ctx, A, GROUP, ModelVersionCreate(source=source,
                                                                 run_id=other.id))
    assert err.value.code == "model_source_not_of_run"
    made = service.create_version(ctx, A, GROUP, ModelVersionCreate(source=source,
                                                                    run_id=run.id))
    assert made.version == 1 and made.run_id == run.id


def test_a_version_names_only_a_logged_model_whose_files_it_is(team, fitted, iris):
    """Medium. The `/v1` create took any `model_id` as it came: a version could claim a
    logged model that does not exist, or one whose files it is not. Right: the source lies
    under the named model's artifacts (model_id_not_of_source), of a model the account
    has (logged_model_not_found), and nothing is registered otherwise."""
    X, _ = iris
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name=GROUP))
    exp = experiment_service.create_experiment(ctx, A, ExperimentCreate(name="lm"))
    run = experiment_service.create_run(ctx, A, RunCreate(experiment_id=exp.id))
    model, other = (experiment_service.create_logged_model(ctx, A, LoggedModelCreate(
        experiment_id=exp.id, name=name, source_run_id=run.id)) for name in ("m", "o"))
    source = f"{exp.id}/models/{model.id}/artifacts"
    for path, data in artifacts.dump_model(fitted, X[:5]).files.items():
        experiment_service.put_artifact(ctx, A, f"{source}/{path}", data)
    before = counts(team.platform)
    url = f"/v1/accounts/{A}/registry/models/{GROUP}/versions"
    for claimed, status, code in [("m-" + "f" * 32, 404, "logged_model_not_found"),
                                  (other.id, 422, "model_id_not_of_source")]:
        answer = team.clients["sam"]._http.post(url, json={
            "source": source, "run_id": run.id, "model_id": claimed})
        assert answer.status_code == status, answer.text
        assert answer.json()["code"] == code, answer.text
    assert counts(team.platform) == before
    made = team.clients["sam"]._http.post(url, json={
        "source": source, "run_id": run.id, "model_id": model.id})
    assert made.status_code == 201, made.text
    assert made.json()["model_id"] == model.id
