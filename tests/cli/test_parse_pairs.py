"""KEY=VALUE options: one parser for tags, masks, snapshots and a tag to assign."""

from __future__ import annotations

import pytest

from charter.cli.common import parse_pairs
from charter.errors import Invalid


def test_pairs_are_stripped_and_keep_what_follows_the_first_equals():
    assert parse_pairs([" owner = team-a", "filter=a=b"], what="--tag", code="invalid_tag") == {
        "owner": "team-a", "filter": "a=b"}
    assert parse_pairs(None, what="--tag", code="invalid_tag") == {}


@pytest.mark.parametrize("item", ["owner", "=team-a", "owner=", " = "])
def test_an_item_without_both_sides_is_refused_with_the_callers_code(item):
    with pytest.raises(Invalid) as refused:
        parse_pairs([item], what="--mask", form="COL=KIND", code="invalid_grant")
    assert refused.value.code == "invalid_grant"
    assert "--mask" in refused.value.message and "COL=KIND" in refused.value.message


def test_every_cli_option_of_pairs_refuses_a_bare_word(platform):
    for args, code in [(("accounts", "update", "team-a-dev", "--tag", "owner"), "invalid_tag"),
                       (("lake", "query", "retail-data", "SELECT 1", "--snapshot", "bank.t"),
                        "invalid_snapshot"),
                       (("lake", "query", "retail-data", "SELECT 1", "--snapshot", "bank.t=x"),
                        "invalid_snapshot"),
                       (("lake", "tags", "assign", "retail-data", "bank", "pii"), "invalid_tag")]:
        status, _, err = platform.cli(*args)
        assert status == 1 and f"[{code}]" in err, (args, err)
