"""The experiments service on the real metadata store: runs, batches, latest metrics,
history, search with MLflow's filter grammar, inputs, artifacts and logged models."""

from __future__ import annotations

import math
import time

import pytest

from charter.core.pagination import PageParams
from charter.errors import Conflict, Denied, Invalid, NotFound
from charter.experiments import service
from charter.experiments.schemas import (
    ExperimentCreate,
    KeyValue,
    LoggedModelCreate,
    LoggedModelUpdate,
    MetricIn,
    RunCreate,
    RunInputCreate,
    RunLog,
    RunSearch,
    RunUpdate,
)
from tests.experiments.conftest import table_counts

A = "team-a-dev"


def _run(ctx, experiment_id, name, *, params=None, metrics=None, tags=None, start=None):
    run = service.create_run(ctx, A, RunCreate(experiment_id=experiment_id, name=name,
                                               start_time=start))
    service.log_batch(ctx, A, run.id, RunLog(
        params=[KeyValue(key=k, value=v) for k, v in (params or {}).items()],
        tags=[KeyValue(key=k, value=v) for k, v in (tags or {}).items()],
        metrics=[MetricIn(key=k, value=v, timestamp=1000, step=0)
                 for k, v in (metrics or {}).items()]))
    return run


def test_experiment_and_run_lifecycle(as_user):
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="churn", tags={"team": "a"}))
    assert exp.id.isdigit() and exp.artifact_location == f"mlflow-artifacts:/{exp.id}"
    assert service.get_experiment_by_name(ctx, A, "churn").id == exp.id
    with pytest.raises(Conflict) as err:
        service.create_experiment(ctx, A, ExperimentCreate(name="churn"))
    assert err.value.code == "experiment_exists"
    with pytest.raises(NotFound) as err:
        service.get_experiment(ctx, A, "999999")
    assert err.value.code == "experiment_not_found"

    run = service.create_run(ctx, A, RunCreate(experiment_id=exp.id, name="first"))
    assert len(run.id) == 32 and run.status == "RUNNING" and run.user == "sam"
    assert run.tags["mlflow.runName"] == "first"
    assert run.artifact_uri == f"mlflow-artifacts:/{exp.id}/{run.id}/artifacts"
    done = service.update_run(ctx, A, run.id, RunUpdate(status="FINISHED"))
    assert done.status == "FINISHED" and done.end_time is not None
    assert [r.id for r in service.list_runs(ctx, A, experiment_id=exp.id).items] == [run.id]


def test_batch_series_latest_and_history(as_user):
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="series"))
    run = service.create_run(ctx, A, RunCreate(experiment_id=exp.id))
    points = [MetricIn(key="loss", value=1.0 / (s + 1), timestamp=1000 + s, step=s)
              for s in range(1000)]
    service.log_batch(ctx, A, run.id, RunLog(metrics=points,
                                             params=[KeyValue(key="lr", value="0.1")]))
    # An older point logged later does not replace the latest; NaN and inf are kept.
    service.log_batch(ctx, A, run.id, RunLog(metrics=[
        MetricIn(key="loss", value=9.0, timestamp=1, step=3),
        MetricIn(key="odd", value=math.nan, timestamp=5, step=0),
        MetricIn(key="big", value=math.inf, timestamp=5, step=0)]))
    got = service.get_run(ctx, A, run.id)
    latest = {m.key: m for m in got.metrics}
    assert latest["loss"].step == 999 and latest["loss"].value == pytest.approx(1 / 1000)
    assert math.isnan(latest["odd"].value) and latest["big"].value == math.inf
    assert got.params == {"lr": "0.1"}
    history = service.metric_history(ctx, A, run.id, "loss", page=PageParams(limit=1000))
    assert history.total == 1001
    assert [p.step for p in history.items[:5]] == [0, 1, 2, 3, 3]
    second = service.metric_history(ctx, A, run.id, "loss",
                                    page=PageParams(limit=1000, cursor=history.next_cursor))
    assert [p.step for p in second.items] == [999]


def test_refused_batches_write_nothing(team, as_user):
    platform, _ = team
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="bad"))
    run = service.create_run(ctx, A, RunCreate(experiment_id=exp.id))
    service.log_batch(ctx, A, run.id, RunLog(params=[KeyValue(key="model", value="rf")]))
    before = table_counts(platform)
    cases = [
        (RunLog(params=[KeyValue(key="p", value="x" * 10_000_000)]), "value_too_long"),
        (RunLog(tags=[KeyValue(key="t", value="x" * 8001)]), "value_too_long"),
        (RunLog(metrics=[MetricIn(key="m", value=1, timestamp=1)] * 1001), "batch_too_large"),
        (RunLog(params=[KeyValue(key=f"p{i}", value="1") for i in range(101)]),
         "batch_too_large"),
        (RunLog(metrics=[MetricIn(key="ok", value=1, timestamp=1)],
                params=[KeyValue(key="model", value="gbm")]), "param_changed"),
        (RunLog(metrics=[MetricIn(key="../x", value=1, timestamp=1)]), "invalid_key"),
        (RunLog(metrics=[MetricIn(key="k" * 251, value=1, timestamp=1)]), "value_too_long"),
    ]
    for body, code in cases:
        with pytest.raises(Invalid) as err:
            service.log_batch(ctx, A, run.id, body)
        assert err.value.code == code, body
    assert table_counts(platform) == before


def test_search_filters_and_orders_in_sql(as_user):
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="search"))
    other = service.create_experiment(ctx, A, ExperimentCreate(name="other"))
    runs = {}
    for i, (model, acc) in enumerate([("rf", 0.7), ("rf", 0.9), ("gbm", 0.8), ("rf", 0.6)]):
        runs[i] = _run(ctx, exp.id, f"{model}-{i}", params={"model": model},
                       metrics={"acc": acc, "rmse": 1 - acc}, tags={"stage": f"s{i}"},
                       start=1000 + i)
    _run(ctx, other.id, "elsewhere", params={"model": "rf"}, metrics={"acc": 0.99})
    _run(ctx, exp.id, "no-metric", params={"model": "rf"}, start=999)

    def search(filter_="", order=(), **kw):
        page = service.search_runs(ctx, A, RunSearch(experiment_ids=[exp.id], filter=filter_,
                                                     order_by=list(order), **kw))
        return [r.name for r in page.items], page.next_page_token

    names, _ = search("params.model = 'rf' and metrics.acc > 0.65", ["metrics.acc DESC"])
    assert names == ["rf-1", "rf-0"]
    names, _ = search("metrics.rmse <= 0.3", ["metrics.rmse"])
    assert names == ["rf-1", "gbm-2"]
    names, _ = search("", ["metrics.acc DESC"])
    assert names == ["rf-1", "gbm-2", "rf-0", "rf-3", "no-metric"]  # missing values last
    names, _ = search("tags.\"mlflow.runName\" LIKE 'rf-%' and attributes.status = 'RUNNING'",
                      ["attributes.start_time ASC"])
    assert names == ["rf-0", "rf-1", "rf-3"]
    names, _ = search("tags.`mlflow.runName` LIKE 'RF-%'")
    assert names == []  # LIKE is case-sensitive, ILIKE is not
    names, _ = search("tags.`mlflow.runName` ILIKE 'RF-%'", ["params.model", "metrics.acc"])
    assert names == ["rf-3", "rf-0", "rf-1"]
    names, _ = search("params.model IN ('gbm') and tags.stage != 's0'")
    assert names == ["gbm-2"]
    names, _ = search(f"attributes.run_id = '{runs[1].id}'")
    assert names == ["rf-1"]

    names, token = search("", ["metrics.acc DESC"], max_results=2)
    assert names == ["rf-1", "gbm-2"] and token
    page2 = service.search_runs(ctx, A, RunSearch(experiment_ids=[exp.id], max_results=2,
                                                  order_by=["metrics.acc DESC"],
                                                  page_token=token))
    assert [r.name for r in page2.items] == ["rf-0", "rf-3"]
    with pytest.raises(Invalid) as err:  # a token of another search
        service.search_runs(ctx, A, RunSearch(experiment_ids=[exp.id], page_token=token))
    assert err.value.code == "invalid_page_token"


@pytest.mark.parametrize("bad", [
    "attributes.colour = 'red'", "metrics.acc > 'high'", "params.model > 'a'",
    "metrics.acc > 0.5 or params.model = 'rf'", "acc > 0.5", "datasets.name = 'x'",
    "metrics.acc >", "params.model = model", "metrics.acc IN (1, 2)",
])
def test_bad_filters_are_named(as_user, bad):
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="f"))
    with pytest.raises(Invalid) as err:
        service.search_runs(ctx, A, RunSearch(experiment_ids=[exp.id], filter=bad))
    assert err.value.code == "invalid_filter"
    assert "invalid search filter" in err.value.message


def test_bad_order_by(as_user):
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="o"))
    for bad in ["metrics.acc DESC; DROP TABLE exp_runs", "colour", "attributes.colour",
                "metrics.a, metrics.b"]:
        with pytest.raises(Invalid) as err:
            service.search_runs(ctx, A, RunSearch(experiment_ids=[exp.id], order_by=[bad]))
        assert err.value.code in ("invalid_order_by", "invalid_filter")


def test_other_accounts_runs_are_not_found(team, as_user):
    platform, _ = team
    platform.vend("team-b-dev")
    platform.user("bob", "team-b-data-scientists")
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="mine"))
    run = service.create_run(ctx, A, RunCreate(experiment_id=exp.id))
    bob = as_user("bob")
    with pytest.raises(Denied):  # bob has no permission set in team-a-dev
        service.get_run(bob, A, run.id)
    with pytest.raises(NotFound) as err:  # and team-b-dev holds no such run
        service.get_run(bob, "team-b-dev", run.id)
    assert err.value.code == "run_not_found"
    with pytest.raises(NotFound):
        service.search_runs(bob, "team-b-dev", RunSearch(experiment_ids=[exp.id]))


def test_inputs_artifacts_and_logged_models(team, as_user):
    platform, _ = team
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="art"))
    run = service.create_run(ctx, A, RunCreate(experiment_id=exp.id))
    got = service.log_input(ctx, A, run.id, RunInputCreate(table="bank.customers",
                                                           snapshot_id=2**62 + 5))
    assert [(i.table, i.snapshot_id) for i in got.inputs] == [("bank.customers", 2**62 + 5)]

    root = service.run_artifact_path(got)
    service.put_artifact(ctx, A, f"{root}/model/model.pkl", b"weights")
    service.put_artifact(ctx, A, f"{root}/model/MLmodel", b"flavors: {}")
    info = service.put_artifact(ctx, A, f"{root}/notes.txt", b"hello")
    assert info.size == 5 and len(info.sha256) == 64
    listed = service.list_artifacts(ctx, A, root)
    assert [(a.path, a.is_dir) for a in listed] == [(f"{root}/model", True),
                                                    (f"{root}/notes.txt", False)]
    assert [a.path for a in service.list_artifacts(ctx, A, f"{root}/model")] == [
        f"{root}/model/MLmodel", f"{root}/model/model.pkl"]
    assert service.get_artifact(ctx, A, f"{root}/notes.txt") == b"hello"
    assert service.artifact_info(ctx, A, f"{root}/model").is_dir
    service.put_artifact(ctx, A, f"{root}/notes.txt", b"hello again")
    assert service.get_artifact(ctx, A, f"{root}/notes.txt") == b"hello again"

    before = table_counts(platform)
    for bad in ["../x", f"{root}/../../x", "/abs", "a//b", "a/./b", "a\\b", "a\x00b", ""]:
        with pytest.raises(Invalid) as err:
            service.put_artifact(ctx, A, bad, b"x")
        assert err.value.code == "invalid_artifact_path"
    with pytest.raises(Conflict):
        service.put_artifact(ctx, A, f"{root}/notes.txt/inner", b"x")
    assert table_counts(platform) == before

    model = service.create_logged_model(ctx, A, LoggedModelCreate(
        experiment_id=exp.id, name="model", source_run_id=run.id, tags={"a": "b"}))
    assert model.id.startswith("m-") and model.status == "PENDING"
    assert model.artifact_location == f"mlflow-artifacts:/{exp.id}/models/{model.id}/artifacts"
    ready = service.update_logged_model(ctx, A, model.id, LoggedModelUpdate(status="READY"))
    assert ready.status == "READY"
    assert service.set_logged_model_tags(ctx, A, model.id, {"c": "d"}).tags == {"a": "b",
                                                                                 "c": "d"}
    assert [m.id for m in service.search_logged_models(ctx, A, [exp.id]).items] == [model.id]
    other = service.create_experiment(ctx, A, ExperimentCreate(name="art2"))
    with pytest.raises(Invalid) as err:
        service.create_logged_model(ctx, A, LoggedModelCreate(
            experiment_id=other.id, name="m", source_run_id=run.id))
    assert err.value.code == "run_not_in_experiment"


def test_many_points_are_cheap(as_user):
    """100,000 points in 100 batches: executemany and one upsert a batch."""
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="load"))
    run = service.create_run(ctx, A, RunCreate(experiment_id=exp.id))
    started = time.perf_counter()
    for b in range(100):
        service.log_batch(ctx, A, run.id, RunLog(metrics=[
            MetricIn(key=f"m{i % 10}", value=float(i), timestamp=b * 1000 + i, step=b * 1000 + i)
            for i in range(1000)]))
    elapsed = time.perf_counter() - started
    history = service.metric_history(ctx, A, run.id, "m3", page=PageParams(limit=1))
    assert history.total == 10_000
    assert elapsed < 60, elapsed
