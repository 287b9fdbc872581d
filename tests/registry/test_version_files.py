"""A version's files are read under the registry's permission alone: an ML engineer and a
governance officer, who may describe model versions but not read experiments' artifacts,
download and load a model (deploying needs exactly that), each read one audit record;
another account's users and users without registry read are refused."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from charter.errors import CharterError
from charter.registry import service
from charter.registry.schemas import ModelGroupCreate, ModelVersionCreate
from tests.registry.conftest import A, object_key


@pytest.fixture
def readers(team, store_model):
    """Version 1 of team-a-dev's churn (sam's run), and clients of eve (team-a's ML
    engineer), gina (a governance officer), carl (team-b's ML engineer)."""
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    stored = store_model()
    service.create_version(ctx, A, "churn", ModelVersionCreate(source=stored.source,
                                                               run_id=stored.run_id))
    platform = team.platform
    for name, group in (("eve", "team-a-ml-engineers"), ("gina", "governance-officers"),
                        ("carl", "team-b-ml-engineers")):
        team.clients[name], _ = platform.user(name, group)
    return team, stored


def _records(platform, principal: str) -> list[tuple[str, str]]:
    with platform.runtime.db.read() as session:
        return [(e.action, e.decision) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.principal == principal)
            .order_by(AuditEvent.seq))]


@pytest.mark.parametrize("who", ["eve", "gina"])
def test_who_may_describe_a_version_downloads_and_loads_its_model(readers, fitted, iris,
                                                                   who):
    team, stored = readers
    client = team.clients[who]
    X, _ = iris
    before = _records(team.platform, who)
    model = client.models.load(A, "churn", 1)
    assert type(model) is type(fitted) and (model.predict(X) == fitted.predict(X)).all()
    version = client.models.version(A, "churn", 1)
    onnx = next(f for f in version.files if f.path == "model.onnx")
    data = client.models.download(A, "churn", 1, "model.onnx")
    assert hashlib.sha256(data).hexdigest() == onnx.sha256 and len(data) == onnx.size
    assert (client.models.predict_onnx(A, "churn", 1, X)["label"] == fitted.predict(X)).mean() \
        > 0.98
    # One record per read of a file, and none from the experiments domain: the run's
    # artifacts were not read as the caller.
    new = _records(team.platform, who)[len(before):]
    assert new.count(("registry:DescribeModelVersionFile", "allow")) == 3
    assert not [a for a, _ in new if not a.startswith("registry:")], new
    # They may still not read the run's artifacts themselves.
    with pytest.raises(CharterError) as err:
        client.request("GET", f"/v1/accounts/{A}/runs/{stored.run_id}/artifacts/file",
                       params={"path": "model/model.skops"}, raw=True)
    assert err.value.code == "access_denied"


def test_a_tampered_file_is_refused_to_them_too(readers):
    team, stored = readers
    storage = team.platform.runtime.storage
    key = object_key(team.platform, A, f"{stored.source}/model.skops")
    data = bytearray(storage.get_bytes(key))
    data[len(data) // 2] ^= 0xFF
    storage.put_bytes(key, bytes(data))
    for who in ("eve", "gina"):
        with pytest.raises(CharterError) as err:
            team.clients[who].models.load(A, "churn", 1)
        assert err.value.code == "artifact_tampered"


@pytest.mark.parametrize("who", ["bob", "carl", "nobody"])
def test_other_accounts_and_users_without_registry_read_are_refused(readers, who):
    team, _ = readers
    before = _records(team.platform, who)
    for read in (lambda c: c.models.load(A, "churn", 1),
                 lambda c: c.models.download(A, "churn", 1, "model.onnx")):
        with pytest.raises(CharterError) as err:
            read(team.clients[who])
        assert err.value.code == "access_denied"
    assert ("registry:DescribeModelVersion", "deny") in _records(team.platform, who)[len(before):]
    # Asking for the file straight away is refused by the file's own operation.
    with pytest.raises(CharterError) as err:
        team.clients[who].request("GET", f"/v1/accounts/{A}/registry/models/churn/versions/1"
                                  "/file", params={"path": "model.onnx"}, raw=True)
    assert err.value.code == "access_denied"
    assert _records(team.platform, who)[-1] == ("registry:DescribeModelVersionFile", "deny")
