"""`POST .../lake/query` answers in the media type `Accept` asks for: an Arrow stream (the
default), JSON rows with the columns' names and types, or CSV; anything else is refused
(406, `not_acceptable`) before the query runs, and recorded."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pytest

from .conftest import one_record

CUSTOMERS = b"id,name,segment,joined\n1,Ann,retail,2024-01-31\n2,Bob,private,2025-06-01\n"
QUERY = "/v1/accounts/retail-data/lake/query"
SQL = ("SELECT id, name, CAST(joined AS DATE) AS joined, CAST(1.5 AS DECIMAL(10, 2)) AS price, "
       "CAST('nan' AS DOUBLE) AS ratio, [id, id * 10] AS pair, id AS id "
       "FROM bank.customers ORDER BY id")


@pytest.fixture
def retail(platform):
    platform.admin.accounts.create("retail-data", ou="/workloads/data/prod",
                                   blueprint="data-domain",
                                   tags={"owner": "retail", "cost-center": "cc-9"})
    platform.admin.lake.create_domain("retail", account="retail-data")
    platform.admin.lake.create_database("retail-data", "bank")
    platform.admin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    return platform


def _ask(platform, accept: str | None, sql: str = SQL):
    headers = {"accept": accept} if accept is not None else {}
    return platform.admin._http.post(QUERY, json={"sql": sql}, headers=headers)


@pytest.mark.parametrize("accept", [None, "*/*", "application/vnd.apache.arrow.stream",
                                    "application/*, text/csv;q=0.9"])
def test_arrow_is_the_default(retail, accept):
    answer = _ask(retail, accept)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(answer.content).read_all()
    assert table.column("name").to_pylist() == ["Ann", "Bob"]
    sdk = retail.admin.lake.query("retail-data", SQL)
    assert table.schema == sdk.schema
    assert table.drop_columns(["ratio"]) == sdk.drop_columns(["ratio"])  # NaN != NaN


def test_json_rows_carry_names_and_types_and_exact_values(retail):
    answer = _ask(retail, "application/json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["vary"] == "Accept"
    body = answer.json()
    assert body["columns"] == [
        {"name": "id", "type": "int64"}, {"name": "name", "type": "string"},
        {"name": "joined", "type": "date32[day]"},
        {"name": "price", "type": "decimal128(10, 2)"}, {"name": "ratio", "type": "double"},
        {"name": "pair", "type": "list<l: int64>"}, {"name": "id_2", "type": "int64"}]
    assert body["rows"] == [
        {"id": 1, "name": "Ann", "joined": "2024-01-31", "price": "1.50", "ratio": "NaN",
         "pair": [1, 10], "id_2": 1},
        {"id": 2, "name": "Bob", "joined": "2025-06-01", "price": "1.50", "ratio": "NaN",
         "pair": [2, 20], "id_2": 2}]


def test_csv_has_a_header_and_every_row(retail):
    answer = _ask(retail, "text/csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows == [["id", "name", "joined", "price", "ratio", "pair", "id"],
                    ["1", "Ann", "2024-01-31", "1.50", "nan", "[1, 10]", "1"],
                    ["2", "Bob", "2025-06-01", "1.50", "nan", "[2, 20]", "2"]]


def test_the_highest_ranked_offered_type_wins(retail):
    answer = _ask(retail, "application/xml, text/csv;q=0.4, application/json;q=0.8")
    assert answer.headers["content-type"] == "application/json"
    answer = _ask(retail, "application/json;q=0, text/*")
    assert answer.headers["content-type"].startswith("text/csv")


def test_a_type_not_offered_is_refused_before_the_query_runs(retail):
    answer = _ask(retail, "application/xml, text/html;q=0.9")
    assert answer.status_code == 406
    assert answer.json()["code"] == "not_acceptable"
    assert answer.json()["details"]["offered"] == [
        "application/vnd.apache.arrow.stream", "application/json", "text/csv"]
    record = one_record(retail, answer)  # the refusal alone: no query ran
    assert (record.action, record.error_code) == ("api:RejectRequest", "not_acceptable")


def test_an_empty_result_keeps_its_columns(retail):
    answer = _ask(retail, "application/json", "SELECT id, name FROM bank.customers WHERE id > 9")
    assert answer.json() == {"columns": [{"name": "id", "type": "int64"},
                                         {"name": "name", "type": "string"}], "rows": []}
    assert _ask(retail, "text/csv", "SELECT id FROM bank.customers WHERE id > 9").text == (
        '"id"\n')
