"""Experiments fixtures: team-a-dev, its data scientist sam, and a service context as sam."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.core.context import Context, Principal
from charter.core.ids import new_request_id
from charter.experiments import orm
from charter.sdk import Client
from tests.conftest import Build, Platform


def sam_in_team_a(platform: Platform) -> None:
    """team-a-dev is vended; sam is one of its data scientists."""
    platform.vend("team-a-dev")
    platform.user("sam", "team-a-data-scientists")


@pytest.fixture
def team(platform_from: Callable[[Build], Platform]) -> tuple[Platform, Client]:
    """(platform, sam's client): a platform as `sam_in_team_a` leaves it."""
    platform = platform_from(sam_in_team_a)
    return platform, platform.client(platform.tokens["sam"])


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
