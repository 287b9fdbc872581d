"""Account vending and bad input: clear errors, stable codes, nothing half-created."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from charter.audit.orm import AuditEvent
from charter.identity.orm import Assignment, Group
from charter.org.orm import Account


def _counts(platform) -> tuple[int, int, int]:
    with platform.runtime.db.transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(t))
                     for t in (Account, Group, Assignment))


def test_vending_applies_the_baseline(platform):
    account = platform.vend("team-a-dev")
    assert account["crn"] == "crn:team-a-dev:org:account/team-a-dev"
    assert account["budget"] == 1000.0
    assert account["baseline"]["assignments"] == {
        "team-a-leads": "ml-team-lead", "team-a-data-scientists": "data-scientist",
        "team-a-ml-engineers": "ml-engineer"}
    assert account["baseline"]["logging"]["audit_trail"] == "crn:log-archive:audit:trail/main"
    scopes = {(a["principal_name"], a["permission_set"])
              for a in platform.admin.assignments.list(account="team-a-dev")["items"]}
    assert ("team-a-leads", "ml-team-lead") in scopes
    created = platform.admin.audit.events(action="org:CreateAccount")["items"][0]
    assert created["account"] == "team-a-dev" and created["outcome"] == "success"


BAD_CREATES = [
    (["team-a-dev", "--ou", "/workloads/ml/nonprod", "--blueprint", "ml-team-dev"],
     "account_exists"),
    (["team-b-dev", "--ou", "/workloads/nope", "--blueprint", "ml-team-dev"], "ou_not_found"),
    (["team-b-dev", "--ou", "/Workloads/ML/../x", "--blueprint", "ml-team-dev"],
     "invalid_ou_path"),
    (["team-b-dev", "--ou", "/workloads/ml/nonprod", "--blueprint", "ml-team-qa"],
     "blueprint_not_found"),
    (["team-b-dev", "--ou", "/workloads/ml/prod", "--blueprint", "ml-team-dev"],
     "blueprint_ou_mismatch"),
    (["Team_B", "--ou", "/workloads/ml/nonprod", "--blueprint", "ml-team-dev"],
     "invalid_account_name"),
]


@pytest.mark.parametrize("args,code", BAD_CREATES, ids=[c for _, c in BAD_CREATES])
def test_bad_account_creates_fail_cleanly(platform, args, code):
    platform.vend("team-a-dev")
    before = _counts(platform)
    tags = ["--tag", "owner=team-b", "--tag", "cost-center=cc-2"]
    exit_code, out, err = platform.cli("accounts", "create", *args, *tags)
    assert exit_code == 1
    assert f"[{code}]" in err and len(err.strip().splitlines()) == 1
    exit_code, out, _ = platform.cli("accounts", "create", *args, *tags, "--json")
    assert exit_code == 1 and json.loads(out)["code"] == code
    assert _counts(platform) == before


@pytest.mark.parametrize("tag", ["owner", "owner=", "=x", "Owner=x", "owner=bad\nvalue"])
def test_malformed_tags_are_refused(platform, tag):
    before = _counts(platform)
    code, _, err = platform.cli("accounts", "create", "team-b-dev", "--ou",
                                "/workloads/ml/nonprod", "--blueprint", "ml-team-dev",
                                "--tag", tag, "--tag", "cost-center=c")
    assert code == 1 and "[invalid_tag]" in err
    assert _counts(platform) == before


def test_unknown_account_everywhere(platform):
    for args in (["accounts", "show", "ghost-dev"], ["accounts", "close", "ghost-dev", "--yes"],
                 ["accounts", "update", "ghost-dev", "--budget", "5"],
                 ["controls", "findings", "--account", "ghost-dev"],
                 ["assignments", "create", "--group", "cloud-engineering",
                  "--permission-set", "auditor", "--account", "ghost-dev"]):
        code, _, err = platform.cli(*args)
        assert code == 1 and "[account_not_found]" in err, args
    with platform.runtime.db.transaction() as session:
        failed = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.error_code == "account_not_found"))
    assert failed == 5
    # The trail keeps what was tried against the name, for organisation-wide readers.
    code, out, _ = platform.cli("audit", "events", "--account", "ghost-dev", "--json")
    assert code == 0 and json.loads(out)["total"] == 4  # findings are filed in security-tooling


def test_refusals_do_not_tell_whether_an_account_exists(platform):
    platform.vend("team-a-dev")
    platform.vend("team-b-dev")
    _, token = platform.user("alice", "team-a-leads")
    messages = []
    for name in ("team-b-dev", "team-z-dev"):
        code, _, err = platform.cli("accounts", "show", name, token=token)
        assert code == 1 and "[access_denied]" in err
        messages.append(err.replace(name, "NAME"))
    assert messages[0] == messages[1]
    code, out, _ = platform.cli("audit", "events", "--decision", "deny", "--json")
    assert {"team-b-dev", "team-z-dev"} <= {e["account"] for e in json.loads(out)["items"]}


def test_close_account(platform):
    platform.vend("team-a-dev")
    code, out, _ = platform.cli("accounts", "close", "team-a-dev", "--yes", "--json")
    assert code == 0 and json.loads(out)["status"] == "closed"
    code, out, _ = platform.cli("accounts", "close", "team-a-dev", "--yes", "--json")
    assert code == 1 and json.loads(out)["code"] == "account_closed"
    code, _, err = platform.cli("accounts", "close", "log-archive", "--yes")
    assert code == 1 and "[central_account]" in err


def test_pagination(platform):
    first = platform.admin.accounts.list(limit=4)
    second = platform.admin.accounts.list(limit=4, offset=4)
    assert first["total"] == second["total"] == 11
    assert not {a["name"] for a in first["items"]} & {a["name"] for a in second["items"]}
    code, _, err = platform.cli("accounts", "list", "--limit", "0")
    assert code == 2 and "limit" in err.lower()


def test_closed_account_takes_no_new_access(platform):
    platform.vend("team-d-dev")
    platform.admin.accounts.close("team-d-dev")
    for args in (["assignments", "create", "--user", "admin", "--permission-set", "auditor",
                  "--account", "team-d-dev"],
                 ["controls", "enable", "CHARTER-DET-1", "--account", "team-d-dev"],
                 ["accounts", "update", "team-d-dev", "--budget", "5"]):
        code, _, err = platform.cli(*args)
        assert code == 1 and "[access_denied]" in err and "closed" in err, args


def test_catalogues_are_open_to_every_user(platform):
    platform.vend("team-a-dev")
    _, token = platform.user("newbie", "team-a-data-scientists")
    for args in (["blueprints", "list"], ["controls", "list"], ["permission-sets", "list"],
                 ["controls", "findings", "--account", "team-a-dev"]):
        code, _, err = platform.cli(*args, token=token)
        assert code == 0, (args, err)
    code, _, err = platform.cli("ou", "tree", token=token)
    assert code == 1 and "[access_denied]" in err


@pytest.mark.parametrize("args,code", [
    (["accounts", "list", "--status", "bogus"], "invalid_request"),
    (["controls", "findings", "--status", "bogus"], "invalid_request"),
    (["controls", "findings", "--control", "nope"], "control_not_found"),
    (["audit", "events", "--decision", "maybe"], "invalid_request"),
    (["audit", "events", "--offset", "99999999999999999999"], "invalid_request"),
    (["accounts", "update", "team-a-dev", "--budget", "inf"], "invalid_request"),
    (["accounts", "update", "team-a-dev", "--budget", "nan"], "usage"),
    (["ou", "create", "/workloads/ml/\u212aelvin"], "invalid_ou_path"),
])
def test_bad_filters_and_numbers_are_refused(platform, args, code):
    platform.vend("team-a-dev")
    exit_code, _, err = platform.cli(*args)
    if code == "usage":
        assert exit_code == 2 and "Invalid value" in err, err
    else:
        assert exit_code == 1 and f"[{code}]" in err, err
    assert platform.admin.accounts.get("team-a-dev")["budget"] == 1000.0


def test_budget_must_be_a_number_over_rest(platform):
    platform.vend("team-a-dev")
    for budget in (True, "100", 1e13):
        response = platform.admin._http.patch("/v1/accounts/team-a-dev", json={"budget": budget})
        assert response.status_code == 422, budget
