"""API fixtures: `charter server` as a real process on a free port, over the test's platform."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from tests.servers import CHARTER, free_port, start

__all__ = ["CHARTER", "free_port", "one_record", "server"]


def one_record(platform, response) -> AuditEvent:
    """The one audit record of the request `response` answers (by its `x-request-id`)."""
    with platform.runtime.db.transaction() as session:
        records = list(session.scalars(select(AuditEvent).where(
            AuditEvent.request_id == response.headers["x-request-id"])))
    assert len(records) == 1, [(r.action, r.outcome) for r in records]
    return records[0]


@pytest.fixture
def server(platform):
    """(platform, url, env): the server shares the platform's home and database; env is
    the environment that names them, for the CLI run as a process."""
    running = start(platform.settings.home).ready()
    env = {k: v for k, v in os.environ.items() if k != "CHARTER_TOKEN"}
    yield platform, running.url, env
    running.stop()
