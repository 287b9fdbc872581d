"""`charter init`: the reference organisation, idempotent."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete

from charter.access.authorizer import bump_version
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
    assert report["recovered"][:2] == ["assignment cloud-admin on / for group cloud-engineering",
                                       "membership of admin in cloud-engineering"]
    assert report["recovered"][2].startswith("token tok-")
    code, out, _ = platform.cli("--profile", "rescue", "users", "list", "--json",
                                use_profile=True)
    assert code == 0 and "admin" in {u["name"] for u in json.loads(out)["items"]}
    record = platform.admin.audit.events(action="identity:RecoverAdministrator")["items"][0]
    assert (record["principal"], record["source"], record["outcome"]) == (
        "system", "init", "success")
    code, out, _ = platform.cli("--profile", "rescue", "whoami", "--json", use_profile=True)
    me = json.loads(out)
    assert me["name"] == "admin" and me["groups"] == ["cloud-engineering"]
    assert report["recovered"][2] == f"token {me['token_id']} for admin"


def test_recover_admin_on_a_healthy_platform_only_issues_a_token(platform):
    code, out, _ = platform.cli("--profile", "spare", "init", "--recover-admin", "--json",
                                use_profile=True)
    report = json.loads(out)
    assert code == 0 and report["created"] == []
    assert len(report["recovered"]) == 1 and report["recovered"][0].startswith("token ")
    code, out, _ = platform.cli("--profile", "spare", "whoami", "--json", use_profile=True)
    assert json.loads(out)["name"] == "admin"
