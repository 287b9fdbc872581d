"""Bounded lake input: a file wider than the setting is refused from its header, a query
longer than the setting before it is parsed; files a table cannot hold (a column with no
value to type it by, a name twice) and a schema nested thousands deep are refused with
their own codes. Nothing is written."""

from __future__ import annotations

import io
import json
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from charter.errors import CharterError
from charter.lake._input import read_input

CUSTOMERS = b"id,name\n1,Ann\n2,Bob\n"


@pytest.fixture
def lake(retail):
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    return platform, erin


def _refused(erin, data: bytes, code: str, **kw) -> CharterError:
    before = erin.lake.tables("retail-data").items
    with pytest.raises(CharterError) as refused:
        erin.lake.ingest("retail-data", "bank.t", data, mode="create", **kw)
    assert refused.value.code == code, refused.value.message
    assert refused.value.http_status == 422
    assert erin.lake.tables("retail-data").items == before
    return refused.value


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_a_column_with_no_value_to_type_it_is_refused(lake):
    _, erin = lake
    refused = _refused(erin, b"a,b\n1,\n2,\n", "untyped_column")
    assert "b" in refused.message and "schema" in refused.message


def test_a_header_only_file_with_declared_types_makes_an_empty_table(lake):
    _, erin = lake
    schema = {"columns": [{"name": "a", "type": "long"}, {"name": "b", "type": "string"}]}
    made = erin.lake.ingest("retail-data", "bank.t", b"a,b\n", mode="create", schema=schema)
    assert made["rows_written"] == 0
    assert [c["name"] for c in erin.lake.table("retail-data", "bank.t")["columns"]] == ["a", "b"]


def test_a_column_named_twice_is_refused(lake):
    _, erin = lake
    _refused(erin, b"a,a\n1,2\n", "duplicate_column")
    twice = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    _refused(erin, _parquet(twice), "duplicate_column", format="parquet")


def test_a_30000_column_csv_is_refused_from_its_header(lake):
    _, erin = lake
    header = ",".join(f"c{i}" for i in range(30_000)).encode()
    # The rows after the header are malformed: refused for its width, the file was not
    # parsed past its header.
    refused = _refused(erin, header + b"\n1,2\n", "too_many_columns")
    assert "more than 1000 columns" in refused.message


def test_a_header_of_a_million_columns_is_counted_in_bounded_memory(lake):
    _, erin = lake
    header = b"ab," * 1_000_000 + b"ab\n1\n"  # 3 MB: a million fields
    _refused(erin, header, "too_many_columns")
    tracemalloc.start()
    try:
        with pytest.raises(CharterError) as refused:
            read_input(header, "csv", None, max_columns=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.code == "too_many_columns"
    assert peak < 1_000_000  # a list of the million fields would take about 60 MB
    # Quoted delimiters and line ends are inside their field; "" is a quote in one.
    quoted = b'"a,""b\n",c\n1,2\n'
    assert read_input(quoted, "csv", None, max_columns=2).column_names == ['a,"b\n', "c"]
    with pytest.raises(CharterError) as refused:
        read_input(b'a,"b,""c",d\n1,2,3\n', "csv", None, max_columns=2)
    assert refused.value.code == "too_many_columns"


def test_the_column_bound_is_a_setting(lake):
    platform, erin = lake
    platform.settings.lake.ingest_max_columns = 3
    _refused(erin, b"a,b,c,d\n1,2,3,4\n", "too_many_columns")
    wide = pa.table({name: [1] for name in "abcd"})
    _refused(erin, _parquet(wide), "too_many_columns", format="parquet")
    made = erin.lake.ingest("retail-data", "bank.t", b"a,b,c\n1,2,3\n", mode="create")
    assert made["rows_written"] == 1


def test_a_query_longer_than_the_setting_is_refused_and_recorded(lake):
    platform, erin = lake
    platform.settings.lake.query_max_length = 40
    sql = "SELECT id FROM bank.customers"
    assert erin.lake.query("retail-data", sql + " " * (40 - len(sql))).num_rows == 2
    with pytest.raises(CharterError) as refused:
        erin.lake.query("retail-data", sql + " " * 20)
    assert (refused.value.code, refused.value.http_status) == ("query_too_long", 422)
    with platform.runtime.db.transaction() as session:
        codes = list(session.scalars(select(AuditEvent.error_code).where(
            AuditEvent.action == "lake:QueryTables", AuditEvent.principal == "erin")))
    assert "query_too_long" in codes


def test_a_schema_nested_thousands_deep_is_refused(lake):
    _, erin = lake
    nested = "[" * 2400 + "]" * 2400  # within the 5,000 characters the parameter takes
    answer = erin._http.post("/v1/accounts/retail-data/lake/tables/bank/t/ingest",
                             params={"mode": "create", "schema": nested}, content=b"a\n1\n")
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_schema"
    nested_body = json.dumps({"sql": "SELECT 1"})[:-1] + ', "x": ' + nested + "}"
    answer = erin._http.post("/v1/accounts/retail-data/lake/query", content=nested_body,
                             headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()["code"]) == (400, "malformed_body")
