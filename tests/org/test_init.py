"""`charter init`: the reference organisation, idempotent."""

from __future__ import annotations

import json

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
