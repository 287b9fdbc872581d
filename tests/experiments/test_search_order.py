"""Search ordered by a metric: the plan that walks the latest-metrics index gives the runs,
page by page, exactly as the general plan and as MLflow's order (written out here in
Python) do: ties, NaN, infinities, runs without the metric, both directions, pages that
cross from one part to the next; and the database really walks the index."""

from __future__ import annotations

import functools
import itertools
import json
import math
import uuid

import pytest
from sqlalchemy import insert, text

from charter.experiments import _ordering, _search, service
from charter.experiments.orm import LatestMetric, Run
from charter.experiments.schemas import (
    ExperimentCreate,
    KeyValue,
    MetricIn,
    RunCreate,
    RunLog,
    RunSearch,
    RunUpdate,
)

A = "team-a-dev"
INF = math.inf
NAN = math.nan
# (metric m, metric n, param p, start time): ties in m and in start time, NaN, both
# infinities, a real 0 beside NaN (stored as 0), runs without m, without n, without p.
SEED = [
    (0.5, 1.0, "a", 100), (0.5, 1.0, "b", 100), (0.5, 2.0, "a", 101), (1.0, None, "b", 102),
    (-1.0, 3.0, None, 103), (INF, 1.0, "a", 104), (-INF, 2.0, "b", 105), (INF, 2.0, "a", 104),
    (NAN, 1.0, "a", 106), (NAN, None, "b", 106), (0.0, 1.0, "a", 107), (0.0, 1.0, "b", 100),
    (None, 1.0, "a", 108), (None, 2.0, None, 100), (None, None, "a", 100), (2.5, 3.0, "b", 109),
    (-1.0, 3.0, "a", 103), (None, 3.0, "b", 110), (NAN, 2.0, "a", 100), (0.5, None, None, 99),
]
FILTERS = ["", "params.p = 'a'", "metrics.m > 0", "metrics.m != 0.5 and params.p = 'b'",
           "metrics.n <= 2"]
ORDERS = [["metrics.m"], ["metrics.m DESC"], ["metrics.m ASC", "metrics.n DESC"],
          ["metrics.m DESC", "params.p"], ["metrics.m", "attributes.start_time ASC"],
          ["metrics.absent"], ["metrics.n DESC", "metrics.m"], ["params.p", "metrics.m DESC"]]


@pytest.fixture
def seeded(as_user):
    """SEED's runs in one experiment (the last one deleted), a run in another experiment;
    each run as the oracle sees it."""
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="order"))
    other = service.create_experiment(ctx, A, ExperimentCreate(name="elsewhere"))
    runs = []
    for i, (m, n, p, start) in enumerate(SEED):
        run = service.create_run(ctx, A, RunCreate(experiment_id=exp.id, name=f"r{i}",
                                                   start_time=start))
        metrics = {k: v for k, v in (("m", m), ("n", n)) if v is not None}
        service.log_batch(ctx, A, run.id, RunLog(
            metrics=[MetricIn(key=k, value=v, timestamp=1, step=0) for k, v in metrics.items()],
            params=[KeyValue(key="p", value=p)] if p else []))
        runs.append({"id": run.id, "start_time": start, "metrics": metrics,
                     "params": {"p": p} if p else {}, "active": True})
    service.delete_run(ctx, A, runs[-1]["id"])
    runs[-1]["active"] = False
    elsewhere = service.create_run(ctx, A, RunCreate(experiment_id=other.id, name="x"))
    service.log_batch(ctx, A, elsewhere.id, RunLog(metrics=[MetricIn(key="m", value=0.7,
                                                                     timestamp=1)]))
    return ctx, exp.id, runs


# -- MLflow's order, written out ----------------------------------------------------------

def _matches(run: dict, filter_: str) -> bool:
    """The filters of FILTERS, evaluated the way MLflow's store does."""
    m, n, p = (run["metrics"].get("m"), run["metrics"].get("n"), run["params"].get("p"))
    number = {k: v for k, v in (("m", m), ("n", n)) if v is not None and not math.isnan(v)}
    return {"": True, "params.p = 'a'": p == "a",
            "metrics.m > 0": "m" in number and number["m"] > 0,
            "metrics.m != 0.5 and params.p = 'b'": "m" in number and number["m"] != 0.5
            and p == "b",
            "metrics.n <= 2": "n" in number and number["n"] <= 2}[filter_]


def _compare_key(a: dict, b: dict, clause: str) -> int:
    """MLflow's SqlAlchemyStore: a value first, then (metrics) NaN, then none; values in
    the order asked."""
    name, _, direction = clause.partition(" ")
    entity, key = name.split(".")
    if entity == "attributes":
        va, vb = a[key], b[key]
    else:
        va, vb = a[entity].get(key), b[entity].get(key)

    def group(v: object) -> int:
        return 2 if v is None else 1 if isinstance(v, float) and math.isnan(v) else 0

    if group(va) != group(vb) or group(va):
        return group(va) - group(vb)
    result = (va > vb) - (va < vb)  # type: ignore[operator]
    return -result if direction == "DESC" else result


def mlflow_order(runs: list[dict], filter_: str, order_by: list[str]) -> list[str]:
    def compare(a: dict, b: dict) -> int:
        for clause in order_by:
            result = _compare_key(a, b, clause)
            if result:
                return result
        if a["start_time"] != b["start_time"]:  # newest first, then by run id
            return b["start_time"] - a["start_time"]
        return (a["id"] > b["id"]) - (a["id"] < b["id"])

    kept = [r for r in runs if r["active"] and _matches(r, filter_)]
    return [r["id"] for r in sorted(kept, key=functools.cmp_to_key(compare))]


def _search_query(session, experiment_id: str, filter_: str,
                  order_by: list[str]) -> _ordering.SearchQuery:
    terms = _search.parse_filter(filter_)
    scope = [Run.account == A, Run.experiment_id.in_([int(experiment_id)]),
             Run.lifecycle_stage == "active"]
    return _ordering.SearchQuery(
        scope, terms, _search.filter_conditions(terms, session.get_bind().dialect.name),
        [_search.parse_order(c) for c in order_by])


# -- the plans agree --------------------------------------------------------------------

def test_both_plans_give_mlflows_order_at_every_boundary(seeded):
    ctx, experiment_id, runs = seeded
    with ctx.runtime.db.read() as session:
        for order_by, filter_ in itertools.product(ORDERS, FILTERS):
            expected = mlflow_order(runs, filter_, order_by)
            search = _search_query(session, experiment_id, filter_, order_by)
            general = [r.id for r in session.scalars(_ordering.general_query(search))]
            assert general == expected, (filter_, order_by)
            # Offsets at and around where one part ends and the next begins.
            first = _search.parse_order(order_by[0]).ref
            values = [r["metrics"].get(first.key) for r in runs if r["id"] in expected] \
                if first.entity == "metric" else []
            numbers = sum(1 for v in values if v is not None and not math.isnan(v))
            nans = sum(1 for v in values if v is not None and math.isnan(v))
            cuts = {0, 1, numbers, numbers + nans, len(expected)}
            offsets = sorted({max(0, c + d) for c in cuts for d in (-1, 0, 1)})
            pages = [(offset, 3) for offset in offsets] + [(cut, 1) for cut in cuts]
            for offset, limit in pages:
                page = _ordering.read_page(session, search, offset=offset, limit=limit)
                assert [r.id for r in page] == expected[offset:offset + limit], \
                    (filter_, order_by, offset, limit)


def test_pages_of_a_search_follow_on_across_the_parts(seeded):
    """Through the operation: page tokens carry on from the runs with a value through
    those with NaN to those without, in both directions, as one page would give them."""
    ctx, experiment_id, runs = seeded
    for order_by in (["metrics.m"], ["metrics.m DESC", "params.p DESC"]):
        expected = mlflow_order(runs, "", order_by)
        assert len(expected) == len(SEED) - 1
        whole = service.search_runs(ctx, A, RunSearch(experiment_ids=[experiment_id],
                                                      order_by=order_by))
        assert [r.id for r in whole.items] == expected and whole.next_page_token is None
        seen, token = [], None
        while True:
            page = service.search_runs(ctx, A, RunSearch(
                experiment_ids=[experiment_id], order_by=order_by, max_results=4,
                page_token=token))
            seen += [r.id for r in page.items]
            token = page.next_page_token
            if token is None:
                break
        assert seen == expected
    # MLflow puts a run whose latest value is NaN before one without the metric, in both
    # directions (the order used to hang on where the backend puts NULL).
    nan = {r["id"] for r in runs if r["active"] and math.isnan(r["metrics"].get("m", 0))}
    without = {r["id"] for r in runs if r["active"] and "m" not in r["metrics"]}
    assert nan and without
    for order_by in (["metrics.m ASC"], ["metrics.m DESC"]):
        found = [r.id for r in service.search_runs(ctx, A, RunSearch(
            experiment_ids=[experiment_id], order_by=order_by)).items]
        assert set(found[-len(without):]) == without, order_by
        assert set(found[-len(without) - len(nan):-len(without)]) == nan, order_by


def test_a_run_that_gains_the_metric_moves_parts(seeded):
    """A run without the metric joins the walked part once it logs it; a deleted run
    leaves every part."""
    ctx, experiment_id, runs = seeded
    lone = next(r for r in runs if r["active"] and "m" not in r["metrics"])
    service.log_batch(ctx, A, lone["id"], RunLog(metrics=[MetricIn(key="m", value=-5.0,
                                                                   timestamp=2)]))
    lone["metrics"]["m"] = -5.0
    gone = next(r for r in runs if r["active"] and r["metrics"].get("m") == INF)
    service.delete_run(ctx, A, gone["id"])
    gone["active"] = False
    service.update_run(ctx, A, runs[0]["id"], RunUpdate(status="FINISHED"))
    found = service.search_runs(ctx, A, RunSearch(experiment_ids=[experiment_id],
                                                  order_by=["metrics.m"]))
    assert [r.id for r in found.items] == mlflow_order(runs, "", ["metrics.m"])
    assert found.items[1].id == lone["id"]  # after -inf


# -- the database walks the index -------------------------------------------------------

RUNS_FOR_PLANS = 3000


@pytest.fixture
def many_runs(as_user):
    """RUNS_FOR_PLANS runs with metric `rmse` (and every tenth without it), written
    straight into the tables: a planner chooses by table sizes, and making this many runs
    through the operation would take the test minutes."""
    ctx = as_user()
    exp = service.create_experiment(ctx, A, ExperimentCreate(name="plans"))
    runs, metrics = [], []
    for i in range(RUNS_FOR_PLANS):
        run_id = uuid.uuid4().hex
        runs.append({"id": run_id, "account": A, "experiment_id": int(exp.id),
                     "name": f"r{i}", "status": "FINISHED", "start_time": i, "user": "sam",
                     "lifecycle_stage": "active", "created_by": "sam"})
        if i % 10:
            metrics.append({"run_id": run_id, "key": "rmse", "value": (i * 7919 % 1000) / 1000,
                            "is_nan": False, "timestamp": 1, "step": 0})
    with ctx.runtime.db.transaction() as session:
        session.execute(insert(Run), runs)
        session.execute(insert(LatestMetric), metrics)
    with ctx.runtime.db.transaction() as session:
        session.execute(text("ANALYZE"))
    return ctx, exp.id


def _plan(session, query) -> str:
    """The database's plan of `query`: SQLite's EXPLAIN QUERY PLAN lines, PostgreSQL's
    EXPLAIN as JSON."""
    compiled = query.compile(dialect=session.get_bind().dialect,
                             compile_kwargs={"literal_binds": True})
    if session.get_bind().dialect.name == "sqlite":
        rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        return "\n".join(row[3] for row in rows)
    rows = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}")
    return json.dumps(rows.scalar_one())


def _pg_nodes(plan: dict) -> list[dict]:
    nodes, stack = [], [plan]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


PLANNED = [("", ["metrics.rmse ASC"]), ("", ["metrics.rmse DESC", "attributes.run_name"]),
           ("metrics.rmse < 0.5 and attributes.status = 'FINISHED'", ["metrics.rmse ASC"])]


def test_a_page_walks_the_latest_metrics_index(many_runs):
    ctx, experiment_id = many_runs
    for filter_, order_by in PLANNED:
        _check_plan(ctx, experiment_id, filter_, order_by)


def _check_plan(ctx, experiment_id: str, filter_: str, order_by: list[str]) -> None:
    with ctx.runtime.db.read() as session:
        search = _search_query(session, experiment_id, filter_, order_by)
        walked = _ordering.metric_first_parts(search)[0].limit(101)
        plan = _plan(session, walked)
        if session.get_bind().dialect.name == "sqlite":
            lines = plan.splitlines()
            # The walk is the outer loop, over the index alone, and no sort of all runs:
            # only the ties among equal values are sorted.
            assert lines[0].startswith("SEARCH order_metric_0 USING COVERING INDEX "
                                       "ix_exp_latest_metrics_key_nan_value (key=? AND "
                                       "is_nan=?"), plan
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
            assert "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" in plan, plan
            general = _plan(session, _ordering.general_query(search).limit(101))
            assert "USE TEMP B-TREE FOR ORDER BY" in general, general
        else:
            nodes = _pg_nodes(json.loads(plan)[0]["Plan"])
            scans = [n for n in nodes if n.get("Relation Name") == "exp_latest_metrics"]
            assert scans and all(n["Node Type"] in ("Index Scan", "Index Only Scan")
                                 and n["Index Name"] == "ix_exp_latest_metrics_key_nan_value"
                                 for n in scans), plan
            assert "Sort" not in {n["Node Type"] for n in nodes}, plan  # incremental only
            assert "Incremental Sort" in {n["Node Type"] for n in nodes}, plan
        pages = _ordering.read_page(session, search, offset=0, limit=101)
        assert [r.id for r in pages] == [r.id for r in session.scalars(
            _ordering.general_query(search).limit(101))]
