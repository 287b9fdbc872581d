"""The cached, per-container Cedar sets decide exactly as the whole policy set does, and
are rebuilt only when policies or entities change."""

from __future__ import annotations

import itertools

import cedarpy

from charter.access.authorizer import account_target, authorizer, ou_target
from charter.core.context import SYSTEM_PRINCIPAL, Principal


def _authz(platform):
    with platform.runtime.db.transaction() as session:
        return authorizer(platform.runtime, session)


def test_sliced_sets_decide_like_the_whole_set(platform):
    for name in ("team-a-dev", "team-a-prod", "team-b-dev"):
        platform.vend(name)
    platform.user("ann", "team-a-data-scientists", "team-b-leads")
    platform.user("aud", "security-auditors")
    platform.admin.assignments.create(permission_set="cloud-admin", user="ann",
                                      account="team-a-prod")
    authz = _authz(platform)
    principals = [Principal("ann"), Principal("aud"), Principal("admin"), SYSTEM_PRINCIPAL]
    actions = ["org:DescribeAccount", "org:UpdateAccount", "audit:StopTrail",
               "controls:EnableControl", "org:CreateOU", "audit:ReadEvents"]
    targets = [account_target(a, f"crn:{a}:org:account/{a}")
               for a in ("team-a-dev", "team-a-prod", "team-b-dev", "log-archive", "nowhere")]
    targets += [ou_target(p, "crn:management:org:ou/x") for p in ("/", "/workloads/ml/prod")]
    whole = cedarpy.PolicySet.from_str(authz.policy_text)
    decided = 0
    for principal, action, target in itertools.product(principals, actions, targets):
        expected = cedarpy.is_authorized(authz.request(principal, action, target), whole,
                                         authz.entities).allowed
        assert authz.decide(principal, action, target).allowed == expected, (
            principal.name, action, target.id)
        decided += expected
    assert 0 < decided < len(principals) * len(actions) * len(targets)
    batch = authz.decide_many(Principal("ann"), "org:UpdateAccount", targets)
    assert batch == [authz.decide(Principal("ann"), "org:UpdateAccount", t).allowed
                     for t in targets]


def test_sets_are_rebuilt_only_on_change(platform):
    first = _authz(platform)
    platform.admin.accounts.list()
    platform.admin.audit.verify()
    assert _authz(platform) is first
    platform.vend("team-a-dev")
    second = _authz(platform)
    assert second is not first and second.version > first.version
    assert ("Account", "team-a-dev") in {(e["uid"]["type"], e["uid"]["id"])
                                         for e in second.entity_list}
