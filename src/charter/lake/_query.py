"""Governed SQL, step two: run the rewritten query in a DuckDB that can reach nothing but
the views Charter registered.

DuckDB runs with external access disabled, extension loading off and its configuration
locked before the user's SQL runs, so no file path, table function, ATTACH, COPY,
INSTALL, SET or PRAGMA reaches data around the catalog even if one got past the parser.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
from pyiceberg.table import Table

from charter.errors import Invalid

_CONFIG = {"enable_external_access": False, "autoinstall_known_extensions": False,
           "autoload_known_extensions": False, "threads": 2}


def source(table: Table, snapshot_id: int | None) -> tuple[Any, int | None]:
    """An Arrow dataset over the data files of a snapshot (current by default)."""
    snapshot = (table.snapshot_by_id(snapshot_id) if snapshot_id is not None
                else table.current_snapshot())
    if snapshot_id is not None and snapshot is None:
        raise Invalid(f"snapshot {snapshot_id} is not a snapshot of this table; see "
                      "`charter lake snapshots`", code="snapshot_not_found")
    schema = table.schemas()[snapshot.schema_id] if snapshot else table.schema()
    arrow_schema = schema.as_arrow()
    if snapshot is None:
        return arrow_schema.empty_table(), None
    scan = table.scan(snapshot_id=snapshot.snapshot_id)
    tasks = list(scan.plan_files())
    if any(task.delete_files for task in tasks):
        return scan.to_arrow(), snapshot.snapshot_id  # apply deletes through pyiceberg
    paths = [task.file.file_path.removeprefix("file://") for task in tasks]
    if not paths:
        return arrow_schema.empty_table(), snapshot.snapshot_id
    return ds.dataset(paths, format="parquet", schema=arrow_schema), snapshot.snapshot_id


def run(sql: str, sources: dict[str, Any], views: dict[str, str]) -> pa.Table:
    """Run `sql` over the governed `views` (name -> SELECT over the registered `sources`)
    and nothing else. The views are made by Charter before the user's SQL runs."""
    con = duckdb.connect(config=_CONFIG)
    try:
        for name, data in sources.items():
            con.register(name, data)
        con.execute("SET lock_configuration = true")
        for name, select in views.items():
            con.execute(f"CREATE TEMP VIEW {name} AS {select}")
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0][:300]
            raise Invalid(f"the query failed: {message}", code="query_failed") from None
    finally:
        con.close()
