"""Lake queries run within limits, per principal and in total: past them a query waits a
moment, then is refused with `too_many_queries`, while everyone else is served."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from charter.errors import CharterError, TooManyRequests
from charter.lake import _admission

# Runs until CHARTER_LAKE_QUERY_TIMEOUT stops it.
ENDLESS = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
           "SELECT count(*) FROM r, bank.customers")
SMALL = "SELECT count(*) AS n FROM bank.customers"


@pytest.fixture
def analysts(retail):
    """(platform, {name: (client, token)}): ana, bob and cyd read bank.customers under a
    row filter; wendy holds no lake grant at all."""
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", b"id,region\n1,EU\n2,US\n3,EU\n",
                     mode="create")
    platform.admin.groups.create("analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    erin.lake.grant("retail-data", "bank.customers", to="group:analysts",
                    row_filter="region = 'EU'")
    clients = {name: platform.user(name, "analysts") for name in ("ana", "bob", "cyd")}
    clients["wendy"] = platform.user("wendy")
    settings = platform.runtime.settings
    settings.lake.queries_per_principal, settings.lake.queries_total = 1, 4
    settings.lake.query_wait, settings.lake.query_timeout = 0, 3
    return platform, clients


class Endless:
    """An endless query with `token` on a thread and client of its own, until the query
    timeout stops it."""

    def __init__(self, platform, token: str) -> None:
        self.client, self.error, self.ended = platform.client(token), None, None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self.client.lake.query("retail-data", ENDLESS)
        except CharterError as error:
            self.error, self.ended = error, time.monotonic()

    def __enter__(self) -> Endless:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()


def _until_running(platform, count: int) -> None:
    slots = _admission.slots(platform.runtime)
    deadline = time.monotonic() + 30
    while slots.running.total() < count:
        assert time.monotonic() < deadline, "the endless queries never started"
        time.sleep(0.01)


def _last_query_record(platform, principal: str) -> AuditEvent:
    with platform.runtime.db.transaction() as session:
        return session.scalars(select(AuditEvent).where(
            AuditEvent.action == "lake:QueryTables", AuditEvent.principal == principal)
            .order_by(AuditEvent.seq.desc())).first()


def test_a_principal_at_its_limit_is_refused_while_others_are_served(analysts):
    platform, c = analysts
    with Endless(platform, c["ana"][1]) as running:
        _until_running(platform, 1)
        with pytest.raises(TooManyRequests) as refused:
            c["ana"][0].lake.query("retail-data", SMALL)
        assert refused.value.code == "too_many_queries"
        assert refused.value.details == {"limit": "principal", "queries": 1}
        assert c["bob"][0].lake.query("retail-data", SMALL).to_pylist() == [{"n": 2}]
        assert c["wendy"][0].whoami()["name"] == "wendy"
    assert running.error.code == "query_timeout"
    record = _last_query_record(platform, "ana")
    assert record.error_code == "query_timeout"  # the endless one, recorded as it ended
    with platform.runtime.db.transaction() as session:
        refusals = session.scalars(select(AuditEvent).where(
            AuditEvent.principal == "ana", AuditEvent.error_code == "too_many_queries")).all()
    assert len(refusals) == 1 and {r.action for r in refusals} == {"lake:QueryTables"}
    assert c["ana"][0].lake.query("retail-data", SMALL).to_pylist() == [{"n": 2}]


def test_past_the_total_everyone_waits_a_moment_then_is_refused(analysts):
    platform, c = analysts
    settings = platform.runtime.settings
    settings.lake.queries_total, settings.lake.query_wait = 2, 0.3
    with Endless(platform, c["ana"][1]) as first, Endless(platform, c["bob"][1]) as second:
        _until_running(platform, 2)
        start = time.monotonic()
        with pytest.raises(TooManyRequests) as refused:
            c["cyd"][0].lake.query("retail-data", SMALL)
        assert time.monotonic() - start >= 0.3  # it waited for a slot first
        assert refused.value.details == {"limit": "total", "queries": 2}
        assert c["wendy"][0].whoami()["name"] == "wendy"
        assert _last_query_record(platform, "cyd").error_code == "too_many_queries"
    assert first.error.code == second.error.code == "query_timeout"
    assert c["cyd"][0].lake.query("retail-data", SMALL).to_pylist() == [{"n": 2}]


def test_a_query_over_its_limit_runs_once_a_slot_frees_within_the_wait(analysts):
    platform, c = analysts
    settings = platform.runtime.settings
    settings.lake.query_wait, settings.lake.query_timeout = 30, 1
    with Endless(platform, c["ana"][1]) as running:
        _until_running(platform, 1)
        start = time.monotonic()
        assert c["ana"][0].lake.query("retail-data", SMALL).to_pylist() == [{"n": 2}]
        waited = time.monotonic() - start
        # It ran only once the endless one had stopped: the endless one's slot is freed
        # before its answer reaches its thread, so wait for that answer, then compare.
        running.thread.join(30)
        assert running.error is not None and running.error.code == "query_timeout"
        assert running.ended is not None and waited > 0.05


def test_the_line_of_waiting_queries_is_bounded(analysts):
    """Waiting queries hold a server thread each: at most the principal's limit of them
    wait, and the rest are refused at once."""
    platform, c = analysts
    platform.runtime.settings.lake.query_wait = 30
    with Endless(platform, c["ana"][1]), Endless(platform, c["ana"][1]) as waiting:
        _until_running(platform, 1)
        slots = _admission.slots(platform.runtime)
        deadline = time.monotonic() + 30
        while slots.waiting.total() < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        start = time.monotonic()
        with pytest.raises(TooManyRequests):
            c["ana"][0].lake.query("retail-data", SMALL)
        assert time.monotonic() - start < 5  # refused without waiting
    assert waiting.error.code == "query_timeout"  # the one in line ran once its turn came
