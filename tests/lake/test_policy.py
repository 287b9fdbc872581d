"""A lake access policy is typed and frozen, and stored as the same JSON as before."""

from __future__ import annotations

import dataclasses

import pytest

from charter.lake._policy import AccessPolicy, fit, intersect, make_policy, union, within

STORED = {"columns": ["id", "ssn"], "row_filter": "\"region\" = 'EU'", "masks": {"ssn": "last4"}}


def test_a_stored_policy_reads_back_as_it_was_stored():
    policy = AccessPolicy.from_json(STORED)
    assert policy.columns == ("id", "ssn") and policy.masks["ssn"] == "last4"
    assert policy.to_json() == STORED
    tagged = {"columns": None, "row_filter": None, "masks": {}, "tags": "pii = 'no'"}
    assert AccessPolicy.from_json(tagged).to_json() == tagged


def test_a_policy_cannot_be_changed_after_it_is_made():
    policy = AccessPolicy.from_json(STORED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.row_filter = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.masks["ssn"] = "null"  # type: ignore[index]
    assert hash(policy) == hash(AccessPolicy.from_json(STORED))


def test_a_union_keeps_its_grants_and_is_never_stored():
    eu = make_policy(["id", "ssn", "region"], include=["id", "region"], exclude=None,
                     row_filter="region = 'EU'", masks={})
    us = make_policy(["id", "ssn", "region"], include=None, exclude=None,
                     row_filter="region = 'US'", masks={"ssn": "null"})
    both = union([eu, us])
    assert both.parts == (eu, us) and both.columns is None
    assert both.row_filter == "(\"region\" = 'EU') OR (\"region\" = 'US')"
    with pytest.raises(ValueError):
        both.to_json()
    shared = intersect(AccessPolicy(masks={"ssn": "hash"}), both)
    assert [p.masks.get("ssn") for p in shared.parts] == ["hash", "hash"]
    assert not within(AccessPolicy(columns=("id",)), us)


def test_a_whole_table_grant_fits_each_table():
    policy = AccessPolicy(row_filter="\"region\" = 'EU'", masks={"ssn": "null", "x": "hash"})
    assert fit(policy, ["id", "ssn"]) is None  # no region column: not covered
    fitted = fit(policy, ["id", "ssn", "region"], visible=["ssn", "region"])
    assert fitted is not None
    assert fitted.columns == ("ssn", "region") and dict(fitted.masks) == {"ssn": "null"}
