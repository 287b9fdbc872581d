"""Names, resource names and time parsing: accept the documented forms, refuse the rest
with charter.errors.Invalid and a stable code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from charter.core.clock import as_utc, now, parse_duration, parse_time
from charter.core.ids import Crn, check_name, crn, new_id, new_request_id, split_table_name
from charter.errors import Invalid


@pytest.mark.parametrize("name", ["abc", "team-a-dev", "a1b", "x" * 63, "ml-2-prod"])
def test_check_name_accepts_valid_names(name):
    assert check_name(name, "account") == name


@pytest.mark.parametrize("name", [
    "", "ab", "x" * 64, "Team-a", "1abc", "-abc", "abc-", "a_b_c", "a.bc", "ab c", "ab\nc",
    "\nabc", "crn:x", "ab/cd", "..x", "abc\n",
])
def test_check_name_refuses_invalid_names_with_stable_code(name):
    with pytest.raises(Invalid) as info:
        check_name(name, "account")
    assert info.value.code == "invalid_account_name"
    assert info.value.http_status == 422


def test_check_name_code_names_what_was_checked():
    with pytest.raises(Invalid) as info:
        check_name("Bad", "permission set")
    assert info.value.code == "invalid_permission_set_name"


@pytest.mark.parametrize("text", [
    "crn:team-a-dev:registry:model-version/churn/3",
    "crn:log-archive:audit:trail/main",
    "crn:management:identity:user/alice",
    "crn:security-tooling:controls:finding/*",
    "crn:team-a-dev:service_catalog:product/a/b/c",
])
def test_crn_parse_and_str_round_trip(text):
    parsed = Crn.parse(text)
    assert str(parsed) == text
    assert Crn.parse(str(parsed)) == parsed
    assert crn(parsed.account, parsed.module, parsed.type, parsed.path) == text


def test_crn_parse_splits_fields():
    parsed = Crn.parse("crn:team-a-dev:registry:model-version/churn/3")
    assert parsed == Crn("team-a-dev", "registry", "model-version", "churn/3")


@pytest.mark.parametrize("text", [
    "", "team-a-dev:registry:model/x", "crn:team-a-dev:registry:model",
    "crn:team-a-dev:registry:model/",
    "crn::registry:model/x", "crn:Team:registry:model/x", "crn:team:Registry:model/x",
    "crn:team:registry:Model/x", "arn:team:registry:model/x", "crn:team:registry/x",
    "crn:team-a-dev:registry:model/x\n",
])
def test_crn_parse_refuses_malformed_names(text):
    with pytest.raises(Invalid) as info:
        Crn.parse(text)
    assert info.value.code == "invalid_crn"


def test_ids_are_prefixed_and_unique():
    ids = {new_id("evt-") for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("evt-") for i in ids)
    assert new_request_id().startswith("req-") and new_request_id() != new_request_id()


@pytest.mark.parametrize(("text", "expected"), [
    ("45s", timedelta(seconds=45)), ("90m", timedelta(minutes=90)), ("12h", timedelta(hours=12)),
    ("30d", timedelta(days=30)), ("2w", timedelta(weeks=2)), (" 7d ", timedelta(days=7)),
])
def test_parse_duration_accepts_number_and_unit(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", [
    "", "d", "0d", "-1d", "1.5h", "10", "10y", "10 d", "1d2h", "P1D", "tomorrow", "1D", "7d\nx",
    "99999999999d", "\u0663d", "\uff11d", "\u0967\u0968h", "1\u0660d",
])
def test_parse_duration_refuses_bad_input_with_stable_code(text):
    with pytest.raises(Invalid) as info:
        parse_duration(text)
    assert info.value.code == "invalid_duration"
    assert info.value.http_status == 422


def test_parse_time_accepts_a_duration_ago():
    before = now()
    value = parse_time("7d")
    after = now()
    assert before - timedelta(days=7) <= value <= after - timedelta(days=7)
    assert value.tzinfo is not None


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-31T12:00", datetime(2026, 1, 31, 12, 0, tzinfo=UTC)),
    ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
    ("2026-01-31T12:00:00+02:00", datetime(2026, 1, 31, 10, 0, tzinfo=UTC)),
    ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, 0, tzinfo=UTC)),
])
def test_parse_time_accepts_iso_8601_and_returns_aware_utc(text, expected):
    value = parse_time(text)
    assert value == expected
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", [
    "", "yesterday", "2026-13-01", "31/01/2026", "0d", "12:00x", "2026-01-31T12:00\nx",
    "999999999d",
    # In range where written, out of range in UTC.
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
])
def test_parse_time_refuses_bad_input_with_stable_code(text):
    with pytest.raises(Invalid) as info:
        parse_time(text)
    assert info.value.code == "invalid_time"


def test_as_utc_treats_naive_as_utc_and_converts_aware():
    naive = datetime(2026, 1, 1, 12, 0)
    assert as_utc(naive) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    aware = datetime.fromisoformat("2026-01-01T14:00:00+02:00")
    assert as_utc(aware).isoformat() == "2026-01-01T12:00:00+00:00"


@pytest.mark.parametrize("name,parts", [("bank.customers", ("bank", "customers")),
                                        ("Bank.Customers", ("bank", "customers"))])
def test_split_table_name(name, parts):
    assert split_table_name(name) == parts


@pytest.mark.parametrize("name", ["bank", "bank.", ".customers", "a.b.c", ""])
def test_split_table_name_refuses_other_shapes(name):
    with pytest.raises(Invalid) as refused:
        split_table_name(name, code="invalid_snapshot")
    assert refused.value.code == "invalid_snapshot"
