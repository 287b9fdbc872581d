"""Input the schema lets through but the code or the database could not take is answered
4xx with a stable code, not 500: times out of range in UTC, an empty assignment scope, a
budget beyond the column that holds it."""

from __future__ import annotations

import pytest

from charter.errors import CharterError

from .conftest import one_record


@pytest.mark.parametrize("bound", ["since", "until"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_out_of_range_in_utc_is_invalid_for_any_user(platform, bound, value):
    nobody, _ = platform.user("nobody")
    with pytest.raises(CharterError) as refused:
        nobody.audit.events(**{bound: value})
    assert (refused.value.code, refused.value.http_status) == ("invalid_time", 422)


@pytest.mark.parametrize("scope", [{"ou": ""}, {"account": ""}])
@pytest.mark.parametrize("who", [{"user": "carl"}, {"group": ""}])
def test_an_empty_scope_or_principal_is_invalid_and_recorded(platform, scope, who):
    platform.user("carl")
    before = platform.admin.assignments.list(principal="carl")["total"]
    answer = platform.admin._http.post("/v1/identity/assignments", json={
        "permission_set": "cost-viewer", **who, **scope})
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request")
    assert one_record(platform, answer).error_code == "invalid_request"
    assert platform.admin.assignments.list(principal="carl")["total"] == before


def test_a_budget_beyond_its_column_is_invalid_and_the_largest_it_holds_is_kept(platform):
    platform.vend("team-a-dev")
    for budget in (1_000_000_000_000, 999_999_999_999.995):
        with pytest.raises(CharterError) as refused:
            platform.admin.accounts.update("team-a-dev", budget=budget)
        assert (refused.value.code, refused.value.http_status) == ("invalid_request", 422)
    with pytest.raises(CharterError):
        platform.admin.accounts.create("team-b-dev", ou="/workloads/ml/nonprod",
                                       blueprint="ml-team-dev", budget=1e12,
                                       tags={"owner": "b", "cost-center": "c"})
    updated = platform.admin.accounts.update("team-a-dev", budget=999_999_999_999.99)
    assert updated["budget"] == 999_999_999_999.99
    assert platform.admin.accounts.get("team-a-dev")["budget"] == 999_999_999_999.99
