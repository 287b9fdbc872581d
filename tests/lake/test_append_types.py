"""A CSV written into an existing table is read with the table's types: whole numbers in
a double column are doubles, an empty column keeps its type, and a value its column's type
cannot take is a schema mismatch, told before any quality rule runs."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charter.errors import CharterError

ACCOUNTS = b"id,owner,balance\n1,Ann,10.5\n2,Bob,7.25\n"


@pytest.fixture
def lake(retail):
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.accounts", ACCOUNTS, mode="create")
    return platform, erin


def _rows(erin) -> list[dict]:
    return erin.lake.query("retail-data",
                           "SELECT * FROM bank.accounts ORDER BY id").to_pylist()


@pytest.mark.parametrize("mode", ["append", "overwrite"])
def test_whole_numbers_in_a_double_column_are_doubles(lake, mode):
    _, erin = lake
    erin.lake.ingest("retail-data", "bank.accounts", b"id,owner,balance\n3,Cy,12\n", mode=mode)
    assert _rows(erin)[-1] == {"id": 3, "owner": "Cy", "balance": 12.0}


def test_an_empty_column_takes_the_tables_type(lake):
    _, erin = lake
    erin.lake.ingest("retail-data", "bank.accounts", b"id,owner,balance\n3,,\n4,,\n")
    assert _rows(erin)[-2:] == [{"id": 3, "owner": None, "balance": None},
                                {"id": 4, "owner": None, "balance": None}]
    erin.lake.ingest("retail-data", "bank.accounts", b"id,balance\n5,\n")
    assert _rows(erin)[-1] == {"id": 5, "owner": None, "balance": None}


def test_a_numeric_string_in_a_string_column_stays_a_string(lake):
    _, erin = lake
    erin.lake.ingest("retail-data", "bank.accounts", b"id,owner,balance\n3,007,1\n")
    assert _rows(erin)[-1]["owner"] == "007"


def test_a_value_of_another_type_is_a_mismatch_before_any_rule(lake):
    _, erin = lake
    erin.lake.add_rules("retail-data", "bank.accounts", ["range(balance, 0, 100)"])
    before = _rows(erin)
    with pytest.raises(CharterError) as refused:
        erin.lake.ingest("retail-data", "bank.accounts", b"id,owner,balance\n3,Cy,lots\n")
    assert refused.value.code == "schema_mismatch", refused.value.message
    assert refused.value.details["columns"] == [
        {"column": "balance", "expected": "double", "found": "a value that is not a valid double"}]
    assert "lots" not in refused.value.message
    with pytest.raises(CharterError) as refused:  # every column that does not fit is named
        erin.lake.ingest("retail-data", "bank.accounts", b"id,owner,balance\nx,Cy,lots\n")
    assert [c["column"] for c in refused.value.details["columns"]] == ["id", "balance"]
    assert "id (long), balance (double)" in refused.value.message
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": [3], "owner": ["Cy"], "balance": ["lots"]}), sink)
    with pytest.raises(CharterError) as refused:
        erin.lake.ingest("retail-data", "bank.accounts", sink.getvalue(), format="parquet")
    assert refused.value.code == "schema_mismatch", refused.value.message
    assert refused.value.details["columns"] == [
        {"column": "balance", "expected": "double", "found": "string"}]
    assert _rows(erin) == before
