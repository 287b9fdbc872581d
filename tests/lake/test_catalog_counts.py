"""Record counts in the catalog count every row of a table: a caller who reads it under a
row filter is not shown them, in listings, table details or snapshots."""

from __future__ import annotations

import json

import pytest

FIRST = b"id,region\n1,EU\n2,US\n3,US\n"
SECOND = b"id,region\n4,EU\n5,US\n"


@pytest.fixture
def lake(retail):
    """Two snapshots of bank.customers (5 rows, 2 of them EU); `analysts` may use the
    account's catalog."""
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", FIRST, mode="create")
    erin.lake.ingest("retail-data", "bank.customers", SECOND)
    platform.admin.groups.create("analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    return platform, erin


def _counts(client, account: str) -> tuple[list, list, list]:
    """(counts in the listing, in the table's details, of each snapshot)."""
    listed = [t["total_records"] for t in client.lake.tables(account).items]
    shown = client.lake.table(account, "bank.customers")["total_records"]
    snaps = [(s["added_records"], s["total_records"])
             for s in client.lake.snapshots(account, "bank.customers").items]
    return listed, [shown], snaps


def test_a_row_filtered_reader_sees_no_counts(lake):
    platform, erin = lake
    erin.lake.grant("retail-data", "bank.customers", to="group:analysts",
                    row_filter="region = 'EU'")
    ana, token = platform.user("ana", "analysts")
    assert _counts(ana, "retail-data") == ([None], [None], [(None, None), (None, None)])
    # The rows the filter leaves are counted by a governed query, as ever.
    assert ana.lake.query("retail-data", "SELECT count(*) AS n FROM bank.customers"
                          ).to_pylist() == [{"n": 2}]
    assert _counts(erin, "retail-data") == ([5], [5], [(3, 3), (2, 5)])
    code, out, _ = platform.cli("lake", "tables", "show", "retail-data", "bank.customers",
                                token=token)
    assert code == 0 and "record count withheld (row filter)" in out
    code, out, _ = platform.cli("lake", "snapshots", "retail-data", "bank.customers",
                                "--json", token=token)
    assert code == 0 and [s["total_records"] for s in json.loads(out)["items"]] == [None, None]
    # A second grant, of one masked column but every row: the counts are ana's to see.
    platform.admin.groups.create("auditors")
    erin.lake.grant("retail-data", "bank.customers", to="group:auditors", columns=["id"],
                    masks={"id": "null"})
    platform.admin.groups.add_member("auditors", "ana")
    assert _counts(ana, "retail-data") == ([5], [5], [(3, 3), (2, 5)])


def test_a_share_under_a_row_filter_shows_the_consumer_no_counts(lake):
    platform, erin = lake
    platform.vend("team-a-dev")
    erin.lake.share("retail-data", "bank.customers", with_account="team-a-dev",
                    row_filter="region = 'EU'")
    assert _counts(platform.admin, "team-a-dev") == ([None], [None],
                                                     [(None, None), (None, None)])
    code, out, _ = platform.cli("lake", "tables", "list", "team-a-dev")
    assert code == 0 and "withheld (row filter)" in out
