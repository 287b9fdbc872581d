"""Approval over the REST API: only the account's ML team lead approves or rejects; every
refusal is a 403 and audited; each change emits exactly one event."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from charter.errors import CharterError, Denied
from charter.registry import service
from charter.registry.schemas import ModelGroupCreate, ModelVersionCreate
from tests.registry.conftest import A, counts, events

GROUP = "churn"


@pytest.fixture
def pending(team, store_model):
    """Version 1 of team-a-dev's churn, pending approval."""
    ctx = team.ctx("sam")
    service.create_group(ctx, A, ModelGroupCreate(name=GROUP))
    stored = store_model()
    service.create_version(ctx, A, GROUP, ModelVersionCreate(source=stored.source,
                                                             run_id=stored.run_id))
    return team


def _decisions(platform):
    return ([(e["version"], e["status"], e["previous_status"], e["by"])
             for e in events(platform, "ModelVersionApproved")],
            [(e["version"], e["status"], e["previous_status"], e["by"])
             for e in events(platform, "ModelVersionRejected")])


def _audited(platform, principal: str, action: str) -> list[tuple[str, str, str]]:
    with platform.runtime.db.read() as session:
        return [(r.decision, r.outcome, r.resource) for r in session.scalars(
            select(AuditEvent).where(AuditEvent.principal == principal,
                                     AuditEvent.action == action))]


def test_the_team_lead_approves_and_rejects_one_event_per_change(pending):
    lena = pending.clients["lena"]
    approved = lena.models.approve(A, GROUP, 1, reason="AUC 0.91 on the holdout")
    assert approved.approval_status == "Approved"
    assert (approved.approval.by, approved.approval.reason) == ("lena",
                                                                "AUC 0.91 on the holdout")
    first_at = approved.approval.at
    assert _decisions(pending.platform) == ([(1, "Approved", "PendingManualApproval",
                                              "lena")], [])
    # The same decision again changes nothing and emits nothing (MLflow, SageMaker).
    again = lena.models.approve(A, GROUP, 1, reason="still good")
    assert again.approval_status == "Approved" and again.approval.at == first_at
    assert again.approval.reason == "AUC 0.91 on the holdout"
    assert len(_decisions(pending.platform)[0]) == 1
    # A decision can be reversed, each way, each reversal one event.
    rejected = lena.models.reject(A, GROUP, 1, reason="drift on October data")
    assert (rejected.approval_status, rejected.approval.reason) == (
        "Rejected", "drift on October data")
    lena.models.reject(A, GROUP, 1, reason="again")
    lena.models.approve(A, GROUP, 1, reason="retested")
    assert _decisions(pending.platform) == (
        [(1, "Approved", "PendingManualApproval", "lena"), (1, "Approved", "Rejected", "lena")],
        [(1, "Rejected", "Approved", "lena")])
    shown = pending.clients["sam"].models.version(A, GROUP, 1)
    assert (shown.approval_status, shown.approval.by) == ("Approved", "lena")
    assert [r[:2] for r in _audited(pending.platform, "lena",
                                    "registry:ApproveModelVersion")] == [("allow", "success")] * 3


@pytest.mark.parametrize("who", ["sam", "bob", "admin", "nobody"],
                         ids=["data-scientist-of-the-account", "team-lead-of-another-account",
                              "cloud-admin", "no-permissions"])
def test_everyone_else_is_refused_and_audited(pending, who):
    client = pending.clients[who]
    principal = client.whoami().name
    before = counts(pending.platform)
    for decide, action in ((client.models.approve, "registry:ApproveModelVersion"),
                           (client.models.reject, "registry:RejectModelVersion")):
        with pytest.raises(Denied) as err:
            decide(A, GROUP, 1, reason="looks fine to me")
        assert err.value.code == "access_denied"
        assert _audited(pending.platform, principal, action) == [
            ("deny", "denied", "crn:team-a-dev:registry:model-version/churn/1")]
    assert counts(pending.platform) == before
    version = pending.clients["lena"].models.version(A, GROUP, 1)
    assert (version.approval_status, version.approval) == ("PendingManualApproval", None)


def test_the_refusal_says_why(pending):
    with pytest.raises(Denied) as err:
        pending.clients["admin"].models.approve(A, GROUP, 1, reason="ok")
    assert "registry:only-team-lead-decides" in err.value.message
    assert "separation of duties" in err.value.message


def test_a_team_lead_of_a_production_account_decides_there_only(pending):
    """Holding ml-team-lead is per account: team-a's leads hold it in team-a-dev (and
    team-a's other accounts), not in team-b-dev, whatever the version."""
    bob = pending.clients["bob"]
    with pytest.raises(Denied):
        bob.models.approve(A, GROUP, 1, reason="mine now")


@pytest.mark.parametrize("body,code", [
    ({}, "invalid_request"),
    ({"reason": ""}, "invalid_request"),
    ({"reason": "x" * 1001}, "invalid_request"),
    ({"reason": "bad\x00byte"}, "invalid_text"),
    ({"reason": 5}, "invalid_request"),
])
def test_a_bad_reason_over_rest_changes_nothing(pending, body, code):
    before = counts(pending.platform)
    response = pending.clients["lena"]._http.post(
        f"/v1/accounts/{A}/registry/models/{GROUP}/versions/1/approve", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert counts(pending.platform) == before


@pytest.mark.parametrize("reason,code", [
    ("", "reason_required"), ("   ", "reason_required"), ("x" * 1001, "reason_too_long"),
    ("bad\x00byte", "invalid_text"),
])
def test_a_bad_reason_in_the_service_changes_nothing(pending, reason, code):
    before = counts(pending.platform)
    with pytest.raises(CharterError) as err:
        service.approve_version(pending.ctx("lena"), A, GROUP, 1, reason)
    assert err.value.code == code
    assert counts(pending.platform) == before


@pytest.mark.parametrize("path,status,code", [
    ("/v1/accounts/team-a-dev/registry/models/nope/versions/1/approve", 404,
     "model_group_not_found"),
    ("/v1/accounts/team-a-dev/registry/models/churn/versions/7/approve", 404,
     "model_version_not_found"),
    ("/v1/accounts/team-a-dev/registry/models/churn/versions/0/approve", 422,
     "invalid_request"),
    ("/v1/accounts/team-a-dev/registry/models/churn/versions/x/approve", 422,
     "invalid_request"),
    ("/v1/accounts/team-a-dev/registry/models/churn/versions/99999999999/approve", 422,
     "invalid_request"),
    ("/v1/accounts/team-a-dev/registry/models/ch%00urn/versions/1/approve", 422,
     "invalid_text"),
])
def test_unknown_versions_over_rest(pending, path, status, code):
    before = counts(pending.platform)
    response = pending.clients["lena"]._http.post(path, json={"reason": "ok"})
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert counts(pending.platform) == before
