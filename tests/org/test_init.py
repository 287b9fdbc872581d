"""`charter init`: the reference organisation, idempotent."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select

from charter.access.authorizer import bump_version
from charter.audit.orm import AuditEvent
from charter.controls.orm import ControlEnablement
from charter.core.clock import now
from charter.errors import Denied
from charter.identity.orm import Assignment, Membership
from charter.org.reference import CENTRAL_ACCOUNTS, OUS


def _paths(node: dict) -> set[str]:
    return {node["path"]} | {p for child in node["children"] for p in _paths(child)}


def _accounts(node: dict) -> set[str]:
    return set(node["accounts"]) | {a for child in node["children"] for a in _accounts(child)}


def test_init_creates_reference_structure(platform):
    tree = platform.admin.org.tree()
    assert _paths(tree) == set(OUS)
    assert _accounts(tree) == set(CENTRAL_ACCOUNTS)
    for name in ("security-tooling", "log-archive", "ml-shared-services-prod"):
        account = platform.admin.accounts.get(name)
        assert account["tags"]["owner"] and account["budget"]


def test_init_twice_gives_same_organisation_and_says_so(platform):
    before = platform.admin.org.tree()
    code, out, _ = platform.cli("init", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["already_initialized"] is True
    assert report["created"] == []
    assert any("security-tooling" in line for line in report["found"])
    assert platform.admin.org.tree() == before
    code, out, _ = platform.cli("init")
    assert code == 0 and "already initialised" in out


def test_second_init_issues_no_token_unless_asked(platform):
    code, out, _ = platform.cli("--profile", "evil", "init", "--json", use_profile=True)
    assert code == 0 and json.loads(out)["admin_token_saved"] is False
    code, _, err = platform.cli("--profile", "evil", "whoami", use_profile=True)
    assert code == 1 and "[not_logged_in]" in err
    code, out, _ = platform.cli("--profile", "rescue", "init", "--new-admin-token", "--json",
                                use_profile=True)
    assert json.loads(out)["admin_token_saved"] is True
    code, out, _ = platform.cli("--profile", "rescue", "whoami", "--json", use_profile=True)
    assert json.loads(out)["name"] == "admin"
    issued = platform.admin.audit.events(action="identity:Bootstrap", limit=5)["items"]
    assert issued[0]["principal"] == "system" and issued[0]["source"] == "init"


def test_init_restores_a_removed_baseline_assignment_and_says_so(platform):
    assignment = next(a for a in platform.admin.assignments.list()["items"]
                      if a["principal_name"] == "data-platform-engineering")
    platform.admin.assignments.delete(assignment["id"])
    _code, out, _ = platform.cli("init", "--json")
    report = json.loads(out)
    assert report["already_initialized"] is False
    assert "group data-platform-engineering (data-lake-admin on /)" in report["created"]
    record = platform.admin.audit.events(action="identity:Bootstrap", limit=1)["items"][0]
    assert record["details"] == {"created": ["group data-platform-engineering "
                                             "(data-lake-admin on /)"], "missing": []}


def _lock_everyone_out(platform) -> None:
    """A lockout made outside the platform's operations (the store edited by hand, or
    from before removals were checked): nobody holds cloud-admin any more."""
    with platform.runtime.db.transaction() as session:
        session.execute(delete(Membership).where(Membership.group == "cloud-engineering"))
        session.execute(delete(Assignment).where(Assignment.permission_set == "cloud-admin"))
        bump_version(session)


def test_recover_admin_restores_access_after_a_lockout(platform):
    _lock_everyone_out(platform)
    with pytest.raises(Denied):
        platform.admin.users.list()
    code, out, _ = platform.cli("--profile", "rescue", "init", "--recover-admin", "--json",
                                use_profile=True)
    report = json.loads(out)
    assert code == 0 and report["admin_token_saved"] is True
    assert report["already_initialized"] is False
    assert report["recovered"][:3] == ["assignment cloud-admin on / for group cloud-engineering",
                                       "membership of admin in cloud-engineering",
                                       "user admin gains cloud-admin on /"]
    assert report["recovered"][3].startswith("token tok-")
    code, out, _ = platform.cli("--profile", "rescue", "users", "list", "--json",
                                use_profile=True)
    assert code == 0 and "admin" in {u["name"] for u in json.loads(out)["items"]}
    record = platform.admin.audit.events(action="identity:RecoverAdministrator")["items"][0]
    assert (record["principal"], record["source"], record["outcome"]) == (
        "system", "init", "success")
    code, out, _ = platform.cli("--profile", "rescue", "whoami", "--json", use_profile=True)
    me = json.loads(out)
    assert me["name"] == "admin" and me["groups"] == ["cloud-engineering"]
    assert report["recovered"][3] == f"token {me['token_id']} for admin"
    assert record["details"] == {
        "restored": report["recovered"][:2], "removed_controls": [],
        "new_administrators": ["admin"], "token": me["token_id"]}


def test_recover_admin_on_a_healthy_platform_only_issues_a_token(platform):
    code, out, _ = platform.cli("--profile", "spare", "init", "--recover-admin", "--json",
                                use_profile=True)
    report = json.loads(out)
    assert code == 0 and report["created"] == []
    assert len(report["recovered"]) == 1 and report["recovered"][0].startswith("token ")
    code, out, _ = platform.cli("--profile", "spare", "whoami", "--json", use_profile=True)
    assert json.loads(out)["name"] == "admin"


def _demote_admin(platform) -> None:
    """The organisation hands administration to zed, as it may: admin is an ordinary user."""
    zed, _ = platform.user("zed")
    platform.admin.assignments.create(permission_set="cloud-admin", user="zed", ou="/")
    group_admin = next(a for a in zed.assignments.list(principal="cloud-engineering")["items"]
                       if a["permission_set"] == "cloud-admin")
    zed.assignments.delete(group_admin["id"])
    zed.groups.remove_member("cloud-engineering", "admin")


def test_init_never_makes_a_demoted_administrator_an_administrator_again(platform):
    _demote_admin(platform)
    code, out, _ = platform.cli("init", "--json")
    report = json.loads(out)
    missing = ["assignment cloud-admin on / for group cloud-engineering",
               "membership of admin in cloud-engineering"]
    assert code == 0 and report["missing"] == missing and report["created"] == []
    with pytest.raises(Denied):
        platform.admin.users.list()
    with platform.runtime.db.read() as session:
        assert session.get(Membership, ("admin", "cloud-engineering")) is None
        assert session.scalars(select(Assignment).where(
            Assignment.principal_name == "cloud-engineering",
            Assignment.permission_set == "cloud-admin")).first() is None
    code, out, _ = platform.cli("init")
    assert code == 0 and "--recover-admin" in out
    assert "missing assignment cloud-admin on / for group cloud-engineering" in out
    record = _admin_records(platform, "identity:Bootstrap")[0]
    assert record["details"] == {"created": [], "missing": missing}


def _admin_records(platform, action: str) -> list[dict]:
    with platform.runtime.db.read() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.seq.desc()))
        return [{"principal": r.principal, "details": json.loads(r.details or "null")}
                for r in rows]


def test_recover_admin_names_everyone_who_gains_cloud_admin(platform):
    platform.admin.users.create("pat", groups=["cloud-engineering"])
    _demote_admin(platform)
    code, out, _ = platform.cli("--profile", "rescue", "init", "--recover-admin", "--json",
                                use_profile=True)
    report = json.loads(out)
    assert code == 0
    assert "user admin gains cloud-admin on /" in report["recovered"]
    assert "user pat gains cloud-admin on /" in report["recovered"]
    record = platform.admin.audit.events(action="identity:RecoverAdministrator")["items"][0]
    assert record["details"]["new_administrators"] == ["admin", "pat"]
    assert record["details"]["restored"] == [
        "assignment cloud-admin on / for group cloud-engineering",
        "membership of admin in cloud-engineering"]


def test_recover_admin_removes_preventive_controls_from_the_management_account(platform):
    with platform.runtime.db.transaction() as session:  # from before they were refused
        for control in ("CHARTER-PREV-3", "CHARTER-PREV-1"):
            session.add(ControlEnablement(control_id=control, scope="management",
                                          enabled_by="admin", enabled_at=now()))
        session.add(ControlEnablement(control_id="CHARTER-DET-3", scope="management",
                                      enabled_by="admin", enabled_at=now()))
        bump_version(session)
    platform.admin.assignments.create(permission_set="data-scientist",
                                      group="cloud-engineering", account="management")
    code, out, _ = platform.cli("--profile", "rescue", "init", "--recover-admin", "--json",
                                use_profile=True)
    report = json.loads(out)
    removed = ["control CHARTER-PREV-1 on management", "control CHARTER-PREV-3 on management"]
    assert code == 0 and [f"removed {line}" for line in removed] == report["recovered"][:2]
    record = platform.admin.audit.events(action="identity:RecoverAdministrator")["items"][0]
    assert record["details"]["removed_controls"] == removed
    enabled = {c["id"]: c["enabled_on"] for c in platform.admin.controls.list()}
    assert "management" not in enabled["CHARTER-PREV-3"] + enabled["CHARTER-PREV-1"]
    assert "management" in enabled["CHARTER-DET-3"]
    code, _, err = platform.cli("--profile", "rescue", "users", "create", "rescued",
                                use_profile=True)
    assert code == 0, err
