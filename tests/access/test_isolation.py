"""Cross-account isolation: a user of team-a-dev can neither read, list nor change
anything in team-b-dev, by REST, SDK or CLI; every attempt is 403 and audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from charter.errors import Denied


@pytest.fixture
def teams(platform):
    platform.vend("team-a-dev")
    platform.vend("team-b-dev")
    alice, token = platform.user("alice", "team-a-data-scientists", "team-a-leads")
    return platform, alice, token


def _denials(platform, principal: str, account: str) -> list[AuditEvent]:
    with platform.runtime.db.transaction() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.principal == principal, AuditEvent.account == account,
            AuditEvent.decision == "deny")))


def test_own_account_is_readable(teams):
    _platform, alice, _ = teams
    assert alice.accounts.get("team-a-dev")["name"] == "team-a-dev"
    names = [a["name"] for a in alice.accounts.list()["items"]]
    assert names == ["team-a-dev"]


SDK_ATTEMPTS = [
    ("read", lambda c: c.accounts.get("team-b-dev")),
    ("change tags", lambda c: c.accounts.update("team-b-dev", tags={"owner": "mallory"})),
    ("close", lambda c: c.accounts.close("team-b-dev")),
    ("read trail", lambda c: c.audit.events(account="team-b-dev")),
    ("read findings", lambda c: c.controls.findings(account="team-b-dev")),
    ("grant itself", lambda c: c.assignments.create(permission_set="cloud-admin",
                                                   user="alice", account="team-b-dev")),
    ("enable control", lambda c: c.controls.enable("CHARTER-DET-1", account="team-b-dev")),
]


@pytest.mark.parametrize("what,attempt", SDK_ATTEMPTS, ids=[a[0] for a in SDK_ATTEMPTS])
def test_sdk_attempts_are_denied_and_audited(teams, what, attempt):
    platform, alice, _ = teams
    before = len(_denials(platform, "alice", "team-b-dev"))
    with pytest.raises(Denied) as refused:
        attempt(alice)
    assert refused.value.code == "access_denied"
    assert len(_denials(platform, "alice", "team-b-dev")) == before + 1
    assert platform.admin.accounts.get("team-b-dev")["tags"]["owner"] == "team-b"


def test_listings_never_show_the_other_account(teams):
    platform, alice, _ = teams
    platform.admin.controls.evaluate()
    alice.accounts.get("team-a-dev")
    assert "team-b-dev" not in {a["name"] for a in alice.accounts.list()["items"]}
    events = alice.audit.events(limit=1000)["items"]
    assert events and {e["account"] for e in events} <= {"team-a-dev"}
    findings = alice.controls.findings(status="all")["items"]
    assert all(f["account"] == "team-a-dev" for f in findings)


def test_rest_attempts_are_403_and_audited(teams):
    platform, alice, _ = teams
    http = alice._http
    for method, path, body in [
        ("GET", "/v1/accounts/team-b-dev", None),
        ("PATCH", "/v1/accounts/team-b-dev", {"tags": {"owner": "x"}}),
        ("POST", "/v1/accounts/team-b-dev/close", None),
        ("GET", "/v1/audit/events?account=team-b-dev", None),
    ]:
        response = http.request(method, path, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "access_denied"
        assert "team-b-dev" in response.json()["message"]
    assert len(_denials(platform, "alice", "team-b-dev")) >= 4


def test_cli_attempts_exit_non_zero_and_are_audited(teams):
    platform, _, token = teams
    for args in (["accounts", "show", "team-b-dev"],
                 ["accounts", "update", "team-b-dev", "--tag", "owner=x"],
                 ["accounts", "close", "team-b-dev", "--yes"],
                 ["audit", "events", "--account", "team-b-dev"]):
        code, out, err = platform.cli(*args, token=token)
        assert code == 1, args
        assert "access_denied" in err and "team-b-dev" in err
        code, out, _ = platform.cli(*args, "--json", token=token)
        assert code == 1 and json.loads(out)["code"] == "access_denied"
    assert len(_denials(platform, "alice", "team-b-dev")) >= 8
    code, out, _ = platform.cli("accounts", "list", "--json", token=token)
    assert [a["name"] for a in json.loads(out)["items"]] == ["team-a-dev"]
