"""Experiments fixtures: team-a-dev, its data scientist sam, and a service context as sam."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.core.context import Context, Principal
from charter.core.ids import new_request_id
from charter.experiments import orm


@pytest.fixture
def team(platform):
    """(platform, sam's client): team-a-dev is vended; sam is one of its data scientists."""
    platform.vend("team-a-dev")
    sam, _ = platform.user("sam", "team-a-data-scientists")
    return platform, sam


@pytest.fixture
def as_user(team) -> Callable[[str], Context]:
    """A service context acting as the named user (sam is made by `team`)."""
    platform, _ = team

    def make(name: str = "sam") -> Context:
        return Context(platform.runtime, Principal(name), new_request_id(), source="api")

    return make


def table_counts(platform: Any) -> dict[str, int]:
    """Rows in every experiments table: what a refused write must leave unchanged."""
    tables = [orm.Experiment, orm.Run, orm.Param, orm.MetricPoint, orm.LatestMetric,
              orm.RunTag, orm.RunInput, orm.Artifact, orm.LoggedModel]
    with platform.runtime.db.read() as session:
        return {t.__tablename__: session.scalar(select(func.count()).select_from(t))
                for t in tables}
