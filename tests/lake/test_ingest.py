"""Lake catalog and ingestion: Iceberg snapshots, quality rules, bad input."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charter.errors import CharterError, Conflict, Denied, Invalid, NotFound

CUSTOMERS = b"id,name,age,segment\n1,Ann,34,retail\n2,Bob,51,private\n3,Cy,29,retail\n"


@pytest.fixture
def lake(retail):
    return retail


def _ids(client) -> list[int]:
    return [s["snapshot_id"] for s in client.lake.snapshots("retail-data", "bank.customers").items]


def test_create_append_overwrite_make_one_snapshot_each(lake):
    platform, erin = lake
    created = erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    assert (created["rows_written"], created["total_records"]) == (3, 3)
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,age,segment\n4,Di,40,retail\n")
    table = io.BytesIO()
    pq.write_table(pa.table({"id": [9], "name": ["Zed"], "age": [60], "segment": ["private"]}),
                   table)
    over = erin.lake.ingest("retail-data", "bank.customers", table.getvalue(), format="parquet",
                            mode="overwrite")
    assert over["total_records"] == 1
    snapshots = erin.lake.snapshots("retail-data", "bank.customers").items
    assert [s["total_records"] for s in snapshots][:2] == [3, 4]
    assert snapshots[-1]["total_records"] == 1
    shown = erin.lake.table("retail-data", "bank.customers")
    assert shown["current_snapshot"] == snapshots[-1]["snapshot_id"]
    assert [c["name"] for c in shown["columns"]] == ["id", "name", "age", "segment"]
    data_dir = platform.settings.resolved_storage_root / "accounts" / "retail-data" / "lake"
    assert any(data_dir.rglob("*.parquet"))


def test_failing_write_writes_nothing_and_reports_rules(lake):
    platform, erin = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    erin.lake.add_rules("retail-data", "bank.customers",
                        ["not_null(name)", "unique(id)", "range(age, 18, 120)",
                         "allowed(segment, retail|private)"])
    before = _ids(erin)
    bad = b"id,name,age,segment\n3,,12,retail\n5,Eve,40,crypto\n"
    with pytest.raises(Invalid) as refused:
        erin.lake.ingest("retail-data", "bank.customers", bad)
    assert refused.value.code == "quality_check_failed"
    failures = {f["rule"]: f for f in refused.value.details["failures"]}
    assert set(failures) == {"not_null(name)", "unique(id)", "range(age, 18, 120)",
                             "allowed(segment, retail|private)"}
    # Rows by number, never by their values (which may be PII).
    assert failures["allowed(segment, retail|private)"]["examples"] == [{"row": 2}]
    assert failures["unique(id)"]["examples"] == [{"row": 1}]  # clashes with an existing row
    assert _ids(erin) == before
    code, _, err = platform.cli("lake", "ingest", "retail-data", "bank.customers",
                                str(_write(platform, "bad.csv", bad)))
    assert code == 1 and "[quality_check_failed]" in err and "crypto" not in err
    assert "allowed(segment, retail|private): 1 failing row(s), e.g. row 2" in err
    assert _ids(erin) == before


def _write(platform, name: str, data: bytes):
    path = platform.settings.home / name
    path.write_bytes(data)
    return path


def test_schema_evolution_only_on_request(lake):
    _platform, erin = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    wider = b"id,name,age,segment,email\n7,Gus,33,retail,g@x.io\n"
    before = _ids(erin)
    with pytest.raises(Invalid) as refused:
        erin.lake.ingest("retail-data", "bank.customers", wider)
    assert refused.value.code == "schema_mismatch" and "email" in refused.value.message
    assert _ids(erin) == before
    report = erin.lake.ingest("retail-data", "bank.customers", wider, evolve=True)
    assert report["columns_added"] == ["email"]
    assert "email" in [c["name"] for c in erin.lake.table("retail-data", "bank.customers")
                       ["columns"]]
    for bad in (b"id,name,age,segment,email\nnot-a-number,X,1,retail,x@y.z\n",
                b"id,name,age,segment,email\n8,X,old,retail,5\n"):  # age: no long
        with pytest.raises(Invalid) as mismatch:
            erin.lake.ingest("retail-data", "bank.customers", bad)
        assert mismatch.value.code == "schema_mismatch"
        with pytest.raises(Invalid):
            erin.lake.ingest("retail-data", "bank.customers", bad, mode="overwrite",
                             evolve=True)


def test_declared_schema_via_cli(lake):
    platform, _ = lake
    schema = _write(platform, "schema.json", json.dumps({"columns": [
        {"name": "id", "type": "long"}, {"name": "balance", "type": "double"}]}).encode())
    data = _write(platform, "accounts.csv", b"id,balance\n1,10\n2,20.5\n")
    code, out, err = platform.cli("lake", "ingest", "retail-data", "bank.balances", str(data),
                                  "--mode", "create", "--schema", str(schema), "--json")
    assert code == 0, err
    assert json.loads(out)["rows_written"] == 2
    code, out, _ = platform.cli("lake", "tables", "show", "retail-data", "bank.balances",
                                "--json")
    types = {c["name"]: c["type"] for c in json.loads(out)["columns"]}
    assert types == {"id": "long", "balance": "double"}


@pytest.mark.parametrize("call,code", [
    (lambda c: c.lake.ingest("retail-data", "bank.nope", CUSTOMERS), "table_not_found"),
    (lambda c: c.lake.ingest("retail-data", "nodb.t", CUSTOMERS, mode="create"),
     "database_not_found"),
    (lambda c: c.lake.ingest("retail-data", "bank.t", b"id,name\n1,2,3\n",
                             mode="create"), "malformed_csv"),
    (lambda c: c.lake.ingest("retail-data", "bank.t", b"not parquet", format="parquet",
                             mode="create"), "malformed_parquet"),
    (lambda c: c.lake.ingest("retail-data", "bank.t", b"Bad Column\n1\n", mode="create"),
     "invalid_column_name"),
    (lambda c: c.lake.ingest("retail-data", "bank.t", b"a\n1\n", mode="create",
                             schema={"columns": [{"name": "a", "type": "uuid"}]}),
     "invalid_schema"),
    (lambda c: c.lake.add_rules("retail-data", "bank.customers", ["nonsense(x)"]),
     "invalid_rule"),
    (lambda c: c.lake.add_rules("retail-data", "bank.customers", ["not_null(nope)"]),
     "unknown_column"),
    (lambda c: c.lake.create_database("retail-data", "bank"), "database_exists"),
    (lambda c: c.lake.create_database("retail-data", "Bad-Name"), "invalid_database_name"),
])
def test_bad_input_changes_nothing(lake, call, code):
    _, erin = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    before = erin.lake.tables("retail-data").items
    with pytest.raises(CharterError) as refused:
        call(erin)
    assert refused.value.code == code
    assert erin.lake.tables("retail-data").items == before


def test_domains_need_a_data_domain_account(platform):
    platform.vend("team-a-dev")
    with pytest.raises(Invalid) as refused:
        platform.admin.lake.create_domain("team-a-data", account="team-a-dev")
    assert refused.value.code == "not_a_data_domain_account"


def test_only_the_producer_writes(lake):
    platform, erin = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    platform.vend("team-a-dev")
    sam, _ = platform.user("sam", "team-a-data-scientists")
    with pytest.raises(Denied):
        sam.lake.ingest("retail-data", "bank.customers", CUSTOMERS)
    with pytest.raises(Denied):
        sam.lake.table("retail-data", "bank.customers")
    with pytest.raises(Denied):
        sam.lake.tables("retail-data")
    with pytest.raises((NotFound, Conflict)):
        erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")


def test_time_travel_reads_an_older_snapshot_after_two_later_writes(lake):
    platform, erin = lake
    first = erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,age,segment\n4,Di,40,retail\n")
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,age,segment\n9,Zed,60,x\n",
                     mode="overwrite")
    now = erin.lake.query("retail-data", "SELECT id FROM bank.customers ORDER BY id")
    assert now.column("id").to_pylist() == [9]
    old = erin.lake.query("retail-data", "SELECT id, name FROM bank.customers ORDER BY id",
                          snapshots={"bank.customers": first["snapshot_id"]})
    assert old.to_pylist() == [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"},
                               {"id": 3, "name": "Cy"}]
    code, out, _ = platform.cli("lake", "query", "retail-data",
                                "SELECT count(*) AS n FROM bank.customers", "--snapshot",
                                f"bank.customers={first['snapshot_id']}", "--json")
    assert code == 0 and json.loads(out) == [{"n": 3}]
    record = platform.admin.audit.events(action="lake:QueryTables", limit=1)["items"][0]
    assert record["principal"] == "admin" and record["outcome"] == "success"


def test_ingest_takes_the_file_in_chunks(lake):
    """The CLI sends a file piece by piece (its progress bar follows the bytes sent)."""
    _platform, erin = lake
    chunks = iter([CUSTOMERS[:10], CUSTOMERS[10:25], CUSTOMERS[25:]])
    report = erin.lake.ingest("retail-data", "bank.customers", chunks, mode="create")
    assert report["rows_written"] == 3
    result = erin.lake.query("retail-data", "SELECT name FROM bank.customers ORDER BY id")
    assert result.column("name").to_pylist() == ["Ann", "Bob", "Cy"]
