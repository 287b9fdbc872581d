"""Lake errors never carry a cell value: a malformed CSV row, a value its column's type
cannot take, a query that fails on a value. They name the column, the row number and what
was expected instead; neither the error nor any audit record holds the value."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from charter.errors import CharterError

CUSTOMERS = (b"id,name,ssn,region,balance\n"
             b"424242,Ann,777-66-7777,EU,10.5\n"
             b"2,Bob,888-99-0000,US,7.25\n")


@pytest.fixture
def lake(retail):
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    return platform, erin


def _audited(platform) -> str:
    """Every reason and detail of the audit trail, as one text."""
    with platform.runtime.db.transaction() as session:
        rows = session.execute(select(AuditEvent.reason, AuditEvent.details)).all()
    assert rows
    return "\n".join(f"{reason} {details}" for reason, details in rows)


def _failed(platform, call, code: str, *secrets: str) -> CharterError:
    with pytest.raises(CharterError) as failed:
        call()
    error = failed.value
    assert error.code == code, error.message
    said = error.message + json.dumps(error.details)
    audited = _audited(platform)
    for secret in secrets:
        assert secret not in said
        assert secret not in audited
    return error


def test_a_row_of_the_wrong_width_is_told_by_its_number(lake):
    platform, erin = lake
    bad = b"id,name,ssn,region,balance\n3,Cy,555-00-1111,EU,1\n10,Yan,SECRET-PII-123-45-6789\n"
    for mode, table in (("append", "bank.customers"), ("create", "bank.other")):
        error = _failed(platform, lambda m=mode, t=table: erin.lake.ingest(
            "retail-data", t, bad, mode=m), "malformed_csv", "SECRET-PII", "Yan")
        assert "row 2 has 3 fields where the header has 5" in error.message
        assert error.details == {"row": 2}
    path = platform.settings.home / "bad.csv"
    path.write_bytes(bad)
    code, out, err = platform.cli("lake", "ingest", "retail-data", "bank.customers", str(path))
    assert code == 1 and "SECRET-PII" not in out + err and "row 2" in err


def test_a_value_of_another_type_is_told_by_its_column(lake):
    platform, erin = lake
    schema = {"columns": [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}]}
    error = _failed(platform, lambda: erin.lake.ingest(
        "retail-data", "bank.other", b"id,name\n1,a\nSECRETID-123,b\n", mode="create",
        schema=schema), "malformed_csv", "SECRETID")
    assert "column id holds a value that is not a valid long" in error.message
    error = _failed(platform, lambda: erin.lake.ingest(
        "retail-data", "bank.customers", b"id,name\nSECRETID-123,b\n"),
        "schema_mismatch", "SECRETID")
    assert error.details["columns"] == [{"column": "id", "expected": "long",
                                         "found": "a value that is not a valid long"}]
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": ["SECRETID-123"]}), sink)
    error = _failed(platform, lambda: erin.lake.ingest(
        "retail-data", "bank.other", sink.getvalue(), format="parquet", mode="create",
        schema={"columns": [{"name": "id", "type": "long"}]}), "malformed_parquet", "SECRETID")
    assert "column 'id'" in error.message


@pytest.mark.parametrize("sql,secret,said", [
    ("SELECT * FROM bank.customers WHERE CAST(ssn AS INT) = 1", "777-66-7777",
     "Conversion Error"),
    ("SELECT CAST(name AS DATE) FROM bank.customers", "Ann", "Conversion Error"),
    ("SELECT error(ssn) FROM bank.customers", "777-66-7777", "Invalid Input Error"),
    ("SELECT id * 9223372036854775807 FROM bank.customers", "424242", "Out of Range Error"),
    ("SELECT json_extract(ssn, '$') FROM bank.customers", "777-66-7777",
     "Invalid Input Error"),
])
def test_a_query_failing_on_a_value_never_quotes_it(lake, sql, secret, said):
    platform, erin = lake
    error = _failed(platform, lambda: erin.lake.query("retail-data", sql), "query_failed",
                    secret)
    assert said in error.message and "values are not shown" in error.message


def test_a_query_error_about_the_query_is_told_without_its_literals(lake):
    platform, erin = lake
    error = _failed(platform, lambda: erin.lake.query(
        "retail-data", "SELECT nosuch FROM bank.customers WHERE name = 'Ann'"),
        "query_failed", "'Ann'")
    assert "nosuch" in error.message and "Binder Error" in error.message
