"""Acceptance 1: a run logged from the SDK shows its params, metric series, artifacts and
the lake snapshot it read; search with a filter and ordering returns the right runs. The
exact rows are read again at that snapshot, under the reader's grants."""

from __future__ import annotations

import pytest

from charter.errors import NotFound

CUSTOMERS = b"id,name,region,age\n1,Ann,EU,30\n2,Bob,US,41\n3,Cy,EU,25\n"
MORE = b"id,name,region,age\n4,Di,EU,52\n"
A = "team-a-dev"


@pytest.fixture
def lake_team(team):
    """sam (team-a data scientist) may read bank.customers, shared from retail-data."""
    platform, sam = team
    platform.admin.accounts.create("retail-data", ou="/workloads/data/prod",
                                   blueprint="data-domain",
                                   tags={"owner": "retail", "cost-center": "cc-9"})
    platform.admin.lake.create_domain("retail", account="retail-data")
    platform.admin.lake.create_database("retail-data", "bank")
    erin, _ = platform.user("erin", "retail-data-data-engineers")
    first = erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    erin.lake.share("retail-data", "bank.customers", with_account=A, grant_option=True)
    grant = platform.admin.lake.grant(A, "bank.customers", to="group:team-a-data-scientists")
    return platform, sam, erin, first, grant


def test_a_run_shows_params_series_artifacts_and_the_snapshot_it_read(lake_team, tmp_path):
    platform, sam, erin, first, grant = lake_team
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00\x01weights")
    (model / "MLmodel").write_text("flavors: {}\n")
    with sam.runs.start(A, "churn", name="rf-1") as run:
        rows = sam.lake.query(A, "SELECT id, age FROM bank.customers WHERE region = 'EU'")
        run.log_params({"model": "rf", "depth": 5})
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"acc": 0.91, "auc": 0.88})
        run.set_tag("team", "a")
        run.log_artifact(model, "model")
        run.log_artifact(model / "MLmodel")
    assert sorted(r["id"] for r in rows.to_pylist()) == [1, 3]
    assert sam.active_runs == []

    got = sam.runs.get(A, run.id)
    assert got.status == "FINISHED" and got.end_time is not None
    assert got.params == {"model": "rf", "depth": "5"}
    assert {m.key: m.value for m in got.metrics} == {"loss": pytest.approx(1 / 3),
                                                     "acc": 0.91, "auc": 0.88}
    assert got.tags["team"] == "a" and got.tags["mlflow.runName"] == "rf-1"
    assert [(i.account, i.table, i.snapshot_id) for i in got.inputs] == [
        (A, "bank.customers", first.snapshot_id)]
    series = sam.runs.metric_history(A, run.id, "loss")
    assert [(p.step, p.value) for p in series] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    listed = sam.runs.artifacts(A, run.id)
    assert [(a.path, a.is_dir) for a in listed] == [("MLmodel", False), ("model", True)]
    assert [a.path for a in sam.runs.artifacts(A, run.id, "model")] == [
        "model/MLmodel", "model/weights.bin"]
    local = sam.runs.download(A, run.id, "model", tmp_path / "back")
    assert (local / "weights.bin").read_bytes() == b"\x00\x01weights"

    # The table changes; the run's snapshot still reads the exact rows it read.
    erin.lake.ingest("retail-data", "bank.customers", MORE)
    pinned = {"bank.customers": got.inputs[0].snapshot_id}
    again = sam.lake.query(A, "SELECT id, age FROM bank.customers WHERE region = 'EU'",
                           snapshots=pinned)
    assert again.to_pylist() == rows.to_pylist()
    assert len(sam.lake.query(A, "SELECT id FROM bank.customers")) == 4
    # Under the reader's grants: once revoked, the snapshot is refused too.
    platform.admin.lake.revoke(A, grant.id)
    with pytest.raises(NotFound) as refused:
        sam.lake.query(A, "SELECT id FROM bank.customers", snapshots=pinned)
    assert refused.value.code == "table_not_found"


def test_a_failing_block_ends_the_run_failed(team):
    _, sam = team
    with pytest.raises(RuntimeError), sam.runs.start(A, "churn") as run:
        run.log_metric("loss", 0.5)
        raise RuntimeError("training diverged")
    assert sam.runs.get(A, run.id).status == "FAILED"


def test_search_with_filter_and_ordering_returns_the_right_runs(team):
    _, sam = team
    experiment = sam.experiments.create(A, "search")
    for name, model, acc in [("a", "rf", 0.7), ("b", "rf", 0.9), ("c", "gbm", 0.95),
                             ("d", "rf", 0.8)]:
        with sam.runs.start(A, experiment.id, name=name) as run:
            run.log_param("model", model)
            run.log_metric("acc", acc)
    found = sam.runs.search(A, [experiment.id], filter="params.model = 'rf' and metrics.acc "
                            ">= 0.75", order_by=["metrics.acc DESC"])
    assert [r.name for r in found] == ["b", "d"]
    by_name = sam.runs.search(A, [experiment.id], order_by=["attributes.run_name DESC"],
                              max_results=3)
    assert [r.name for r in by_name] == ["d", "c", "b"]
    paged = sam.runs.search_page(A, [experiment.id], order_by=["metrics.acc"], max_results=2)
    rest = sam.runs.search_page(A, [experiment.id], order_by=["metrics.acc"], max_results=2,
                                page_token=paged.next_page_token)
    assert [r.name for r in paged.items + rest.items] == ["a", "d", "b", "c"]
    assert rest.next_page_token is None
    compared = sam.runs.compare(A, [found[0].id, found[1].id])
    assert [r.name for r in compared] == ["b", "d"]
    assert [r.name for r in sam.runs.list(A, experiment_id=experiment.id)] == [
        "d", "c", "b", "a"]


def test_runs_show_lists_inputs_and_artifacts(lake_team, tmp_path):
    platform, sam, _, first, _ = lake_team
    with sam.runs.start(A, "churn", name="shown") as run:
        sam.lake.query(A, "SELECT count(*) FROM bank.customers")
        (tmp_path / "notes.txt").write_text("hi")
        run.log_artifact(tmp_path / "notes.txt")
        run.log_param("model", "rf")
        run.log_metric("acc", 0.5)
    code, out, err = platform.cli("runs", "show", A, run.id)
    assert code == 0, err
    assert f"bank.customers @ {first.snapshot_id}" in out
    assert "notes.txt" in out and "model" in out and "acc" in out
