"""Registry fixtures: team-a-dev with its data scientist sam and team lead lena, team-b-dev
with its lead bob, and models stored as a run's artifacts through the experiments service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sqlalchemy import func, select

from charter.core.context import Context, Principal
from charter.core.events import OutboxEvent
from charter.core.ids import new_request_id
from charter.experiments import service as experiments
from charter.experiments.orm import Artifact
from charter.experiments.schemas import (
    ExperimentCreate,
    MetricIn,
    RunCreate,
    RunInputCreate,
    RunLog,
)
from charter.registry import artifacts, orm
from tests.conftest import Build, Platform

A, B = "team-a-dev", "team-b-dev"


@dataclass
class Team:
    platform: Any
    clients: dict[str, Any]  # user name -> SDK client acting as them

    def ctx(self, name: str = "sam") -> Context:
        return Context(self.platform.runtime, Principal(name), new_request_id(), source="api")


PEOPLE = {"sam": ["team-a-data-scientists"], "lena": ["team-a-leads"], "bob": ["team-b-leads"],
          "nobody": []}  # user -> groups


def two_teams(platform: Platform) -> None:
    """team-a-dev and team-b-dev are vended; sam and lena are in team a, bob leads team b,
    nobody is in no group."""
    platform.vend(A)
    platform.vend(B)
    for name, groups in PEOPLE.items():
        platform.user(name, *groups)


@pytest.fixture
def team(platform_from: Callable[[Build], Platform]) -> Team:
    platform = platform_from(two_teams)
    clients = {"admin": platform.admin}
    for name in PEOPLE:
        clients[name] = platform.client(platform.tokens[name])
    return Team(platform, clients)


@pytest.fixture(scope="session")
def iris() -> tuple[Any, Any]:
    return load_iris(return_X_y=True)


@pytest.fixture(scope="session")
def fitted(iris) -> LogisticRegression:
    X, y = iris
    return LogisticRegression(max_iter=500).fit(X, y)


@dataclass
class Stored:
    run_id: str
    source: str  # the model folder under the account's artifact root


def share_bank_table(team: Team) -> int:
    """retail-data's bank.customers, shared with team-a-dev and granted to its data
    scientists: a snapshot sam may name as a run's input. Returns the snapshot id."""
    admin = team.platform.admin
    admin.accounts.create("retail-data", ou="/workloads/data/prod", blueprint="data-domain",
                          tags={"owner": "retail", "cost-center": "cc-9"})
    admin.lake.create_domain("retail", account="retail-data")
    admin.lake.create_database("retail-data", "bank")
    made = admin.lake.ingest("retail-data", "bank.customers", b"id\n1\n", mode="create")
    admin.lake.share("retail-data", "bank.customers", with_account=A, grant_option=True)
    admin.lake.grant(A, "bank.customers", to="group:team-a-data-scientists")
    return int(made.snapshot_id)


@pytest.fixture
def store_model(team, fitted, iris) -> Callable[..., Stored]:
    """Store files as a model folder of a new run of sam's (with a metric, and the lake
    input `snapshot` of bank.customers if given): by default `model.skops` and
    `model.onnx` of a fitted model."""
    X, _ = iris

    def store(files: dict[str, bytes] | None = None, *, account: str = A,
              user: str = "sam", snapshot: int | None = None) -> Stored:
        ctx = team.ctx(user)
        name = f"e-{new_request_id()[-8:]}"
        exp = experiments.create_experiment(ctx, account, ExperimentCreate(name=name))
        run = experiments.create_run(ctx, account, RunCreate(experiment_id=exp.id))
        experiments.log_batch(ctx, account, run.id, RunLog(
            metrics=[MetricIn(key="auc", value=0.91, timestamp=1000, step=3)],
            params=[], tags=[]))
        if snapshot is not None:
            experiments.log_input(ctx, account, run.id, RunInputCreate(
                table="bank.customers", snapshot_id=snapshot))
        source = f"{exp.id}/{run.id}/artifacts/model"
        for path, data in (files or artifacts.dump_model(fitted, X[:5]).files).items():
            experiments.put_artifact(ctx, account, f"{source}/{path}", data)
        return Stored(run.id, source)

    return store


def object_key(platform: Any, account: str, path: str) -> str:
    with platform.runtime.db.read() as session:
        return session.scalar(select(Artifact.object_key).where(
            Artifact.account == account, Artifact.path == path))


def counts(platform: Any) -> dict[str, int]:
    """Rows of every registry table and of the outbox: what refused input leaves as is."""
    tables = [orm.ModelGroup, orm.ModelVersion, orm.ModelAlias, OutboxEvent]
    with platform.runtime.db.read() as session:
        found = {t.__tablename__: session.scalar(select(func.count()).select_from(t))
                 for t in tables}
        found["latest_versions"] = session.scalar(select(func.coalesce(func.sum(
            orm.ModelGroup.latest_version), 0)))
    return found


def events(platform: Any, type_: str) -> list[dict[str, Any]]:
    with platform.runtime.db.read() as session:
        return list(session.scalars(select(OutboxEvent.payload).where(
            OutboxEvent.type == type_).order_by(OutboxEvent.created_at)))
