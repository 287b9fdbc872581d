"""MLflow's protocol attacked from outside, over real HTTP against a real `charter server`:
another account's token and ids, hostile ids and paths, malformed and giant input, races,
revoked and missing credentials. Each answer is MLflow's error shape with the right code,
never a 500; it tells nothing of what exists elsewhere, leaves nothing half-written and is
in the audit trail exactly once.

The tests under "handed over to the domains" name fixes made in the experiments and
registry domains; the races among them could only fail on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from charter.audit.orm import AuditEvent
from charter.core.events import OutboxEvent
from charter.experiments import orm as experiments_orm
from charter.registry import orm as registry_orm
from tests.mlflow.conftest import ACCOUNT, MlflowSetup
from tests.servers import start

API = "/api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts/artifacts"
OTHER = "team-b-dev"  # bea's account


@dataclass
class World:
    """What sam made in team-a-dev through MLflow's protocol, and clients to attack it."""

    setup: MlflowSetup
    experiment: str
    run: str
    model: str  # a logged model of the run, holding an MLmodel file
    sam: httpx.Client
    bea_here: httpx.Client  # bea's token on team-a-dev's tracking URI
    bea_home: httpx.Client  # bea's token on her own account's tracking URI

    def records(self, response: httpx.Response) -> list[tuple[str, str, str, str]]:
        """(principal, action, decision, outcome) of each audit record of the request."""
        with self.setup.platform.runtime.db.read() as session:
            return [(r.principal, r.action, r.decision, r.outcome) for r in session.scalars(
                select(AuditEvent).where(
                    AuditEvent.request_id == response.headers["x-request-id"]))]

    def count(self, table: Any, *where: Any) -> int:
        with self.setup.platform.runtime.db.read() as session:
            return session.scalar(select(func.count()).select_from(table).where(*where))


@pytest.fixture
def world(mlflow_setup: MlflowSetup) -> Iterator[World]:
    setup = mlflow_setup
    url = setup.server.url + "/mlflow"
    # One connection each, kept open: an answer that drops it shows in the next request.
    sam = httpx.Client(base_url=f"{url}/{ACCOUNT}", timeout=120,
                       headers={"authorization": f"Bearer {setup.sam_token}"})
    bea_here = httpx.Client(base_url=f"{url}/{ACCOUNT}", timeout=120,
                            headers={"authorization": f"Bearer {setup.bea_token}"})
    bea_home = httpx.Client(base_url=f"{url}/{OTHER}", timeout=120,
                            headers={"authorization": f"Bearer {setup.bea_token}"})
    experiment = _ok(sam.post(f"{API}/experiments/create", json={"name": "churn"}))[
        "experiment_id"]
    run = _ok(sam.post(f"{API}/runs/create", json={"experiment_id": experiment}))[
        "run"]["info"]["run_id"]
    _ok(sam.post(f"{API}/runs/log-metric", json={"run_id": run, "key": "loss", "value": 0.5,
                                                 "timestamp": 1, "step": 0}))
    _ok(sam.put(f"{ART}/{experiment}/{run}/artifacts/docs/notes.txt", content=b"notes"))
    model = _ok(sam.post(f"{API}/logged-models", json={
        "experiment_id": experiment, "name": "model", "source_run_id": run}))["model"]["info"]
    location = model["artifact_uri"].removeprefix("mlflow-artifacts:/")
    _ok(sam.put(f"{ART}/{location}/MLmodel", content=b"flavors: {}\n"))
    _ok(sam.post(f"{API}/registered-models/create", json={"name": "churn"}))
    _ok(sam.post(f"{API}/model-versions/create", json={
        "name": "churn", "source": f"models:/{model['model_id']}",
        "model_id": model["model_id"]}))
    yield World(setup, experiment, run, model["model_id"], sam, bea_here, bea_home)
    for client in (sam, bea_here, bea_home):
        client.close()


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def _refused(response: httpx.Response, status: int, code: str,
             charter_code: str | None = None) -> dict[str, Any]:
    """MLflow's error shape, the status MLflow gives `code`, and Charter's code beside."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message", "charter_code"}, body
    assert body["error_code"] == code and body["message"], body
    if charter_code is not None:
        assert body["charter_code"] == charter_code, body
    return body


# -- another account -------------------------------------------------------------------

def test_another_accounts_ids_in_ones_own_account_are_missing_in_the_same_words(world):
    """bea, in her own account, names team-a-dev's run, experiment, logged model, files
    and versions in every shape: each is "not found" exactly as an id that exists nowhere
    is, one audit record each, and nothing of hers is made from them."""
    bea, run, experiment, model = world.bea_home, world.run, world.experiment, world.model
    absent_run, absent_model = "0" * 32, "m-" + "0" * 32
    pairs = [
        (lambda r: bea.get(f"{API}/runs/get", params={"run_id": r}), run, absent_run),
        (lambda r: bea.get(f"{API}/metrics/get-history",
                           params={"run_id": r, "metric_key": "loss"}), run, absent_run),
        (lambda r: bea.post(f"{API}/runs/log-parameter",
                            json={"run_id": r, "key": "k", "value": "v"}), run, absent_run),
        (lambda r: bea.post(f"{API}/runs/delete", json={"run_id": r}), run, absent_run),
        (lambda e: bea.get(f"{API}/experiments/get", params={"experiment_id": e}),
         experiment, "99999"),
        (lambda e: bea.post(f"{API}/runs/create", json={"experiment_id": e}),
         experiment, "99999"),
        (lambda e: bea.post(f"{API}/runs/search", json={"experiment_ids": [e]}),
         experiment, "99999"),
        (lambda m: bea.get(f"{API}/logged-models/{m}"), model, absent_model),
        (lambda m: bea.patch(f"{API}/logged-models/{m}", json={
            "status": "LOGGED_MODEL_READY"}), model, absent_model),
        (lambda r: bea.get(f"{ART}/{experiment}/{r}/artifacts/docs/notes.txt"),
         run, absent_run),
        (lambda r: bea.post(f"{API}/model-versions/create", json={
            "name": "x", "source": f"runs:/{r}/docs"}), run, absent_run),
        (lambda m: bea.post(f"{API}/model-versions/create", json={
            "name": "x", "source": f"models:/{m}"}), model, absent_model),
        (lambda n: bea.get(f"{API}/registered-models/get", params={"name": n}),
         "churn", "absent"),
        (lambda n: bea.get(f"{ART}/registered-models/{n}/1/MLmodel"), "churn", "absent"),
    ]
    for call, theirs, absent in pairs:
        answer, nowhere = call(theirs), call(absent)
        body = _refused(answer, 404, "RESOURCE_DOES_NOT_EXIST")
        assert body == {**_refused(nowhere, 404, "RESOURCE_DOES_NOT_EXIST"),
                        "message": body["message"]}
        assert body["message"].replace(theirs, "ID") == \
            nowhere.json()["message"].replace(absent, "ID"), body
        assert ACCOUNT not in body["message"], body
        assert [(p, d) for p, _, d, _ in world.records(answer)] == [("bea", "allow")]
    # A listing of their run's folder in her account is her own empty folder.
    assert _ok(bea.get(ART, params={"path": f"{experiment}/{run}/artifacts"})) == {}
    assert world.count(registry_orm.ModelGroup, registry_orm.ModelGroup.account == OTHER) == 0
    assert world.count(experiments_orm.Run, experiments_orm.Run.account == OTHER) == 0


def test_another_accounts_token_on_this_account_learns_nothing(world):
    """bea on team-a-dev's URL: an id that exists there and one that exists nowhere are
    refused in the same words (403), and so is an account that does not exist."""
    bea = world.bea_here
    for path, params, absent in [
            (f"{API}/runs/get", {"run_id": world.run}, {"run_id": "0" * 32}),
            (f"{API}/logged-models/{world.model}", None, None),
            (f"{API}/registered-models/get", {"name": "churn"}, {"name": "absent"})]:
        there = bea.get(path, params=params)
        body = _refused(there, 403, "PERMISSION_DENIED", "access_denied")
        assert world.records(there) == [("bea", world.records(there)[0][1], "deny", "denied")]
        if absent is not None:
            missing = _refused(bea.get(path, params=absent), 403, "PERMISSION_DENIED")
            assert body["message"].replace(world.run, "ID").replace("churn", "ID") == \
                missing["message"].replace("0" * 32, "ID").replace("absent", "ID")
    with httpx.Client(base_url=world.setup.server.url + "/mlflow/nowhere-dev", timeout=60,
                      headers={"authorization": f"Bearer {world.setup.bea_token}"}) as nowhere:
        missing = _refused(nowhere.get(f"{API}/runs/get", params={"run_id": world.run}),
                           403, "PERMISSION_DENIED")
    here = bea.get(f"{API}/runs/get", params={"run_id": world.run}).json()["message"]
    assert missing["message"].replace("nowhere-dev", ACCOUNT) == here


def test_artifact_paths_never_leave_the_accounts_root(world):
    """Traversal in every spelling is refused before anything is stored; a source URI
    naming a host or another account's path registers nothing."""
    sam, experiment, run = world.sam, world.experiment, world.run
    base = f"{ART}/{experiment}/{run}/artifacts"
    home = world.setup.platform.settings.home
    for path in ["..%2F..%2F..%2Fescape.txt", "%2e%2e/%2e%2e/escape.txt", "a%5C..%5Cescape.txt",
                 "%2Fetc%2Fescape.txt", "a//escape.txt", "x" * 1100]:
        refused = sam.put(f"{base}/{path}", content=b"escape")
        _refused(refused, 400, "INVALID_PARAMETER_VALUE", "invalid_artifact_path")
        assert len(world.records(refused)) == 1
    _refused(sam.put(f"{ART}//escape.txt", content=b"escape"), 400,
             "INVALID_PARAMETER_VALUE", "invalid_artifact_path")
    _refused(sam.put(f"{ART}/registered-models/churn/1/MLmodel", content=b"x"), 400,
             "INVALID_PARAMETER_VALUE", "invalid_artifact_path")
    _refused(sam.get(ART, params={"path": f"{experiment}/../.."}), 400,
             "INVALID_PARAMETER_VALUE", "invalid_artifact_path")
    for source in [f"mlflow-artifacts://{OTHER}/../{OTHER}/{experiment}",
                   f"mlflow-artifacts:/../{OTHER}/{experiment}/{run}/artifacts",
                   f"runs:/{run}/../../../escape", "file:///etc", "s3://bucket/model"]:
        answer = sam.post(f"{API}/model-versions/create", json={"name": "churn",
                                                                "source": source})
        assert answer.status_code in (400, 404), (source, answer.text)
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE",
                                               "RESOURCE_DOES_NOT_EXIST"), answer.text
    assert world.count(experiments_orm.Artifact,
                       experiments_orm.Artifact.path.like("%escape%")) == 0
    assert not [p for p in home.rglob("*escape*")]
    assert world.count(registry_orm.ModelVersion) == 1


# -- ids and numbers a server must not trip on -----------------------------------------

def test_a_version_that_is_no_number_is_refused_not_a_500(world):
    """`str.isdigit` takes "²" and 5000 digits, which `int` then refuses: every route that
    reads a version number answered a 500 before authorizing anything (and an Arabic-Indic
    one was read as version 1)."""
    sam = world.sam
    for version in ["\u00b2", "\u0661", "9" * 5000, "-1", "0", "1.0", "2147483648"]:
        _refused(sam.get(f"{API}/model-versions/get", params={"name": "churn",
                                                              "version": version}),
                 400, "INVALID_PARAMETER_VALUE", "invalid_version")
        _refused(sam.post(f"{API}/registered-models/alias", json={
            "name": "churn", "alias": "a", "version": version}),
            400, "INVALID_PARAMETER_VALUE", "invalid_version")
        missing = sam.get(f"{ART}/registered-models/churn/{version}/MLmodel")
        _refused(missing, 404, "RESOURCE_DOES_NOT_EXIST", "model_version_not_found")
        assert [(p, d) for p, _, d, _ in world.records(missing)] == [("sam", "deny")]
        _refused(sam.get(ART, params={"path": f"registered-models/churn/{version}"}),
                 404, "RESOURCE_DOES_NOT_EXIST", "model_version_not_found")
        _refused(world.bea_here.get(f"{API}/model-versions/get", params={
            "name": "churn", "version": version}), 400, "INVALID_PARAMETER_VALUE")
    assert _ok(sam.get(f"{API}/model-versions/get", params={"name": "churn", "version": "1"}))


def test_an_unexpected_failure_is_answered_in_mlflows_shape_recorded_and_survived(world):
    """A failure nobody foresaw (here a row changed in the database behind Charter's back
    that the code cannot read) is answered as MLflow's INTERNAL_ERROR, recorded in the
    audit trail once, and the connection stays usable. Starlette's own error middleware,
    inside the mounted MLflow app, answered a plain-text 500 (and recorded nothing of a
    failure outside an operation), and uvicorn dropped the connection under the client's
    next request."""
    with world.setup.platform.runtime.db.transaction() as session:
        session.execute(update(experiments_orm.LoggedModel).where(
            experiments_orm.LoggedModel.id == world.model).values(metrics=[]))
    failed = world.sam.get(f"{API}/logged-models/{world.model}")
    body = _refused(failed, 500, "INTERNAL_ERROR", "internal_error")
    assert "Traceback" not in body["message"]
    assert [(p, d, o) for p, _, d, o in world.records(failed)] == [("sam", "allow", "error")]
    # The same connection serves the next request.
    assert _ok(world.sam.get(f"{API}/runs/get", params={"run_id": world.run}))


def test_an_experiment_id_past_32_bits_is_missing_not_a_500(world):
    """Experiment ids are a 32-bit integer column on PostgreSQL, which refuses a larger
    number even to compare: an id past it answered a 500, not "not found"."""
    for big in ("2147483648", "9" * 18):
        for answer in (
                world.sam.get(f"{API}/experiments/get", params={"experiment_id": big}),
                world.sam.post(f"{API}/runs/create", json={"experiment_id": big}),
                world.sam.post(f"{API}/runs/search", json={"experiment_ids": [big]}),
                world.sam.post(f"{API}/logged-models", json={"experiment_id": big,
                                                             "name": "m"})):
            _refused(answer, 404, "RESOURCE_DOES_NOT_EXIST", "experiment_not_found")
        assert _ok(world.sam.post(f"{API}/logged-models/search",
                                  json={"experiment_ids": [big]})) == {"models": []}


# -- giant and malformed input ---------------------------------------------------------

def test_giant_lists_are_refused_before_any_work(world):
    """A run's outputs ran one operation, and wrote one audit record, for each model named
    (3,000 took seconds on SQLite and over a minute on PostgreSQL; a 10 MB body names
    200,000); a search of logged models put every experiment id in one query (past
    PostgreSQL's bind-parameter limit: a 500)."""
    sam, model = world.sam, world.model
    many = sam.post(f"{API}/runs/outputs", json={
        "run_id": world.run, "models": [{"model_id": model}] * 101})
    _refused(many, 400, "INVALID_PARAMETER_VALUE", "invalid_request")
    assert len(world.records(many)) == 1
    again = sam.post(f"{API}/runs/outputs", json={
        "run_id": world.run, "models": [{"model_id": model, "step": s} for s in range(100)]})
    _ok(again)
    assert len(world.records(again)) == 2  # the run, and the model once
    search = sam.post(f"{API}/logged-models/search",
                      json={"experiment_ids": [world.experiment] * 70_000})
    _refused(search, 400, "INVALID_PARAMETER_VALUE", "invalid_request")
    assert len(world.records(search)) == 1


def test_a_body_sent_in_chunks_is_held_to_the_servers_limit(world, monkeypatch):
    """A body without a length (chunked) was read whole into memory whatever its size:
    CHARTER_API_MAX_BODY_BYTES held only for a body that declared its length."""
    monkeypatch.setenv("CHARTER_API_MAX_BODY_BYTES", "4096")
    small = start(world.setup.platform.settings.home).ready()
    try:
        url = (f"{small.url}/mlflow/{ACCOUNT}{ART}/{world.experiment}/{world.run}"
               "/artifacts/big.bin")
        headers = {"authorization": f"Bearer {world.setup.sam_token}"}

        def chunks() -> Iterator[bytes]:
            for _ in range(64):
                yield b"x" * 1024

        refused = httpx.put(url, headers=headers, content=chunks(), timeout=60)
        _refused(refused, 400, "INVALID_PARAMETER_VALUE", "body_too_large")
        assert [(p, d) for p, _, d, _ in world.records(refused)] == [("sam", "deny")]
        _refused(httpx.put(url, headers=headers, content=b"x" * 65536, timeout=60),
                 400, "INVALID_PARAMETER_VALUE", "body_too_large")
        _ok(httpx.put(url, headers=headers, content=iter([b"x" * 4096]), timeout=60))
    finally:
        small.stop()
    assert world.count(experiments_orm.Artifact, experiments_orm.Artifact.size > 4096) == 0


def test_malformed_json_wrong_types_and_numbers_out_of_range_are_refused(world):
    sam, run = world.sam, world.run
    json_type = {"content-type": "application/json"}
    cases = [
        sam.post(f"{API}/runs/log-batch", content=b"[" * 50_000 + b"]" * 50_000,
                 headers=json_type),
        sam.post(f"{API}/runs/log-batch", content=b"null", headers=json_type),
        sam.post(f"{API}/runs/log-batch", content=b'{"run_id": "' + run.encode() + b'"',
                 headers=json_type),
        sam.post(f"{API}/runs/log-batch", json={"run_id": 5}),
        sam.post(f"{API}/runs/log-batch", content=b'{"run_id": "a"}'),  # no content type
        sam.post(f"{API}/runs/log-metric", headers=json_type, content=(
            b'{"run_id": "%s", "key": "k", "value": 1, "timestamp": NaN}' % run.encode())),
        sam.post(f"{API}/runs/log-metric", json={"run_id": run, "key": "k", "value": True,
                                                 "timestamp": 1}),
        sam.post(f"{API}/runs/log-metric", json={"run_id": run, "key": "k", "value": 1,
                                                 "timestamp": 1, "step": 2**63}),
        sam.post(f"{API}/runs/create", json={"experiment_id": world.experiment,
                                             "start_time": 2**64}),
        sam.post(f"{API}/runs/update", json={"run_id": run, "end_time": 2**62}),
        sam.post(f"{API}/runs/update", json={"run_id": run, "status": "DONE"}),
        sam.post(f"{API}/runs/log-batch", json={"run_id": run, "metrics": [
            {"key": "m", "value": 1.0, "timestamp": t, "step": 0} for t in range(1001)]}),
        sam.post(f"{API}/runs/log-batch", json={"run_id": run, "params": [
            {"key": f"p{i}", "value": "v"} for i in range(101)]}),
        sam.post(f"{API}/runs/search", json={"experiment_ids": [world.experiment],
                                             "max_results": 10**30}),
        sam.post(f"{API}/runs/search", json={"experiment_ids": [world.experiment],
                                             "filter": "attributes.start_time > 'x'"}),
        sam.get(f"{API}/metrics/get-history", params={"run_id": run, "metric_key": "loss",
                                                       "page_token": "garbage"}),
    ]
    for answer in cases:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")
        assert len(world.records(answer)) == 1, answer.text
    # NaN and infinities are values MLflow logs; a timestamp is not.
    _ok(sam.post(f"{API}/runs/log-metric", headers=json_type, content=(
        b'{"run_id": "%s", "key": "inf", "value": Infinity, "timestamp": 1}' % run.encode())))
    assert world.count(experiments_orm.MetricPoint,
                       experiments_orm.MetricPoint.run_id == run) == 2
    assert world.count(experiments_orm.Param, experiments_orm.Param.run_id == run) == 0


# -- writes: retried, raced, reserved, after the end -----------------------------------

def test_a_retried_batch_changes_nothing_and_reserved_tags_do_not_change_the_user(world):
    sam, run = world.sam, world.run
    batch = {"run_id": run, "params": [{"key": "lr", "value": "0.1"}],
             "metrics": [{"key": "auc", "value": 0.9, "timestamp": 5, "step": 1}],
             "tags": [{"key": "mlflow.user", "value": "admin"},
                      {"key": "mlflow.source.name", "value": "evil.py"}]}
    first, second = sam.post(f"{API}/runs/log-batch", json=batch), \
        sam.post(f"{API}/runs/log-batch", json=batch)
    for answer in (first, second):
        _ok(answer)
        assert world.records(answer) == [("sam", "experiments:LogBatch", "allow", "success")]
    assert world.count(experiments_orm.MetricPoint, experiments_orm.MetricPoint.run_id == run,
                       experiments_orm.MetricPoint.key == "auc") == 1
    _refused(sam.post(f"{API}/runs/log-parameter", json={"run_id": run, "key": "lr",
                                                         "value": "0.2"}),
             400, "INVALID_PARAMETER_VALUE", "param_changed")
    info = _ok(sam.get(f"{API}/runs/get", params={"run_id": run}))["run"]["info"]
    assert info["user_id"] == "sam"
    with world.setup.platform.runtime.db.read() as session:
        stored = session.get(experiments_orm.Run, run)
        assert (stored.user, stored.created_by, stored.source) == ("sam", "sam", None)


def test_a_file_read_while_it_is_written_again_is_one_of_its_versions(world):
    """The proxy read a file's recorded digest and then its bytes by path, in two
    transactions: a write in between made it answer another file's bytes as changed behind
    Charter's back (`artifact_tampered`) to a reader who did nothing wrong."""
    sam, path = world.sam, f"{ART}/{world.experiment}/{world.run}/artifacts/race.txt"
    versions = [f"version {i} ".encode() * 50 for i in range(12)]
    _ok(sam.put(path, content=versions[0]))
    url, headers = str(sam.base_url).rstrip("/") + path, dict(sam.headers)

    def act(i: int) -> httpx.Response:
        if i % 2:
            return httpx.put(url, headers=headers, content=versions[i % len(versions)],
                             timeout=60)
        return httpx.get(url, headers=headers, timeout=60)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(act, range(96)))
    for answer in answers:
        assert answer.status_code == 200, answer.text
        if answer.request.method == "GET":
            assert answer.content in versions


def test_a_version_names_only_the_logged_model_its_files_are(world):
    """The client's `model_id` was recorded as it came: a version could claim a logged
    model that does not exist, of another account, or other than its source."""
    sam, model = world.sam, world.model
    other = _ok(sam.post(f"{API}/logged-models", json={
        "experiment_id": world.experiment, "name": "other", "source_run_id": world.run}))[
        "model"]["info"]["model_id"]
    for source, claimed, code in [
            (f"models:/{model}", "m-" + "f" * 32, "model_id_not_of_source"),
            (f"models:/{model}", other, "model_id_not_of_source"),
            (f"runs:/{world.run}/docs", other, "model_id_not_of_source"),
            (f"runs:/{world.run}/docs", "m-" + "f" * 32, "logged_model_not_found")]:
        answer = sam.post(f"{API}/model-versions/create", json={
            "name": "churn", "source": source, "model_id": claimed, "run_id": world.run})
        assert answer.status_code in (400, 404), answer.text
        assert answer.json()["charter_code"] == code, answer.text
    made = _ok(sam.post(f"{API}/model-versions/create", json={
        "name": "churn", "source": f"models:/{model}"}))["model_version"]
    assert (made["model_id"], made["run_id"]) == (model, world.run)
    with world.setup.platform.runtime.db.read() as session:
        assert set(session.scalars(select(registry_orm.ModelVersion.model_id))) == {model}


def test_a_refused_version_is_recorded_as_refused(world):
    """A description past the limit was found only after the source was looked up: the
    trail held that lookup, allowed, and nothing of the refusal."""
    answer = world.sam.post(f"{API}/model-versions/create", json={
        "name": "churn", "source": f"models:/{world.model}", "description": "d" * 5001})
    _refused(answer, 400, "INVALID_PARAMETER_VALUE", "invalid_request")
    assert world.records(answer) == [("sam", "api:RejectRequest", "deny", "rejected")]


def test_a_folder_listed_with_a_trailing_slash_is_the_folder(world):
    """The client lists `docs/` as `<run>/artifacts/docs/`: MLflow's server lists the folder;
    Charter refused it as an invalid path."""
    base = f"{world.experiment}/{world.run}/artifacts"
    for path in (f"{base}/docs/", f"{base}/docs//"):
        assert _ok(world.sam.get(ART, params={"path": path})) == {
            "files": [{"path": "notes.txt", "is_dir": False, "file_size": 5}]}
    folder = world.sam.get(f"{ART}/{base}/docs")
    _refused(folder, 404, "RESOURCE_DOES_NOT_EXIST", "artifact_not_found")
    assert len(world.records(folder)) == 1


def test_credentials_other_than_a_live_token_write_nothing(world):
    setup, run = world.setup, world.run
    url = f"{setup.tracking_uri}{API}/runs/log-parameter"
    body = {"run_id": run, "key": "who", "value": "anyone"}
    basic = httpx.post(url, json=body, auth=("sam", setup.sam_token))
    _refused(basic, 401, "UNAUTHENTICATED", "basic_auth_refused")
    none = httpx.post(url, json=body)
    _refused(none, 401, "UNAUTHENTICATED", "missing_token")
    for token in (setup.bea_token[:-2] + "xx", "not-a-token"):
        _refused(httpx.post(url, json=body, headers={"authorization": f"Bearer {token}"}),
                 401, "UNAUTHENTICATED", "invalid_token")
    admin = setup.platform.admin
    for token in admin.tokens.list(user="sam"):
        admin.tokens.revoke(token.id)
    revoked = world.sam.post(f"{API}/runs/log-parameter", json=body)
    _refused(revoked, 401, "UNAUTHENTICATED", "token_revoked")
    put = world.sam.put(f"{ART}/{world.experiment}/{run}/artifacts/late.bin",
                        content=b"x" * (2**21))
    _refused(put, 401, "UNAUTHENTICATED", "token_revoked")
    for answer in (basic, none, revoked, put):
        assert world.records(answer) == [("anonymous", "identity:Authenticate", "deny",
                                          "denied")]
    assert world.count(experiments_orm.Param, experiments_orm.Param.key == "who") == 0
    assert world.count(experiments_orm.Artifact,
                       experiments_orm.Artifact.path.like("%late.bin")) == 0


def test_a_path_the_mount_cannot_match_still_answers_mlflows_shape(world):
    """A newline in the path: the /mlflow mount does not match it, and the platform's own
    404 answered it in Charter's shape, which the MLflow client cannot read."""
    _refused(world.sam.put(f"{ART}/{world.experiment}/{world.run}/artifacts/a%0Ab",
                           content=b"x"), 404, "ENDPOINT_NOT_FOUND")


# -- handed over to the domains --------------------------------------------------------

def test_a_deleted_run_takes_no_more_files(world):
    """A file written through the proxy into a deleted run's folder was stored: logging
    to a deleted run is refused, and nothing is stored."""
    _ok(world.sam.post(f"{API}/runs/delete", json={"run_id": world.run}))
    _refused(world.sam.put(f"{ART}/{world.experiment}/{world.run}/artifacts/late.txt",
                           content=b"late"), 400, "INVALID_PARAMETER_VALUE", "run_not_active")
    assert world.count(experiments_orm.Artifact,
                       experiments_orm.Artifact.path.like("%late.txt")) == 0


def _at_once(count: int, act: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(act, range(count)))


def test_parallel_creations_of_one_registered_model_make_one(world):
    """Of parallel creations of one name on PostgreSQL, one met the unique index (a 500)
    instead of finding the group made (RESOURCE_ALREADY_EXISTS)."""
    url, headers = f"{world.setup.tracking_uri}{API}/registered-models/create", \
        {"authorization": f"Bearer {world.setup.sam_token}"}
    for round_ in range(6):
        answers = _at_once(16, lambda i, name=f"same-{round_}": httpx.post(
            url, headers=headers, timeout=60, json={"name": name}))
        assert sorted(a.status_code for a in answers) == [200] + [400] * 15, \
            [a.text for a in answers if a.status_code not in (200, 400)]


def test_parallel_tags_of_a_logged_model_are_all_kept(world):
    """set_logged_model_tags read and rewrote the tags without a row lock: parallel
    writers on PostgreSQL lost each other's tags."""
    url = f"{world.setup.tracking_uri}{API}/logged-models/{world.model}/tags"
    headers = {"authorization": f"Bearer {world.setup.sam_token}"}
    answers = _at_once(24, lambda i: httpx.patch(url, headers=headers, timeout=60, json={
        "tags": [{"key": f"k{i}", "value": "v"}]}))
    assert {a.status_code for a in answers} == {200}
    tags = _ok(world.sam.get(f"{API}/logged-models/{world.model}"))["model"]["info"]["tags"]
    assert {t["key"] for t in tags} >= {f"k{i}" for i in range(24)}


def test_parallel_ends_of_a_run_finish_it_once(world):
    """update_run read the status without a row lock: parallel ends of one run on
    PostgreSQL each emitted RunFinished."""
    url = f"{world.setup.tracking_uri}{API}/runs/update"
    headers = {"authorization": f"Bearer {world.setup.sam_token}"}
    runs = [_ok(world.sam.post(f"{API}/runs/create", json={
        "experiment_id": world.experiment}))["run"]["info"]["run_id"] for _ in range(4)]
    for run in runs:
        _at_once(16, lambda i, run=run: httpx.post(url, headers=headers, timeout=60, json={
            "run_id": run, "status": "FINISHED"}))
    with world.setup.platform.runtime.db.read() as session:
        finished = [e.payload["run_id"] for e in session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "RunFinished"))]
    assert sorted(finished) == sorted(runs)
