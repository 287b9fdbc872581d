"""The lake as users meet it: every listing one page, typed answers, CSV delimiters,
empty files, schema mismatches that name their columns, Charter's own SQL errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from charter import Client
from charter.errors import CharterError, Invalid, NotFound
from charter.lake.schemas import SnapshotRead, TableRead
from tests.lake.conftest import retail  # noqa: F401
from tests.servers import start

ROWS = b"id,name,ssn\n1,Ann,111-11-1111\n2,Bob,222-22-2222\n"


def test_every_listing_answers_one_page(retail):  # noqa: F811
    platform, erin = retail
    for _ in range(3):
        erin.lake.ingest("retail-data", "bank.customers", ROWS,
                         mode="create" if _ == 0 else "append")
    snapshots = erin.lake.snapshots("retail-data", "bank.customers", limit=2)
    assert snapshots.total == 3 and len(snapshots.items) == 2
    assert isinstance(snapshots.items[0], SnapshotRead)
    assert [s.total_records for s in snapshots] == [2, 4, 6]  # oldest first, every page
    tables = erin.lake.tables("retail-data")
    assert tables.total == 1 and isinstance(tables.items[0], TableRead)
    assert [d.name for d in erin.lake.databases("retail-data")] == ["bank"]
    for path in ("/v1/lake/domains", "/v1/lake/tags", "/v1/accounts/retail-data/lake/grants",
                 "/v1/accounts/retail-data/lake/tables",
                 "/v1/accounts/retail-data/lake/databases",
                 "/v1/accounts/retail-data/lake/tables/bank/customers/snapshots"):
        body = platform.admin.request("GET", path)
        assert set(body) == {"items", "total", "limit", "offset", "next_cursor"}, path


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_the_delimiter_is_found_from_the_header(retail, sep):  # noqa: F811
    _, erin = retail
    data = ROWS.replace(b",", sep.encode())
    erin.lake.ingest("retail-data", "bank.customers", data, mode="create")
    shown = erin.lake.table("retail-data", "bank.customers")
    assert [c.name for c in shown.columns] == ["id", "name", "ssn"]


def test_the_delimiter_may_be_named(retail):  # noqa: F811
    _, erin = retail
    data = b"id;note\n1;a,b\n2;c,d\n"
    erin.lake.ingest("retail-data", "bank.notes", data, mode="create", delimiter="semicolon")
    got = erin.lake.query("retail-data", "SELECT note FROM bank.notes ORDER BY 1")
    assert got.column("note").to_pylist() == ["a,b", "c,d"]
    with pytest.raises(Invalid) as refused:
        erin.lake.ingest("retail-data", "bank.notes", data, delimiter="ab")
    assert refused.value.code == "invalid_delimiter"


@pytest.mark.parametrize("data,code", [(b"", "empty_file"), (b"\n", "empty_file"),
                                       (b"id,name\n", "no_rows")])
def test_empty_and_header_only_files_are_named(retail, data, code):  # noqa: F811
    _, erin = retail
    with pytest.raises(Invalid) as refused:
        erin.lake.ingest("retail-data", "bank.customers", data, mode="create")
    assert refused.value.code == code
    assert "Field required" not in refused.value.message


def test_a_type_mismatch_names_its_columns_and_prints_nothing(retail, capfd):  # noqa: F811
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", ROWS, mode="create")
    capfd.readouterr()
    with pytest.raises(Invalid) as refused:
        erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn\nx,Cy,333\n")
    assert refused.value.code == "schema_mismatch"
    # The file is read with the table's types: 333 is a string in ssn; x is no long.
    assert refused.value.details["columns"] == [
        {"column": "id", "expected": "long", "found": "a value that is not a valid long"}]
    captured = capfd.readouterr()
    assert captured.out == "" and "Mismatch" not in captured.err
    code, out, _ = platform.cli("--json", "lake", "ingest", "retail-data",
                                  "bank.customers", str(_file(platform, b"id,name,ssn\nx,C,1\n")))
    assert code == 1 and json.loads(out)["code"] == "schema_mismatch"


def test_a_type_mismatch_names_its_columns_over_http(retail):  # noqa: F811
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", ROWS, mode="create")
    server = start(platform.settings.home).ready()
    try:
        remote = Client(server.url, platform.admin_token)
        with pytest.raises(Invalid) as refused:
            remote.lake.ingest("retail-data", "bank.customers", b"id,name,ssn\nx,Cy,333\n")
        remote.close()
    finally:
        server.stop()
    assert [c["column"] for c in refused.value.details["columns"]] == ["id"]
    log = server.log.read_text()
    assert "Mismatch" not in log and "Dataframe field" not in log


def test_a_null_mask_keeps_the_column_type(retail):  # noqa: F811
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", ROWS, mode="create")
    platform.admin.groups.create("analysts")
    erin.lake.grant("retail-data", "bank.customers", to="group:analysts",
                    masks={"ssn": "null"})
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    ana, _ = platform.user("ana", "analysts")
    got = ana.lake.query("retail-data", "SELECT ssn FROM bank.customers")
    assert got.schema.field("ssn").type == pa.string()
    assert got.column("ssn").to_pylist() == [None, None]


@pytest.mark.parametrize("sql", ["SELEC * FROM bank.customers", "SELECT FROM WHERE",
                                 "SELECT * FROM bank.customers WHERE name = 'x"])
def test_unreadable_sql_is_charter_s_message(retail, sql):  # noqa: F811
    _, erin = retail
    with pytest.raises(Invalid) as refused:
        erin.lake.query("retail-data", sql)
    assert refused.value.code == "invalid_sql"
    assert "sqlglot" not in refused.value.message and "class" not in refused.value.message
    assert "could not be read" in refused.value.message


def test_an_unknown_table_is_table_not_found_like_an_unreadable_one(retail):  # noqa: F811
    """The same answer, code and words, for a table that does not exist and one that
    exists but is not the caller's to read: a query never tells which tables there are."""
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", ROWS, mode="create")
    platform.admin.groups.create("analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    ana, _ = platform.user("ana", "analysts")
    answers = []
    for table in ("bank.customers", "bank.nothing"):
        with pytest.raises(NotFound) as refused:
            ana.lake.query("retail-data", f"SELECT * FROM {table}")
        answers.append((refused.value.code, refused.value.message.replace(table, "T")))
    assert answers[0] == answers[1] and answers[0][0] == "table_not_found"
    with pytest.raises(CharterError) as refused:  # still a refusal, not a lookup
        ana.lake.query("retail-data", "SELECT * FROM read_csv('/etc/passwd')")
    assert refused.value.code == "query_refused"


def _file(platform, data: bytes):
    path = platform.settings.home / "file.csv"
    path.write_bytes(data)
    return path
