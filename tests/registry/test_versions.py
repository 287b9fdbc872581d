"""Model groups and versions on the real metadata store: numbers from 1 under a lock, what a
version records, tags and aliases, and registration refusing untrusted types."""

from __future__ import annotations

import math
import threading

import pytest
import skops.io

from charter.core.pagination import PageParams
from charter.errors import CharterError, Conflict, Invalid, NotFound
from charter.experiments import service as experiments
from charter.experiments.schemas import MetricIn, RunLog
from charter.registry import artifacts, service
from charter.registry.schemas import ModelGroupCreate, ModelVersionCreate
from tests.registry.conftest import A, B, counts, events, object_key, share_bank_table
from tests.registry.test_artifacts import Custom


def test_versions_number_from_one_and_record_their_sources(team, store_model):
    ctx = team.ctx("sam")
    group = service.create_group(ctx, A, ModelGroupCreate(name="churn", tags={"team": "a"}))
    assert (group.latest_version, group.aliases, group.crn) == (
        None, {}, "crn:team-a-dev:registry:model-group/churn")
    snapshot = share_bank_table(team)
    stored = store_model(snapshot=snapshot)
    v1 = service.create_version(ctx, A, "churn", ModelVersionCreate(
        source=stored.source, run_id=stored.run_id, tags={"k": "v"}))
    assert (v1.version, v1.status, v1.approval_status, v1.approval) == (
        1, "READY", "PendingManualApproval", None)
    assert v1.flavor == "skops" and v1.created_by == "sam"
    assert [f.path for f in v1.files] == ["model.onnx", "model.skops"]
    for record in v1.files:  # the artifact table's sha256, and the bytes' own
        info = experiments.artifact_info(ctx, A, f"{stored.source}/{record.path}")
        data = experiments.get_artifact(ctx, A, f"{stored.source}/{record.path}")
        assert record.sha256 == info.sha256 == artifacts.sha256_of(data)
        assert record.size == len(data)
    assert [(m.key, m.value, m.step) for m in v1.metrics] == [("auc", 0.91, 3)]
    assert [(i.account, i.table, i.snapshot_id) for i in v1.lake_inputs] == [
        (A, "bank.customers", snapshot)]
    v2 = service.create_version(ctx, A, "churn", ModelVersionCreate(source=store_model().source))
    assert v2.version == 2 and v2.run_id is None and v2.metrics == []
    assert [v.version for v in service.list_versions(ctx, A, "churn").items] == [2, 1]
    paged = service.list_versions(ctx, A, "churn", page=PageParams(limit=1))
    assert [v.version for v in paged.items] == [2] and paged.total == 2
    after = service.list_versions(ctx, A, "churn", page=PageParams(limit=1,
                                                                   cursor=paged.next_cursor))
    assert [v.version for v in after.items] == [1]
    assert service.get_group(ctx, A, "churn").latest_version == 2
    assert service.get_version(ctx, A, "churn", 1) == v1
    created = events(team.platform, "ModelVersionCreated")
    assert [(e["group"], e["version"]) for e in created] == [("churn", 1), ("churn", 2)]
    # Numbers are per group.
    service.create_group(ctx, A, ModelGroupCreate(name="fraud"))
    assert service.create_version(ctx, A, "fraud", ModelVersionCreate(
        source=stored.source)).version == 1
    assert [g.name for g in service.list_groups(ctx, A).items] == ["churn", "fraud"]


def test_concurrent_creates_never_share_a_number(team, store_model):
    service.create_group(team.ctx(), A, ModelGroupCreate(name="churn"))
    source = store_model().source
    got, failures = [], []

    def create() -> None:
        try:
            got.append(service.create_version(team.ctx(), A, "churn",
                                              ModelVersionCreate(source=source)).version)
        except Exception as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    assert service.get_group(team.ctx(), A, "churn").latest_version == 6
    assert len(events(team.platform, "ModelVersionCreated")) == 6


def test_tags_and_aliases(team, store_model):
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    source = store_model().source
    for _ in range(2):
        service.create_version(ctx, A, "churn", ModelVersionCreate(source=source))
    assert service.set_group_tag(ctx, A, "churn", "owner", "sam").tags == {"owner": "sam"}
    assert service.delete_group_tag(ctx, A, "churn", "owner").tags == {}
    assert service.set_version_tag(ctx, A, "churn", 2, "stage", "dev").tags == {"stage": "dev"}
    assert service.delete_version_tag(ctx, A, "churn", 2, "stage").tags == {}
    assert service.set_alias(ctx, A, "churn", "champion", 1).aliases == {"champion": 1}
    assert service.get_version(ctx, A, "churn", 1).aliases == ["champion"]
    assert service.set_alias(ctx, A, "churn", "champion", 2).aliases == {"champion": 2}
    assert service.get_version_by_alias(ctx, A, "churn", "champion").version == 2
    assert service.list_versions(ctx, A, "churn").items[0].aliases == ["champion"]
    assert service.delete_alias(ctx, A, "churn", "champion").aliases == {}
    with pytest.raises(NotFound) as err:
        service.get_version_by_alias(ctx, A, "churn", "champion")
    assert err.value.code == "model_alias_not_found"
    before = counts(team.platform)
    for alias, version, code in (("latest", 1, "invalid_alias"), ("v3", 1, "invalid_alias"),
                                 ("a b", 1, "invalid_alias"),
                                 ("champion", 9, "model_version_not_found")):
        with pytest.raises(CharterError) as err:
            service.set_alias(ctx, A, "churn", alias, version)
        assert err.value.code == code
    with pytest.raises(Invalid) as err:
        service.set_group_tag(ctx, A, "churn", "k" * 251, "v")
    assert err.value.code == "invalid_tag"
    assert counts(team.platform) == before


def test_an_untrusted_type_is_refused_at_registration(team, store_model, iris):
    X, y = iris
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    custom = store_model({"model.skops": skops.io.dumps(Custom().fit(X, y))})
    before = counts(team.platform)
    with pytest.raises(Invalid) as err:
        service.create_version(ctx, A, "churn", ModelVersionCreate(source=custom.source))
    assert err.value.code == "untrusted_type"
    assert "Custom" in err.value.message
    assert counts(team.platform) == before


def test_a_file_changed_in_the_store_is_refused_at_registration(team, store_model):
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    stored = store_model()
    key = object_key(team.platform, A, f"{stored.source}/model.skops")
    data = bytearray(team.platform.runtime.storage.get_bytes(key))
    data[100] ^= 0xFF
    team.platform.runtime.storage.put_bytes(key, bytes(data))
    before = counts(team.platform)
    with pytest.raises(Conflict) as err:
        service.create_version(ctx, A, "churn", ModelVersionCreate(source=stored.source))
    assert err.value.code == "artifact_tampered"
    assert counts(team.platform) == before


def test_an_mlflow_model_is_kept_as_it_came(team, store_model):
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    stored = store_model({"MLmodel": b"flavors:\n  sklearn: {}\n", "model.pkl": b"\x80\x04.",
                          "requirements.txt": b"scikit-learn\n"})
    version = service.create_version(ctx, A, "churn", ModelVersionCreate(source=stored.source))
    assert version.flavor == "mlflow"
    assert [f.path for f in version.files] == ["MLmodel", "model.pkl", "requirements.txt"]
    assert service.get_version_file(ctx, A, "churn", 1, "model.pkl") == b"\x80\x04."


@pytest.mark.parametrize("source,code", [
    ("9/none/artifacts/model", "model_source_not_found"),
    ("../x", "invalid_artifact_path"),
    ("a\x00b", "invalid_artifact_path"),
])
def test_a_bad_source_registers_nothing(team, store_model, source, code):
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    before = counts(team.platform)
    with pytest.raises(CharterError) as err:
        service.create_version(ctx, A, "churn", ModelVersionCreate(source=source))
    assert err.value.code == code
    assert counts(team.platform) == before


def test_files_that_are_no_model_register_nothing(team, store_model):
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    notes = store_model({"notes.txt": b"hello"})
    other = store_model(account=B, user="bob")
    before = counts(team.platform)
    with pytest.raises(Invalid) as err:
        service.create_version(ctx, A, "churn", ModelVersionCreate(source=notes.source))
    assert err.value.code == "unknown_model_format"
    with pytest.raises(NotFound) as err:  # another account's run and artifacts
        service.create_version(ctx, A, "churn", ModelVersionCreate(source=other.source,
                                                                   run_id=other.run_id))
    assert err.value.code == "run_not_found"
    with pytest.raises(NotFound) as err:
        service.create_version(ctx, A, "churn", ModelVersionCreate(source=other.source))
    assert err.value.code == "model_source_not_found"
    assert counts(team.platform) == before


def test_unknown_names_are_stable_codes(team):
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    before = counts(team.platform)
    cases = [
        (lambda: service.get_group(ctx, A, "nope"), "model_group_not_found"),
        (lambda: service.get_version(ctx, A, "nope", 1), "model_group_not_found"),
        (lambda: service.get_version(ctx, A, "churn", 1), "model_version_not_found"),
        (lambda: service.list_versions(ctx, A, "nope"), "model_group_not_found"),
        (lambda: service.create_version(ctx, A, "nope", ModelVersionCreate(source="1/x")),
         "model_group_not_found"),
        (lambda: service.create_group(ctx, A, ModelGroupCreate(name="churn")),
         "model_group_exists"),
        (lambda: service.create_group(ctx, A, ModelGroupCreate(name="bad/name")),
         "invalid_model_group_name"),
        (lambda: service.create_group(ctx, A, ModelGroupCreate(name="-x")),
         "invalid_model_group_name"),
        (lambda: service.get_version_file(ctx, A, "churn", 1, "model.skops"),
         "model_version_not_found"),
    ]
    for call, code in cases:
        with pytest.raises(CharterError) as err:
            call()
        assert err.value.code == code, code
    assert counts(team.platform) == before


def test_metrics_that_are_not_finite_are_kept(team, store_model):
    """MLflow allows NaN and infinities as metric values; a version keeps them too (JSON,
    and PostgreSQL's JSONB, have no such numbers: they are stored as strings)."""
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name="churn"))
    stored = store_model()
    experiments.log_batch(ctx, A, stored.run_id, RunLog(metrics=[
        MetricIn(key="loss", value=float("nan"), timestamp=2000, step=1),
        MetricIn(key="peak", value=float("inf"), timestamp=2000, step=1)], params=[], tags=[]))
    version = service.create_version(ctx, A, "churn", ModelVersionCreate(
        source=stored.source, run_id=stored.run_id))
    values = {m.key: m.value for m in service.get_version(ctx, A, "churn", 1).metrics}
    assert values["auc"] == 0.91 and math.isnan(values["loss"]) and values["peak"] == math.inf
    assert version.model_dump(mode="json")["metrics"][1]["value"] in ("NaN", "Infinity")
    over_rest = team.clients["sam"].models.version(A, "churn", 1)  # JSON, then read back
    assert {m.key: str(m.value) for m in over_rest.metrics} == {
        "auc": "0.91", "loss": "nan", "peak": "inf"}
