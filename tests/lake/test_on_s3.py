"""The lake with its objects on S3 (a real S3 API server): ingestion, snapshots and time
travel, governed queries under grants, a failed write, and the stable error when the store
cannot be reached. Governed queries read checked local copies of the data files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from charter.api.app import create_app
from charter.errors import CharterError, Invalid
from charter.lake import _iceberg
from charter.platform.runtime import build_runtime
from charter.sdk import Client
from tests.servers import free_port

CUSTOMERS = (b"id,name,ssn,region,age\n1,Ann,111-22-3333,EU,34\n2,Bob,444-55-6666,US,51\n"
             b"3,Cy,777-88-9999,EU,17\n")
SQL = "SELECT * FROM bank.customers ORDER BY id"
TABLE = "objects/accounts/retail-data/lake/bank/customers"


@pytest.fixture
def lake(s3_platform, s3_storage):
    """(platform, erin, s3_storage): `retail-data` produces `bank` on S3; erin writes it."""
    platform = s3_platform
    platform.admin.accounts.create("retail-data", ou="/workloads/data/prod",
                                   blueprint="data-domain",
                                   tags={"owner": "retail", "cost-center": "cc-9"})
    platform.admin.lake.create_domain("retail", account="retail-data")
    platform.admin.lake.create_database("retail-data", "bank")
    erin, _ = platform.user("erin", "retail-data-data-engineers")
    return platform, erin, s3_storage


def _objects(storage) -> list[str]:
    client = storage.server.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _copies(platform) -> dict:
    cache = platform.settings.home / "lake-cache"
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.rglob("*")
            if p.is_file()}


def test_ingest_and_time_travel_keep_tables_in_the_bucket(lake):
    platform, erin, storage = lake
    first = erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn,region,age\n"
                     b"4,Di,000-00-0000,US,40\n")
    over = erin.lake.ingest("retail-data", "bank.customers",
                            b"id,name,ssn,region,age\n9,Zed,999-99-9999,EU,60\n",
                            mode="overwrite")
    assert over["total_records"] == 1
    snapshots = erin.lake.snapshots("retail-data", "bank.customers").items
    assert [s["total_records"] for s in snapshots][:2] == [3, 4]
    assert snapshots[-1]["total_records"] == 1
    objects = _objects(storage)
    assert sum(k.startswith(f"{TABLE}/data/") and k.endswith(".parquet") for k in objects) >= 3
    assert any(k.startswith(f"{TABLE}/metadata/") for k in objects)
    table = _iceberg.load(platform.runtime, "retail-data", "bank", "customers")
    assert table.metadata_location.startswith(f"s3://{storage.bucket}/{TABLE}/metadata/")
    local = platform.settings.resolved_storage_root / "accounts" / "retail-data"
    assert not local.exists()  # no table file on this machine's disk but the copies

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
    assert all(p.suffix == ".parquet" for p in _copies(platform))


def test_governed_queries_read_checked_copies_under_grants(lake):
    platform, erin, _storage = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn,region,age,email\n"
                     b"5,Eve,555-55-5555,EU,44,e@x.io\n", evolve=True)  # a schema change
    platform.vend("team-a-dev")
    erin.lake.share("retail-data", "bank.customers", with_account="team-a-dev",
                    masks={"ssn": "last4"}, row_filter="age >= 18", grant_option=True)
    platform.admin.lake.grant("team-a-dev", "bank.customers", to="group:team-a-data-scientists",
                              columns=["id", "ssn", "region", "email"],
                              masks={"ssn": "last4"}, row_filter="region = 'EU'")
    sam, _ = platform.user("sam", "team-a-data-scientists")
    rows = sam.lake.query("team-a-dev", SQL).to_pylist()
    assert rows == [{"id": 1, "ssn": "*******3333", "region": "EU", "email": None},
                    {"id": 5, "ssn": "*******5555", "region": "EU", "email": "e@x.io"}]
    with pytest.raises(CharterError) as refused:
        sam.lake.query("team-a-dev", "SELECT name FROM bank.customers")
    assert refused.value.code == "query_failed"
    with pytest.raises(Invalid) as refused:  # the copies are as out of reach as any file
        sam.lake.query("team-a-dev", "SELECT * FROM read_parquet('lake-cache/*/*')")
    assert refused.value.code == "query_refused"
    made = _copies(platform)
    assert len(made) == 2  # one copy of each data file

    # Another process on the same home finds the copies checked and reads them as they are.
    other = build_runtime(platform.settings)
    try:
        with Client(token=platform.admin_token, app=create_app(runtime=other)) as admin:
            assert admin.lake.query("retail-data", "SELECT count(*) AS n FROM bank.customers"
                                    ).to_pylist() == [{"n": 4}]
    finally:
        other.close()
    assert _copies(platform) == made

    # Copies removed by hand are fetched again, checked.
    shutil.rmtree(platform.settings.home / "lake-cache")
    fresh = build_runtime(platform.settings)
    try:
        with Client(token=platform.admin_token, app=create_app(runtime=fresh)) as admin:
            assert admin.lake.query("retail-data", "SELECT sum(age) AS s FROM bank.customers"
                                    ).to_pylist() == [{"s": 146}]
    finally:
        fresh.close()
    assert len(_copies(platform)) == 2


def test_a_write_that_breaks_a_rule_writes_no_snapshot(lake):
    _platform, erin, storage = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    erin.lake.add_rules("retail-data", "bank.customers", ["unique(id)"])
    before = erin.lake.snapshots("retail-data", "bank.customers").items
    objects = _objects(storage)
    with pytest.raises(Invalid) as refused:
        erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn,region,age\n"
                         b"1,Dup,1,EU,20\n")
    assert refused.value.code == "quality_check_failed"
    assert erin.lake.snapshots("retail-data", "bank.customers").items == before
    assert _objects(storage) == objects


@pytest.mark.parametrize("change, reason", [
    ({"storage_secret_access_key": "wrong"}, "access_denied"),
    ({"storage_endpoint_url": "unreachable"}, "unreachable"),
])
def test_a_store_that_fails_gives_storage_unavailable(lake, change, reason):
    platform, erin, storage = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    if change.get("storage_endpoint_url") == "unreachable":
        change = {"storage_endpoint_url": f"http://127.0.0.1:{free_port()}"}
    broken = build_runtime(storage.settings(platform.settings.home, **change))
    try:
        with Client(token=platform.admin_token, app=create_app(runtime=broken)) as admin:
            for call in (
                lambda: admin.lake.query("retail-data", SQL),
                lambda: admin.lake.ingest("retail-data", "bank.more", CUSTOMERS,
                                          mode="create"),
            ):
                with pytest.raises(CharterError) as failed:
                    call()
                assert failed.value.code == "storage_unavailable"
                assert failed.value.details["reason"] == reason
    finally:
        broken.close()
    tables = erin.lake.tables("retail-data").items
    assert [t["name"] for t in tables] == ["customers"]  # the failed create left nothing
    record = platform.admin.audit.events(action="lake:IngestTable", limit=1)["items"][0]
    assert (record["outcome"], record["error_code"]) == ("error", "storage_unavailable")


def _retail_copy(platform, erin) -> Path:
    """The one local copy of `bank.customers` a query made."""
    erin.lake.query("retail-data", SQL)
    [copy] = _copies(platform)
    return copy


NAMES = "SELECT id, name FROM bank.customers ORDER BY id"
ROWS = [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}, {"id": 3, "name": "Cy"}]


def _fresh_query(platform, sql: str = NAMES) -> list[dict]:
    other = build_runtime(platform.settings)
    try:
        with Client(token=platform.admin_token, app=create_app(runtime=other)) as admin:
            return admin.lake.query("retail-data", sql).to_pylist()
    finally:
        other.close()


def test_a_copy_changed_in_place_is_fetched_again_never_read(lake):
    platform, erin, _storage = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    copy = _retail_copy(platform, erin)
    data = copy.read_bytes()
    assert b"Ann" in data
    copy.write_bytes(data.replace(b"Ann", b"Eve"))  # same size
    assert erin.lake.query("retail-data", NAMES).to_pylist() == ROWS  # the warm process
    copy.write_bytes(data.replace(b"Ann", b"Eve"))
    assert _fresh_query(platform) == ROWS  # a new process
    assert copy.read_bytes() == data


def test_a_copy_replaced_by_a_symlink_to_another_accounts_copy_is_not_followed(lake):
    platform, erin, _storage = lake
    platform.admin.accounts.create("risk-data", ou="/workloads/data/prod",
                                   blueprint="data-domain",
                                   tags={"owner": "risk", "cost-center": "cc-9"})
    platform.admin.lake.create_domain("risk", account="risk-data")
    platform.admin.lake.create_database("risk-data", "bank")
    rita, _ = platform.user("rita", "risk-data-data-engineers")
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    mine = _retail_copy(platform, erin)
    rita.lake.ingest("risk-data", "bank.customers",
                     CUSTOMERS.replace(b"Ann", b"Zed").replace(b"Bob", b"Qux"), mode="create")
    rita.lake.query("risk-data", SQL)
    [theirs] = [p for p in _copies(platform) if p != mine]
    assert theirs.stat().st_size == mine.stat().st_size
    for check in (lambda: erin.lake.query("retail-data", NAMES).to_pylist(),
                  lambda: _fresh_query(platform)):
        mine.unlink()
        mine.symlink_to(theirs)
        assert check() == ROWS
        assert not mine.is_symlink()


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_copy_replaced_by_a_directory_or_fifo_is_fetched_again(lake, kind):
    platform, erin, _storage = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    copy = _retail_copy(platform, erin)
    copy.unlink()
    copy.mkdir() if kind == "directory" else os.mkfifo(copy)
    assert erin.lake.query("retail-data", NAMES).to_pylist() == ROWS
    assert copy.is_file()


def test_copies_removed_while_the_server_runs_are_fetched_again(lake):
    platform, erin, _storage = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    _retail_copy(platform, erin)
    shutil.rmtree(platform.settings.home / "lake-cache")
    assert erin.lake.query("retail-data", NAMES).to_pylist() == ROWS  # no restart
    assert len(_copies(platform)) == 1


def test_a_cache_folder_that_is_a_file_is_a_local_cache_error(lake, caplog):
    platform, erin, _storage = lake
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    cache = platform.settings.home / "lake-cache"
    shutil.rmtree(cache, ignore_errors=True)
    cache.write_text("not a folder")
    with pytest.raises(CharterError) as failed:
        _fresh_query(platform)
    assert failed.value.code == "storage_unavailable"
    assert failed.value.details["reason"] == "local_cache"
    assert "lake cache" in str(failed.value)
    assert str(platform.settings.home) not in str(failed.value)  # logged, not told
    assert str(cache) in caplog.text
