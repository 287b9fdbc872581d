"""Audit and findings reads only where the caller may read: an account that does not
exist, or the organisation-wide `unknown`, is refused like a foreign account; refused
input is recorded as `deny` / `rejected`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from charter.access import authorizer as authz
from charter.audit.orm import AuditEvent
from charter.core.accounts import MANAGEMENT


@pytest.fixture
def people(platform):
    platform.vend("team-a-dev")
    alice, _ = platform.user("alice", "team-a-data-scientists")
    auditor, _ = platform.user("audrey", "security-auditors")
    return platform, alice, auditor


def _refusal(client, path: str) -> tuple[int, str]:
    response = client._http.get(path)
    return response.status_code, response.json().get("message", "")


@pytest.mark.parametrize("route", ["/v1/audit/events?account={}",
                                   "/v1/controls/findings?account={}"])
def test_missing_accounts_are_refused_like_foreign_ones(people, route):
    platform, alice, _ = people
    platform.vend("team-b-dev")
    foreign = _refusal(alice, route.format("team-b-dev"))
    assert foreign[0] == 403
    for name in ("zz-nonexist", "unknown"):
        status, message = _refusal(alice, route.format(name))
        assert status == 403, (name, message)
        assert message == foreign[1].replace("team-b-dev", name)


def test_organisation_wide_records_are_for_auditors_and_administrators(people):
    platform, alice, auditor = people
    alice._http.get("/v1/identity/whoami", headers={"authorization": "Bearer chr_guess"})
    for reader in (auditor, platform.admin):
        items = reader.audit.events(account="unknown", limit=1000)["items"]
        assert any(e["action"] == "identity:Authenticate" for e in items)
    listed = alice.audit.events(limit=1000)["items"]
    assert {e["account"] for e in listed} <= {"team-a-dev"}


def test_administrators_learn_a_missing_account_is_missing(people):
    platform, _, _ = people
    status, message = _refusal(platform.admin, "/v1/controls/findings?account=zz-nonexist")
    assert status == 404 and "zz-nonexist" in message


def _last(platform, **where) -> AuditEvent:
    with platform.runtime.db.transaction() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq.desc())
        for column, value in where.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return session.scalars(query).first()


def test_input_refused_before_authorization_is_recorded_as_rejected(people):
    platform, alice, _ = people
    response = alice._http.post("/v1/identity/users", json={"name": 42})  # not a string
    assert response.status_code == 422
    record = _last(platform, principal="alice")
    assert (record.action, record.decision, record.outcome) == ("api:RejectRequest", "deny",
                                                                "rejected")
    response = alice._http.get("/v1/accounts/Not_A_Name")  # refused by its target
    assert response.status_code == 422
    record = _last(platform, principal="alice")
    assert (record.decision, record.outcome, record.resource) == ("deny", "rejected",
                                                                  "unknown")


def test_overlong_names_are_refused_and_still_recorded(people):
    platform, alice, _ = people
    long_id = "t" * 600
    response = alice._http.post(f"/v1/identity/tokens/{long_id}/revoke")
    assert response.status_code in (403, 404, 422), response.text
    record = _last(platform, principal="alice")
    assert record.request_id == response.headers["x-request-id"]
    assert len(record.resource) <= 500 and record.decision == "deny"
    assert platform.admin.audit.verify()["ok"] is True


def test_audit_events_page_with_a_cursor_that_survives_new_records(people):
    _, _, auditor = people
    first = auditor.audit.events(limit=5)
    assert len(first["items"]) == 5 and first["next_cursor"]
    auditor.whoami()  # a newer record arrives between the pages
    second = auditor.audit.events(limit=5, cursor=first["next_cursor"])
    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 10  # no gap, no repeat
    assert seqs[5] == seqs[4] - 1
    response = auditor._http.get("/v1/audit/events", params={"cursor": "not-a-cursor"})
    assert response.status_code == 422 and response.json()["code"] == "invalid_cursor"


def _record_of(platform, account: str) -> int:
    record = _last(platform, account=account)
    assert record is not None, account
    return record.seq


def _answer(client, seq: int) -> tuple[int, bytes]:
    response = client._http.get(f"/v1/audit/events/{seq}")
    return response.status_code, response.content


def test_a_refused_record_tells_neither_its_account_nor_that_it_exists(people):
    platform, alice, auditor = people
    platform.vend("team-b-dev")
    nobody, _ = platform.user("nobody")
    foreign, central = _record_of(platform, "team-b-dev"), _record_of(platform, MANAGEMENT)
    missing = foreign + 10**9
    own = _record_of(platform, "team-a-dev")
    for reader in (nobody, alice):  # no rights at all; rights in another account
        answers = {seq: _answer(reader, seq) for seq in (foreign, central, missing)}
        assert {a for a in answers.values()} == {answers[missing]}, answers
        status, body = answers[missing]
        assert status == 403 and json.loads(body)["code"] == "access_denied"
        for secret in ("team-b-dev", MANAGEMENT, str(foreign), str(central), str(missing)):
            assert secret.encode() not in body
    # exactly as strict as before: a reader of the account reads it, the auditor all
    assert alice.audit.event(own).seq == own
    assert nobody._http.get(f"/v1/audit/events/{own}").status_code == 403
    assert auditor.audit.event(foreign).account == "team-b-dev"
    assert _answer(auditor, missing)[0] == 404


def test_a_refused_record_is_worded_alike_whatever_policy_refuses_it(people, monkeypatch):
    """A forbid policy on one account does not make its records' refusals read apart."""
    platform, alice, _ = people
    platform.vend("team-b-dev")
    forbid = ('@id("test:no-reads-in-b")\nforbid(principal, action in '
              '[Action::"audit:DescribeEvent", Action::"audit:ListEvents"], '
              'resource in Account::"team-b-dev");')
    monkeypatch.setitem(authz._SOURCES, "test-forbid",
                        lambda session: authz.Fragment(policies=[forbid]))
    with platform.runtime.db.transaction() as session:
        authz.bump_version(session)
    foreign = _record_of(platform, "team-b-dev")
    assert _answer(alice, foreign) == _answer(alice, foreign + 10**9)
    refused = [_refusal(alice, f"/v1/audit/events?account={name}")
               for name in ("team-b-dev", "zz-nonexist")]
    assert refused[0][0] == refused[1][0] == 403
    assert refused[0][1] == refused[1][1].replace("zz-nonexist", "team-b-dev")
    assert "test:no-reads-in-b" not in refused[0][1]
    record = _last(platform, principal="alice", account="team-b-dev")  # the trail knows
    assert (record.action, record.decision) == ("audit:ListEvents", "deny")
    assert "test:no-reads-in-b" in json.loads(record.details)["refused_by"]
