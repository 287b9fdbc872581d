"""Lake recovery at the start of every serving process: the catalog holds only tables
Charter knows.

Since a write's catalog row commits in its operation's transaction, a crash leaves no
catalog row behind; what this repairs was left by older versions, which committed the
Iceberg catalog on its own connection (and on SQLite in `CHARTER_HOME/lake-catalog.db`):
- that file's entries move into the metadata database (the file is kept, renamed
  `lake-catalog.db.imported`);
- a catalog entry with no Charter table (a write killed before its operation committed)
  is dropped, as a governed operation of the platform, one audit record each. Its data
  files stay, unreferenced. A write in progress in another process is never touched:
  until it commits, neither its catalog row nor its table row is visible here.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from pyiceberg.catalog.sql import IcebergNamespaceProperties, IcebergTables
from pyiceberg.exceptions import NoSuchTableError
from sqlalchemy import inspect, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from charter.access.pipeline import operation
from charter.core.context import SYSTEM_PRINCIPAL, Context, Runtime
from charter.core.db import lock
from charter.core.ids import new_request_id
from charter.errors import CharterError
from charter.lake import _iceberg
from charter.lake._common import lake_target
from charter.lake.orm import LakeTable

log = logging.getLogger("charter.lake")
LEGACY_CATALOG = "lake-catalog.db"


def recover(runtime: Runtime) -> list[str]:
    """Repair the catalog (see the module notes); returns the orphan entries dropped,
    as `account/database.table`. Reads only, unless there is something to repair."""
    with runtime.db.read() as session:
        if not inspect(session.connection()).has_table("lake_tables"):
            return []  # a new database: `charter init` migrates it, then serves
    _iceberg.catalog(runtime)  # makes the catalog's tables, if no migration has yet
    _import_legacy_catalog(runtime)
    dropped = []
    for account, database, table in _orphans(runtime):
        ctx = Context(runtime, SYSTEM_PRINCIPAL, new_request_id(), source="recovery")
        try:
            if drop_orphan_entry(ctx, account, database, table):
                dropped.append(f"{account}/{database}.{table}")
        except CharterError as error:
            log.warning("cannot drop the orphan catalog entry %s/%s.%s: %s", account,
                        database, table, error.message)
    if dropped:
        log.warning("dropped catalog entries without a Charter table: %s", ", ".join(dropped))
    return dropped


def _orphans(runtime: Runtime) -> list[tuple[str, str, str]]:
    catalog = _iceberg.catalog(runtime)
    with runtime.db.read() as session:
        entries = session.execute(select(IcebergTables.table_namespace, IcebergTables.table_name)
                                  .where(IcebergTables.catalog_name == catalog.name)).all()
        known = {tuple(row) for row in session.execute(
            select(LakeTable.account, LakeTable.database, LakeTable.name))}
    found = []
    for namespace, name in entries:
        account, _, database = namespace.partition(".")
        if (account, database, name) not in known:
            found.append((account, database, name))
    return sorted(found)


def _orphan_target(ctx: Context, account: str, database: str, table: str) -> Any:
    return lake_target(ctx, account, "table", f"{database}/{table}")


@operation("lake:DropOrphanCatalogEntry", "write", target=_orphan_target)
def drop_orphan_entry(ctx: Context, account: str, database: str, table: str) -> bool:
    """Drop an Iceberg catalog entry that has no Charter table (startup recovery)."""
    lock(ctx.db, f"lake.table:{account}.{database}.{table}")  # as a write to it would
    if ctx.db.get(LakeTable, (account, database, table)) is not None:
        return False
    try:
        _iceberg.joined(ctx.runtime, ctx.db).drop_table((account, database, table))
    except NoSuchTableError:
        return False
    return True


def _import_legacy_catalog(runtime: Runtime) -> None:
    legacy = runtime.settings.home / LEGACY_CATALOG
    if not runtime.db.is_sqlite or not legacy.exists():
        return
    source = sqlite3.connect(legacy)
    try:
        tables = _rows(source, "iceberg_tables", [c.name for c in IcebergTables.__table__.c])
        spaces = _rows(source, "iceberg_namespace_properties",
                       [c.name for c in IcebergNamespaceProperties.__table__.c])
    finally:
        source.close()
    with runtime.db.transaction() as session:
        # An entry already here is newer than the file's: the file is read once, and
        # later writes went here.
        for model, rows in ((IcebergTables, tables), (IcebergNamespaceProperties, spaces)):
            if rows:
                session.execute(sqlite_insert(model.__table__).on_conflict_do_nothing(), rows)
    for suffix in ("", "-wal", "-shm"):
        part = legacy.with_name(LEGACY_CATALOG + suffix)
        if part.exists():
            part.rename(legacy.with_name(LEGACY_CATALOG + ".imported" + suffix))
    log.warning("moved %d Iceberg catalog entries from %s into the metadata database",
                len(tables), legacy)


def _rows(source: sqlite3.Connection, table: str, columns: list[str]) -> list[dict[str, Any]]:
    try:
        present = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
        chosen = [c for c in columns if c in present]  # older schemas lack iceberg_type
        if not chosen:
            return []
        cursor = source.execute(f"SELECT {', '.join(chosen)} FROM {table}")
    except sqlite3.DatabaseError:
        return []
    return [dict(zip(chosen, row, strict=True)) for row in cursor]
