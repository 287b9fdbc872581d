"""What a caller may read of a table is planned once per policy and data version: every
write operation moves the data version, so the next query sees a revoked grant, a new
mask, a changed group or new data; reads and refused writes leave it."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charter.access.authorizer import data_version
from charter.errors import CharterError

CUSTOMERS = b"id,name,ssn,region\n1,Ann,111-1,EU\n2,Bob,222-2,US\n3,Cy,333-3,EU\n"
SQL = "SELECT * FROM bank.customers ORDER BY id"


@pytest.fixture
def lake(retail):
    """ana, of group analysts, reads EU rows of customers without ssn."""
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    platform.admin.groups.create("analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    grant = erin.lake.grant("retail-data", "bank.customers", to="group:analysts",
                            exclude_columns=["ssn"], row_filter="region = 'EU'")
    ana, _ = platform.user("ana", "analysts")
    return platform, erin, ana, grant


def _version(platform) -> int:
    with platform.runtime.db.read() as session:
        return data_version(session)


def _refused(client, sql: str = SQL) -> str:
    with pytest.raises(CharterError) as refused:
        client.lake.query("retail-data", sql)
    return refused.value.code


def test_a_revoked_grant_ends_reading_at_the_next_query(lake):
    _, erin, ana, grant = lake
    assert ana.lake.query("retail-data", SQL).column("id").to_pylist() == [1, 3]
    erin.lake.revoke("retail-data", grant["id"])
    assert _refused(ana) == "table_not_found"


def test_a_new_grant_shows_at_the_next_query(lake):
    _, erin, ana, grant = lake
    assert ana.lake.query("retail-data", SQL).column_names == ["id", "name", "region"]
    erin.lake.revoke("retail-data", grant["id"])
    erin.lake.grant("retail-data", "bank.customers", to="group:analysts",
                    masks={"ssn": "last4"})
    rows = ana.lake.query("retail-data", SQL).to_pylist()
    assert [r["ssn"] for r in rows] == ["*11-1", "*22-2", "*33-3"]


def test_group_membership_counts_from_the_next_query(lake):
    platform, _, ana, _ = lake
    assert ana.lake.query("retail-data", SQL).num_rows == 2
    platform.admin.groups.remove_member("analysts", "ana")
    assert _refused(ana) in ("table_not_found", "access_denied")
    platform.admin.groups.add_member("analysts", "ana")
    assert ana.lake.query("retail-data", SQL).num_rows == 2


def test_new_data_shows_at_the_next_query(lake):
    _, erin, ana, _ = lake
    assert ana.lake.query("retail-data", SQL).num_rows == 2
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn,region\n4,Di,444-4,EU\n")
    assert ana.lake.query("retail-data", SQL).column("id").to_pylist() == [1, 3, 4]


def test_only_successful_writes_move_the_data_version(lake):
    platform, erin, ana, _ = lake
    before = _version(platform)
    ana.lake.query("retail-data", SQL)
    _refused(ana, "SELECT * FROM bank.nothing")
    with pytest.raises(CharterError):  # a refused write changes nothing
        ana.lake.grant("retail-data", "bank.customers", to="group:analysts")
    assert _version(platform) == before
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn,region\n4,Di,444-4,EU\n")
    assert _version(platform) == before + 1


def test_plans_read_through_arrow_are_not_kept(lake):
    """A snapshot DuckDB cannot read from its files is read into memory; the plan cache
    never holds such data."""
    platform, erin, _, _ = lake
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([1], pa.int64()),
                             "tags": pa.array([["a"]], pa.list_(pa.string()))}), sink)
    erin.lake.ingest("retail-data", "bank.tagged", sink.getvalue(), format="parquet",
                     mode="create")
    erin.lake.query("retail-data", "SELECT id FROM bank.tagged")
    erin.lake.query("retail-data", SQL)
    kept = list(platform.runtime.cache["lake.readable"].items())
    assert [key[4] for key, _ in kept] == ["customers"]


def test_a_query_text_that_passed_the_engine_check_is_kept_once(lake):
    platform, _, ana, _ = lake
    ana.lake.query("retail-data", SQL)
    ana.lake.query("retail-data", SQL)
    assert len(platform.runtime.cache["lake.checked"]) == 1


def test_what_is_kept_by_query_text_is_kept_per_caller(lake):
    """Another caller's query never makes yours faster: the time would tell what they
    ran (a literal in it, say), even of a table you cannot read."""
    from charter.lake import _sql

    platform, erin, ana, _ = lake
    sql = "SELECT id FROM bank.customers WHERE name = 'Bob'"
    erin.lake.query("retail-data", sql)
    kept = _sql._kept_parse.cache
    assert {key for key in kept if key[1] == sql} == {(("erin", False), sql)}
    assert len(platform.runtime.cache["lake.checked"]) == 1
    ana.lake.query("retail-data", sql)
    assert {key[0] for key in kept if key[1] == sql} == {("erin", False), ("ana", False)}
    assert len(platform.runtime.cache["lake.checked"]) == 2


def test_what_is_kept_by_query_text_is_bounded_by_its_length(lake):
    """A caller cannot fill the server's memory with kept parses of long queries: texts
    past a length are never kept, and the rest only up to a total length."""
    from charter.lake import _sql

    _, _, ana, _ = lake
    long = "SELECT id FROM bank.customers WHERE id IN (" + ", ".join(["1"] * 5000) + ")"
    ana.lake.query("retail-data", long)
    assert all(key[1] != long for key in _sql._kept_parse.cache)
    assert _sql._kept_parse.cache.maxsize == _sql._PARSE_BUDGET
    for i in range(40):  # about 7,000 characters each: more than the budget holds
        sql = f"SELECT {i} AS k FROM bank.customers WHERE id IN (" + ", ".join(
            ["1"] * 2300) + ")"
        ana.lake.query("retail-data", sql)
    assert _sql._kept_parse.cache.currsize <= _sql._PARSE_BUDGET
