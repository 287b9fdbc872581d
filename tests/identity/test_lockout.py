"""No lockout: the last way to `cloud-admin` on the root OU cannot be removed."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from charter.errors import Conflict
from charter.identity._lockout import administrator_remains
from charter.identity.orm import Membership

from ..conftest import PG_URL


def _admin_assignment(platform, principal: str = "cloud-engineering") -> str:
    return next(a["id"] for a in platform.admin.assignments.list(principal=principal)["items"]
                if a["permission_set"] == "cloud-admin" and a["scope"] == "/")


def _last_record(platform, action: str) -> dict:
    return platform.admin.audit.events(action=action, limit=1)["items"][0]


def test_deleting_the_last_administrator_assignment_is_refused_and_audited(platform):
    assignment = _admin_assignment(platform)
    code, out, _ = platform.cli("assignments", "delete", assignment, "--yes", "--json")
    error = json.loads(out)
    assert code == 1 and error["code"] == "last_administrator"
    assert "cloud-admin" in error["message"]
    with pytest.raises(Conflict) as refused:
        platform.admin.assignments.delete(assignment)
    assert refused.value.code == "last_administrator"
    assert _admin_assignment(platform) == assignment
    assert platform.admin.users.list()["total"] >= 1  # the administrator still administers
    record = _last_record(platform, "identity:DeleteAssignment")
    assert record["outcome"] == "refused" and record["error_code"] == "last_administrator"
    assert record["principal"] == "admin"


def test_removing_the_last_administrator_from_cloud_engineering_is_refused(platform):
    code, out, _ = platform.cli("groups", "remove-member", "cloud-engineering", "admin", "--yes",
                                "--json")
    assert code == 1 and json.loads(out)["code"] == "last_administrator"
    members = {g["name"]: g["members"] for g in platform.admin.groups.list()["items"]}
    assert members["cloud-engineering"] == ["admin"]
    record = _last_record(platform, "identity:RemoveGroupMember")
    assert record["outcome"] == "refused" and record["error_code"] == "last_administrator"


def test_an_administrator_counts_only_as_an_existing_user_with_cloud_admin_on_root(platform):
    group_admin = _admin_assignment(platform)
    platform.admin.groups.create("standby")  # cloud-admin on /, but nobody in it
    standby = platform.admin.assignments.create(permission_set="cloud-admin", group="standby",
                                                ou="/")
    platform.admin.users.create("ray")
    platform.admin.assignments.create(permission_set="cloud-admin", user="ray",
                                      ou="/workloads")
    nia, _ = platform.user("nia", "cloud-engineering")
    # nia keeps cloud-admin on / through cloud-engineering, so admin may leave it
    platform.admin.groups.remove_member("cloud-engineering", "admin")
    with pytest.raises(Conflict) as refused:
        nia.groups.remove_member("cloud-engineering", "nia")
    assert refused.value.code == "last_administrator"
    with pytest.raises(Conflict):
        nia.assignments.delete(group_admin)
    assert nia.assignments.delete(standby["id"])["id"] == standby["id"]


def test_a_direct_administrator_lets_the_group_assignment_go(platform):
    ola, _ = platform.user("ola")
    direct = platform.admin.assignments.create(permission_set="cloud-admin", user="ola", ou="/")
    platform.admin.assignments.delete(_admin_assignment(platform))
    with pytest.raises(Conflict) as refused:
        ola.assignments.delete(direct["id"])
    assert refused.value.code == "last_administrator"
    assert ola.users.list()["total"] >= 2


def _waiting_on_locks(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                "current_database() AND wait_event_type = 'Lock'"))


def _until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _in_thread(outcomes: dict, name: str, call) -> threading.Thread:
    def run() -> None:
        try:
            outcomes[name] = call()
        except Exception as error:  # reported through the assertions
            outcomes[name] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="SQLite serialises writers: no removal decides while "
                                       "another commits")
def test_a_group_that_gains_cloud_admin_during_a_removal_still_keeps_an_administrator(platform):
    """Three concurrent operations: B removes uma from ops, A gives ops cloud-admin on /,
    C removes admin from cloud-engineering counting on uma. B is held after its decision
    (a row lock on the membership it deletes) so that A and C run in between."""
    platform.admin.groups.create("ops")
    platform.admin.users.create("uma", groups=["ops"])
    engine = create_engine(platform.settings.resolved_database_url)
    outcomes: dict = {}
    try:
        with engine.connect() as holder:
            holder.execute(text('SELECT 1 FROM identity_memberships WHERE "user" = \'uma\' '
                                'AND "group" = \'ops\' FOR UPDATE'))
            b = _in_thread(outcomes, "B", lambda: platform.client(platform.admin_token)
                           .groups.remove_member("ops", "uma"))
            _until(lambda: _waiting_on_locks(engine) >= 1)
            platform.admin.assignments.create(permission_set="cloud-admin", group="ops", ou="/")
            c = _in_thread(outcomes, "C", lambda: platform.client(platform.admin_token)
                           .groups.remove_member("cloud-engineering", "admin"))
            _until(lambda: "C" in outcomes or _waiting_on_locks(engine) >= 2)
            holder.rollback()
        for thread in (b, c):
            thread.join(timeout=60)
    finally:
        engine.dispose()
    assert outcomes["B"]["members"] == []
    assert isinstance(outcomes["C"], Conflict) and outcomes["C"].code == "last_administrator"
    with platform.runtime.db.read() as session:
        assert administrator_remains(session)
        assert session.get(Membership, ("admin", "cloud-engineering")) is not None
