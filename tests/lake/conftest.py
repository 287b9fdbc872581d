"""Lake fixtures: a producer account with its domain, database and data engineer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from charter.sdk import Client
from tests.conftest import Build, Platform


def retail_producer(platform: Platform) -> None:
    """`retail-data` produces domain `retail` with database `bank`; erin is its data
    engineer."""
    platform.admin.accounts.create("retail-data", ou="/workloads/data/prod",
                                   blueprint="data-domain",
                                   tags={"owner": "retail", "cost-center": "cc-9"})
    platform.admin.lake.create_domain("retail", account="retail-data")
    platform.admin.lake.create_database("retail-data", "bank")
    platform.user("erin", "retail-data-data-engineers")


@pytest.fixture
def retail(platform_from: Callable[[Build], Platform]) -> tuple[Platform, Client]:
    """(platform, erin): a platform as `retail_producer` leaves it."""
    platform = platform_from(retail_producer)
    return platform, platform.client(platform.tokens["erin"])
