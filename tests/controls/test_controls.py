"""Each preventive, proactive and detective control, shown working."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from charter.access.authorizer import bump_version
from charter.controls.orm import ControlEnablement
from charter.core.clock import now
from charter.errors import ControlViolation, Denied, Invalid
from charter.identity.orm import Token


def _findings(platform, control: str, status: str = "open") -> list[dict]:
    return platform.admin.controls.findings(control=control, status=status)["items"]


# -- preventive ------------------------------------------------------------------------

@pytest.mark.parametrize("attempt", ["stop", "delete"])
def test_prev1_nobody_may_stop_or_delete_the_trail(platform, attempt):
    with pytest.raises(Denied) as refused:
        getattr(platform.admin.audit, attempt)()
    assert "CHARTER-PREV-1" in refused.value.message
    assert refused.value.details["policies"] == ["control:CHARTER-PREV-1@/"]
    denied = platform.admin.audit.events(action=f"audit:{attempt.title()}"
                                         + ("Trail" if attempt == "stop" else "Events"),
                                         decision="deny")
    assert denied["total"] == 1
    assert platform.admin.audit.verify()["ok"]


def test_prev1_cannot_be_disabled(platform):
    with pytest.raises(Invalid) as refused:
        platform.admin.controls.disable("CHARTER-PREV-1", ou="/")
    assert refused.value.code == "control_mandatory"


def test_prev2_only_central_cloud_engineering_changes_guardrails_or_ous(platform):
    platform.vend("team-a-dev")
    # An administrator outside the cloud-engineering group, holding cloud-admin everywhere.
    outsider, _ = platform.user("outsider", "security-auditors")
    platform.admin.assignments.create(permission_set="cloud-admin", user="outsider", ou="/")
    for attempt in (lambda c: c.controls.enable("CHARTER-DET-1", account="team-a-dev"),
                    lambda c: c.controls.disable("CHARTER-PRO-2", ou="/"),
                    lambda c: c.org.create_ou("/workloads/ml/sandbox")):
        with pytest.raises(Denied) as refused:
            attempt(outsider)
        assert "CHARTER-PREV-2" in refused.value.message
    # Everything else cloud-admin allows still works for the outsider.
    assert outsider.accounts.get("team-a-dev")["name"] == "team-a-dev"
    # Central cloud engineering may.
    assert platform.admin.org.create_ou("/workloads/ml/sandbox")["path"] == "/workloads/ml/sandbox"


def test_prev3_data_scientists_change_nothing_in_production(platform):
    platform.vend("team-a-dev")
    platform.vend("team-a-prod")
    dana, _ = platform.user("dana", "team-a-data-scientists")
    # Give dana a write permission in both accounts; the prod guardrail still wins.
    for account in ("team-a-dev", "team-a-prod"):
        platform.admin.assignments.create(permission_set="cloud-admin", user="dana",
                                          account=account)
    assert dana.accounts.update("team-a-dev", tags={"stage": "dev"})["tags"]["stage"] == "dev"
    with pytest.raises(Denied) as refused:
        dana.accounts.update("team-a-prod", tags={"stage": "prod"})
    assert "CHARTER-PREV-3" in refused.value.message
    assert "stage" not in platform.admin.accounts.get("team-a-prod")["tags"]
    # Reading production stays allowed.
    assert dana.accounts.get("team-a-prod")["name"] == "team-a-prod"


def test_prev3_is_enabled_on_a_prod_account_even_outside_the_default_ou(platform):
    platform.admin.controls.disable("CHARTER-PREV-3", ou="/workloads/ml/prod")
    account = platform.vend("team-c-prod")
    assert account["baseline"]["guardrails"] == ["CHARTER-PREV-3"]
    enabled = {c["id"]: c["enabled_on"] for c in platform.admin.controls.list()}
    assert "team-c-prod" in enabled["CHARTER-PREV-3"]


# -- proactive -------------------------------------------------------------------------

def test_pro1_accounts_need_owner_and_cost_center(platform):
    before = platform.admin.accounts.list()["total"]
    groups_before = platform.admin.groups.list()["total"]
    with pytest.raises(ControlViolation) as refused:
        platform.admin.accounts.create("team-q-dev", ou="/workloads/ml/nonprod",
                                       blueprint="ml-team-dev", tags={"owner": "q"})
    assert refused.value.details["control"] == "CHARTER-PRO-1"
    assert "cost-center" in refused.value.message
    assert platform.admin.accounts.list()["total"] == before
    assert platform.admin.groups.list()["total"] == groups_before  # no baseline half-applied
    platform.vend("team-q-dev")
    with pytest.raises(ControlViolation):
        platform.admin.accounts.update("team-q-dev", remove_tags=["owner"])
    assert platform.admin.accounts.get("team-q-dev")["tags"]["owner"] == "team-q"


def test_pro2_account_names_follow_the_convention(platform):
    with pytest.raises(ControlViolation) as refused:
        platform.admin.accounts.create("teamq", ou="/workloads/ml/nonprod",
                                       blueprint="ml-team-dev",
                                       tags={"owner": "q", "cost-center": "c"})
    assert refused.value.details["control"] == "CHARTER-PRO-2"
    code, _, err = platform.cli("accounts", "create", "team-q-test", "--ou",
                                "/workloads/ml/nonprod", "--blueprint", "ml-team-dev",
                                "--tag", "owner=q", "--tag", "cost-center=c")
    assert code == 1 and "CHARTER-PRO-2" in err
    # Disabled on the root, the convention no longer applies.
    platform.admin.controls.disable("CHARTER-PRO-2", ou="/")
    platform.admin.accounts.create("teamq", ou="/workloads/ml/nonprod", blueprint="ml-team-dev",
                                   tags={"owner": "q", "cost-center": "c"})


# -- detective -------------------------------------------------------------------------

def test_det1_account_without_owner_or_budget_raises_then_clears(platform):
    platform.admin.controls.disable("CHARTER-PRO-1", ou="/")
    platform.admin.accounts.create("team-o-dev", ou="/workloads/ml/nonprod",
                                   blueprint="ml-team-dev", tags={"cost-center": "c"})
    open_ = _findings(platform, "CHARTER-DET-1")
    assert [(f["account"], f["message"]) for f in open_] == [
        ("team-o-dev", "account team-o-dev has no owner tag")]
    assert open_[0]["crn"].startswith("crn:security-tooling:controls:finding/")
    platform.admin.accounts.update("team-o-dev", tags={"owner": "team-o"}, budget=0)
    assert _findings(platform, "CHARTER-DET-1")[0]["message"].endswith("no budget")
    platform.admin.accounts.update("team-o-dev", budget=100)
    assert _findings(platform, "CHARTER-DET-1") == []
    resolved = _findings(platform, "CHARTER-DET-1", status="resolved")
    assert [f["account"] for f in resolved] == ["team-o-dev"]


def test_det2_token_older_than_rotation_period(platform):
    platform.user("old-timer", "security-auditors")
    token = platform.admin.tokens.list(user="old-timer")["items"][0]
    with platform.runtime.db.transaction() as session:
        session.execute(update(Token).where(Token.id == token["id"]).values(
            created_at=now() - timedelta(days=platform.settings.identity.token_rotation_days + 1),
            expires_at=now() + timedelta(days=5)))
    assert platform.admin.controls.evaluate()["opened"] == 1
    assert token["id"] in _findings(platform, "CHARTER-DET-2")[0]["message"]
    platform.admin.tokens.revoke(token["id"])
    assert _findings(platform, "CHARTER-DET-2") == []


def test_det3_user_without_group_raises_then_clears_via_cli(platform):
    code, _, _ = platform.cli("users", "create", "loner")
    assert code == 0
    code, out, _ = platform.cli("controls", "findings", "--control", "CHARTER-DET-3", "--json")
    findings = json.loads(out)["items"]
    assert [f["message"] for f in findings] == ["user loner belongs to no group"]
    assert findings[0]["account"] == "management"
    platform.cli("groups", "add-member", "security-auditors", "loner")
    code, out, _ = platform.cli("controls", "findings", "--control", "CHARTER-DET-3", "--json")
    assert json.loads(out)["items"] == []


def test_controls_list_shows_every_kind(platform):
    _code, out, _ = platform.cli("controls", "list", "--json")
    controls = {c["id"]: c for c in json.loads(out)["items"]}
    assert {c["kind"] for c in controls.values()} == {"preventive", "proactive", "detective"}
    assert controls["CHARTER-PREV-1"]["mandatory"] and controls["CHARTER-PREV-1"]["enabled_on"]
    assert all(c["description"] for c in controls.values())


def test_prev3_counts_only_data_scientists_of_that_account(platform):
    for name in ("team-a-dev", "team-b-dev", "team-b-prod"):
        platform.vend(name)
    # Lead in team B, data scientist in team A only: team B's production is theirs to run.
    dual, _ = platform.user("dual", "team-b-leads", "team-a-data-scientists")
    platform.admin.assignments.create(permission_set="cloud-admin", user="dual",
                                      account="team-b-prod")
    assert dual.accounts.update("team-b-prod", budget=2500)["budget"] == 2500
    # A data scientist of team B is refused there, whatever else it holds.
    platform.admin.groups.add_member("team-b-data-scientists", "dual")
    with pytest.raises(Denied) as refused:
        dual.accounts.update("team-b-prod", budget=2600)
    assert "CHARTER-PREV-3" in refused.value.message


# -- the management account is never governed by preventive controls -------------------

def _enable_by_hand(platform, control_id: str, scope: str) -> None:
    """An enablement made before preventive controls were refused on `management`."""
    with platform.runtime.db.transaction() as session:
        session.add(ControlEnablement(control_id=control_id, scope=scope, enabled_by="admin",
                                      enabled_at=now()))
        bump_version(session)


@pytest.mark.parametrize("control", ["CHARTER-PREV-1", "CHARTER-PREV-2", "CHARTER-PREV-3"])
def test_preventive_controls_cannot_be_enabled_on_the_management_account(platform, control):
    code, out, _ = platform.cli("controls", "enable", control, "--account", "management",
                                "--json")
    assert code == 1 and json.loads(out)["code"] == "management_exempt"
    enabled = {c["id"]: c["enabled_on"] for c in platform.admin.controls.list()}
    assert "management" not in enabled[control]
    record = platform.admin.audit.events(action="controls:EnableControl", limit=1)["items"][0]
    assert record["error_code"] == "management_exempt" and record["outcome"] != "success"
    # other kinds of control may still be enabled there
    assert platform.admin.controls.enable("CHARTER-DET-3", account="management")["scope"] == (
        "management")


def test_a_preventive_control_enabled_on_management_earlier_never_applies_there(platform):
    _enable_by_hand(platform, "CHARTER-PREV-3", "management")
    code, _, err = platform.cli("assignments", "create", "--group", "cloud-engineering",
                                "--permission-set", "data-scientist", "--account", "management")
    assert code == 0, err
    code, out, err = platform.cli("users", "create", "after-the-guardrail", "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "after-the-guardrail"
    assert platform.admin.groups.create("still-administered")["name"] == "still-administered"


def test_a_preventive_control_on_the_root_spares_management_only(platform):
    platform.admin.controls.enable("CHARTER-PREV-3", ou="/")
    for account in ("management", "network"):
        platform.admin.assignments.create(permission_set="data-scientist",
                                          group="cloud-engineering", account=account)
    assert platform.admin.users.create("kept-writing")["name"] == "kept-writing"
    with pytest.raises(Denied) as refused:
        platform.admin.accounts.update("network", tags={"stage": "prod"})
    assert refused.value.details["policies"] == ["control:CHARTER-PREV-3@/"]
