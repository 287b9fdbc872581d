"""Lake fixtures: a producer account with its domain, database and data engineer."""

from __future__ import annotations

import pytest


@pytest.fixture
def retail(platform):
    """(platform, erin): `retail-data` produces domain `retail` with database `bank`;
    erin is its data engineer."""
    platform.admin.accounts.create("retail-data", ou="/workloads/data/prod",
                                   blueprint="data-domain",
                                   tags={"owner": "retail", "cost-center": "cc-9"})
    platform.admin.lake.create_domain("retail", account="retail-data")
    platform.admin.lake.create_database("retail-data", "bank")
    erin, _ = platform.user("erin", "retail-data-data-engineers")
    return platform, erin
