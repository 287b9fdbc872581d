"""Lake recovery: what older versions left in the Iceberg catalog (an entry without its
table, a separate catalog file on SQLite) is repaired when a serving process starts, and
a write in progress elsewhere is never touched."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import IcebergNamespaceProperties, IcebergTables, SqlCatalog
from sqlalchemy import create_engine, delete, select

from charter.audit.orm import AuditEvent
from charter.core.context import Context, Principal
from charter.core.ids import new_request_id
from charter.lake import service
from charter.platform.runtime import build_runtime
from tests.lake.test_crash import _orphan_entries

ROWS = b"id,name\n1,Ann\n2,Bob\n"


def _legacy_catalog(platform) -> SqlCatalog:
    """The Iceberg catalog where older versions kept it: on SQLite its own file in
    CHARTER_HOME, on PostgreSQL the metadata database."""
    settings = platform.settings
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        url = f"sqlite:///{settings.home / 'lake-catalog.db'}"
    return SqlCatalog("charter", uri=url, warehouse=settings.resolved_storage_root.as_uri())


def _crashed_create(platform, table: str) -> None:
    """What a create killed after its Iceberg commit left under older versions: the
    catalog entry and data files, no Charter table, no audit record."""
    legacy = _legacy_catalog(platform)
    legacy.create_namespace_if_not_exists(("retail-data", "bank"))
    location = platform.settings.resolved_storage_root / "accounts/retail-data/lake/bank"
    legacy.create_table(("retail-data", "bank", table), schema=pa.schema(
        [("id", pa.int64()), ("name", pa.string())]), location=(location / table).as_uri()
    ).append(pa.table({"id": [7, 8, 9], "name": ["x", "y", "z"]}))
    legacy.engine.dispose()


def _restart(platform, token: str) -> list[dict]:
    """Start a serving process (the in-process CLI), as erin: list the bank's tables."""
    code, out, err = platform.cli("lake", "tables", "list", "retail-data", "bank", "--json",
                                  token=token)
    assert code == 0, err
    return json.loads(out)["items"]


def test_a_catalog_entry_left_by_a_crashed_create_does_not_block_the_create(retail):
    platform, erin = retail
    _crashed_create(platform, "customers")
    created = erin.lake.ingest("retail-data", "bank.customers", ROWS, mode="create")
    assert created["total_records"] == 2
    token = platform.admin.tokens.create(user="erin")["token"]
    (table,) = _restart(platform, token)
    assert (table["name"], table["total_records"]) == ("customers", 2)
    rows = erin.lake.query("retail-data", "SELECT id FROM bank.customers ORDER BY id")
    assert rows.column("id").to_pylist() == [1, 2]
    assert _orphan_entries(platform) == []
    assert platform.admin.audit.verify()["ok"]


def test_startup_drops_catalog_entries_without_a_table(retail):
    platform, erin = retail
    _crashed_create(platform, "ghost")
    token = platform.admin.tokens.create(user="erin")["token"]
    assert _restart(platform, token) == []
    assert _orphan_entries(platform) == []
    with platform.runtime.db.read() as session:
        (record,) = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "lake:DropOrphanCatalogEntry")).all()
    assert (record.principal, record.source, record.outcome, record.resource) == (
        "system", "recovery", "success", "crn:retail-data:lake:table/bank/ghost")
    assert platform.admin.audit.verify()["ok"]
    erin.lake.ingest("retail-data", "bank.ghost", ROWS, mode="create")
    assert erin.lake.table("retail-data", "bank.ghost")["total_records"] == 2


def test_startup_never_touches_a_write_in_progress(retail):
    platform, erin = retail
    ctx = Context(platform.runtime, Principal("erin"), new_request_id())
    with platform.runtime.db.transaction() as session:
        ctx.session = session  # the ingest joins this open transaction, still uncommitted
        service.ingest(ctx, "retail-data", "bank", "customers", ROWS, mode="create")
        other = build_runtime(platform.settings)  # another serving process starts
        try:
            assert service.recover(other) == []
        finally:
            other.close()
    ctx.session = None
    assert erin.lake.table("retail-data", "bank.customers")["total_records"] == 2
    assert _orphan_entries(platform) == []
    assert platform.admin.audit.verify()["ok"]


@pytest.mark.skipif("CHARTER_TEST_DATABASE_URL" in __import__("os").environ,
                    reason="older versions kept a separate catalog file on SQLite only")
def test_an_older_catalog_file_moves_into_the_metadata_database(retail):
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", ROWS, mode="create")
    erin.lake.ingest("retail-data", "bank.customers", b"id,name\n3,Cy\n")
    snapshots = erin.lake.snapshots("retail-data", "bank.customers").items
    _move_catalog_to_file(platform)
    token = platform.admin.tokens.create(user="erin")["token"]
    (table,) = _restart(platform, token)
    assert table["total_records"] == 3
    assert erin.lake.snapshots("retail-data", "bank.customers").items == snapshots
    home = platform.settings.home
    assert not (home / "lake-catalog.db").exists()
    assert (home / "lake-catalog.db.imported").exists()
    erin.lake.ingest("retail-data", "bank.customers", b"id,name\n4,Di\n")
    assert erin.lake.table("retail-data", "bank.customers")["total_records"] == 4


def _move_catalog_to_file(platform) -> None:
    """The layout of older versions on SQLite: the catalog's rows in lake-catalog.db."""
    legacy = _legacy_catalog(platform)  # makes the file and its tables
    main = create_engine(platform.settings.resolved_database_url)
    try:
        with main.begin() as source, legacy.engine.begin() as target:
            for model in (IcebergTables, IcebergNamespaceProperties):
                rows = [dict(r._mapping) for r in source.execute(select(model.__table__))]
                target.execute(model.__table__.insert(), rows)
                source.execute(delete(model.__table__))
    finally:
        main.dispose()
        legacy.engine.dispose()
