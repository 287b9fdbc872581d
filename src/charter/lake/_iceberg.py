"""Iceberg tables: a SQL catalog and data files under each producer account's prefix.

Key contracts:
- Each write (create, append, overwrite) commits one Iceberg snapshot, or nothing.
- Table data lives under `<storage>/accounts/<account>/lake/<database>/<table>` in the
  platform's object store (a local directory or S3), read and written by pyiceberg with
  the store's FileIO properties; an OSError of the store is `storage_unavailable`.
- The Iceberg catalog's tables live in the metadata database (SQLite or PostgreSQL).
  Writes go through `joined(runtime, session)`: the catalog row changes in the
  operation's own transaction, so a snapshot commits with the operation's rows and audit
  record or not at all; the shared catalog (`catalog`, `load`) only reads, and sees
  committed state. Data and metadata files of a write that did not commit stay
  unreferenced under the table's location.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

from pyiceberg.catalog import Catalog, MetastoreCatalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.io import FileIO
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from charter.core import faults
from charter.core.context import Runtime
from charter.core.storage import account_prefix, storage_errors
from charter.errors import NotFound

_lock = threading.Lock()
_METADATA_KEPT = 512  # parsed table metadata files kept per catalog


# Fault points of an Iceberg commit (CHARTER_FAULT_POINT; docs/design.md).
TABLE_CREATED = "lake.iceberg.table_created"  # catalog row of a new table, no snapshot
FILES_WRITTEN = "lake.iceberg.files_written"  # data files and manifests written
METADATA_WRITTEN = "lake.iceberg.metadata_written"  # new metadata file, catalog unchanged
COMMITTED = "lake.iceberg.committed"  # catalog row points at the new snapshot


class _Catalog(SqlCatalog):
    """pyiceberg's SQL catalog over Charter's own engine, keeping parsed table metadata by
    metadata file location: Iceberg writes a new metadata file on every commit and never
    changes one, so loading an unchanged table reads only its catalog row.

    The shared instance only reads; `joined` makes a copy whose `engine` is an open
    operation's connection, where pyiceberg's sessions join that transaction (their
    commits do not end it), and only such a copy writes."""

    def __init__(self, engine: Engine, *, warehouse: str, fault_point: str | None,
                 properties: dict[str, str]) -> None:
        MetastoreCatalog.__init__(self, "charter", warehouse=warehouse, **properties)
        self.engine = engine  # type: ignore[assignment]
        self._init_catalog()
        self._metadata: OrderedDict[str, TableMetadata] = OrderedDict()
        self._metadata_lock = threading.Lock()
        self.fault_point = fault_point
        self.joined = False
        self._committing = False

    def _convert_orm_to_iceberg(self, orm_table: Any) -> Table:
        location = orm_table.metadata_location
        with self._metadata_lock:
            metadata = self._metadata.get(location) if location else None
        if metadata is None:
            table = super()._convert_orm_to_iceberg(orm_table)
            with self._metadata_lock:
                self._metadata[location] = table.metadata
                while len(self._metadata) > _METADATA_KEPT:
                    self._metadata.popitem(last=False)
            return table
        with self._metadata_lock:
            self._metadata.move_to_end(location)
        return Table(identifier=(*Catalog.identifier_to_tuple(orm_table.table_namespace),
                                 orm_table.table_name),
                     metadata=metadata, metadata_location=location,
                     io=self._load_file_io(metadata.properties, location), catalog=self)

    def _writing(self) -> None:
        if not self.joined:
            raise RuntimeError("Iceberg catalog writes run in an operation's transaction: "
                               "use _iceberg.joined")

    def create_namespace(self, namespace: Any, properties: Any = None) -> None:
        self._writing()
        super().create_namespace(namespace, properties or {})

    def create_table(self, *args: Any, **kwargs: Any) -> Table:
        self._writing()
        table = super().create_table(*args, **kwargs)
        faults.reach(self.fault_point, TABLE_CREATED)
        return table

    def drop_table(self, identifier: Any) -> None:
        self._writing()
        super().drop_table(identifier)

    def commit_table(self, table: Table, requirements: Any, updates: Any) -> Any:
        self._writing()
        faults.reach(self.fault_point, FILES_WRITTEN)
        self._committing = True
        try:
            response = super().commit_table(table, requirements, updates)
        finally:
            self._committing = False
        faults.reach(self.fault_point, COMMITTED)
        return response

    def _write_metadata(self, metadata: TableMetadata, io: FileIO,  # type: ignore[override]
                        metadata_path: str) -> None:
        super()._write_metadata(metadata, io, metadata_path)
        if self._committing:
            faults.reach(self.fault_point, METADATA_WRITTEN)


def catalog(runtime: Runtime) -> _Catalog:
    """The platform's Iceberg catalog, for reads (made once per runtime)."""
    with _lock:
        found = runtime.cache.get("lake.catalog")
        if found is None:
            # Reads only: on SQLite they need no write lock (see core.db).
            engine = runtime.db.engine.execution_options(charter_read=True)
            found = _Catalog(engine, warehouse=runtime.storage.root_uri,
                             fault_point=runtime.settings.fault_point,
                             properties=runtime.storage.iceberg_properties())
            runtime.cache["lake.catalog"] = found
        return found


def joined(runtime: Runtime, session: Session) -> _Catalog:
    """The catalog inside the operation's transaction: what it writes commits, or rolls
    back, with the operation."""
    bound = copy.copy(catalog(runtime))
    bound.engine = session.connection()  # type: ignore[assignment]
    bound.joined = True
    return bound


def location(runtime: Runtime, account: str, database: str, table: str) -> str:
    return runtime.storage.uri(f"{account_prefix(account)}/lake/{database}/{table}")


def load(runtime: Runtime, account: str, database: str, table: str, *,
         session: Session | None = None) -> Table:
    """A table of the catalog; with `session`, as the operation's transaction sees it (and
    writable in it)."""
    found = joined(runtime, session) if session is not None else catalog(runtime)
    try:
        with storage_errors(runtime.storage):  # a table not yet seen reads its metadata
            return found.load_table((account, database, table))
    except NoSuchTableError:
        raise NotFound(f"table {database}.{table} has no data yet in {account}",
                       code="table_not_found") from None


def snapshot_summary(table: Table, snapshot: Any) -> dict[str, Any]:
    summary = snapshot.summary
    props = summary.additional_properties if summary else {}
    return {
        "snapshot_id": snapshot.snapshot_id,
        "parent_id": snapshot.parent_snapshot_id,
        "timestamp_ms": snapshot.timestamp_ms,
        "operation": summary.operation.value if summary else "unknown",
        "added_records": int(props.get("added-records", 0)),
        "total_records": int(props.get("total-records", 0)),
    }
