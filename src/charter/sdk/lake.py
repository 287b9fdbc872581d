"""SDK part of the data lake: domains, databases, tables, ingestion, queries, grants, tags."""

from __future__ import annotations

import json as _json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from charter.core.ids import split_table_name
from charter.lake.schemas import (
    DatabaseRead,
    DomainRead,
    GrantRead,
    IngestReport,
    SnapshotRead,
    TableRead,
    TagKeyRead,
)
from charter.sdk._part import Pager, Part, new_idempotency_key, q

if TYPE_CHECKING:
    import pyarrow as pa

SNAPSHOTS_HEADER = "x-charter-snapshots"  # the tables a query read, at which snapshots


class Lake(Part):
    """The data lake (`client.lake`): data domains and their databases, Iceberg tables
    written from CSV or Parquet under quality rules, snapshots, governed SQL queries,
    grants and shares with column, row and cell policies, and tags.

    Tables are named `DB.TABLE`; `account` is the account whose catalog holds them (the
    producer's own, or a consumer's that a share reached). Listings return a `Pager`:
    iterate it for every item, page by page.
    """

    # -- domains and databases ---------------------------------------------------------

    def create_domain(self, name: str, *, account: str, description: str = "") -> DomainRead:
        """Register a data domain produced by `account` (a data-domain account)."""
        return self._typed(DomainRead, "POST", "/v1/lake/domains", json={
            "name": name, "account": account, "description": description},
            idempotency_key=new_idempotency_key())

    def domains(self, *, limit: int = 100, offset: int = 0) -> Pager[DomainRead]:
        """Data domains of the central catalog, by name."""
        return self._pages(DomainRead, "/v1/lake/domains", {"limit": limit, "offset": offset})

    def create_database(self, account: str, name: str, *,
                        description: str = "") -> DatabaseRead:
        """Create a database in a producer account."""
        return self._typed(DatabaseRead, "POST", f"/v1/accounts/{q(account)}/lake/databases",
                           json={"name": name, "description": description},
                           idempotency_key=new_idempotency_key())

    def databases(self, account: str, *, limit: int = 100,
                  offset: int = 0) -> Pager[DatabaseRead]:
        """An account's databases that the caller may read from, by name."""
        return self._pages(DatabaseRead, f"/v1/accounts/{q(account)}/lake/databases",
                           {"limit": limit, "offset": offset})

    # -- tables ------------------------------------------------------------------------

    def tables(self, account: str, *, database: str | None = None, limit: int = 100,
               offset: int = 0) -> Pager[TableRead]:
        """Tables of an account's catalog that the caller may read (its own and those
        shared with it), optionally of one database, by database and name."""
        return self._pages(TableRead, f"/v1/accounts/{q(account)}/lake/tables",
                           {"database": database, "limit": limit, "offset": offset})

    def table(self, account: str, table: str) -> TableRead:
        """One table `DB.TABLE`: its columns (those the caller may read), quality rules and
        current snapshot."""
        return self._typed(TableRead, "GET", _table_path(account, table))

    def snapshots(self, account: str, table: str, *, limit: int = 100,
                  offset: int = 0) -> Pager[SnapshotRead]:
        """A table's snapshots, oldest first: each write made one."""
        return self._pages(SnapshotRead, _table_path(account, table) + "/snapshots",
                           {"limit": limit, "offset": offset})

    def add_rules(self, account: str, table: str, rules: list[str]) -> TableRead:
        """Declare quality rules on a table, e.g. `not_null(id)`, `range(age, 18, 120)`;
        every later write must pass them."""
        return self._typed(TableRead, "POST", _table_path(account, table) + "/rules",
                           json={"rules": rules}, idempotency_key=new_idempotency_key())

    def ingest(self, account: str, table: str, data: bytes | Iterable[bytes], *,
               format: str = "csv", mode: str = "append",
               schema: dict[str, Any] | None = None, evolve: bool = False,
               delimiter: str | None = None,
               idempotency_key: str | None = None) -> IngestReport:
        """Write CSV or Parquet bytes into `db.table` as one snapshot. `data` may be an
        iterable of chunks (a file read piece by piece, say, to show upload progress);
        nothing is written until the whole file has arrived. A CSV's delimiter (comma,
        semicolon, tab or pipe) is found from the file unless `delimiter` names it.

        The write happens at most once per `idempotency_key` (default: a new one per
        call): sent again with the same key, after a lost answer, it returns the first
        write's report. This call resends it itself on a lost connection, unless `data`
        is a one-pass iterator."""
        return self._typed(IngestReport, "POST", _table_path(account, table) + "/ingest",
                           params={"mode": mode, "format": format, "evolve": evolve or None,
                                   "delimiter": delimiter,
                                   "schema": _json.dumps(schema) if schema is not None
                                   else None},
                           content=data,
                           idempotency_key=idempotency_key or new_idempotency_key())

    def query(self, account: str, sql: str, *,
              snapshots: dict[str, int | str] | None = None) -> pa.Table:
        """Run one governed SELECT; returns a `pyarrow.Table` (`.to_pandas()` for pandas).
        `snapshots` pins tables to snapshot ids, as `snapshots()` gives them (strings) or
        as integers. A masked column keeps its column's type. Inside a run's block
        (`client.runs.start(...)`), each table read and its snapshot are logged as the
        run's inputs."""
        import pyarrow as pa

        data, headers = self._c.request(
            "POST", f"/v1/accounts/{q(account)}/lake/query",
            json={"sql": sql, "snapshots": snapshots or {}}, raw=True, with_headers=True)
        for run in self._c.active_runs[-1:]:
            for read in _json.loads(headers.get(SNAPSHOTS_HEADER) or "[]"):
                run.log_input(read["table"], read["snapshot_id"], source_account=account)
        return pa.ipc.open_stream(data).read_all()

    # -- grants and shares -------------------------------------------------------------

    def grant(self, account: str, table: str | None = None, *, to: str,
              tags: str | None = None, columns: list[str] | None = None,
              exclude_columns: list[str] | None = None, row_filter: str | None = None,
              masks: dict[str, str] | None = None, grant_option: bool = False) -> GrantRead:
        """Grant `db.table` (or columns whose tags match `tags`) to `group:G`, or share a
        table with `account:A`: only `columns` (or all but `exclude_columns`), rows where
        `row_filter` holds, cells under `masks` (column -> null, constant, hash, lastN)."""
        return self._typed(GrantRead, "POST", f"/v1/accounts/{q(account)}/lake/grants", json={
            "table": table, "tags": tags, "to": to, "columns": columns,
            "exclude_columns": exclude_columns, "row_filter": row_filter,
            "masks": masks or {}, "grant_option": grant_option},
            idempotency_key=new_idempotency_key())

    def share(self, account: str, table: str, *, with_account: str,
              **policy: Any) -> GrantRead:
        """Share a table with a consumer account: `grant(..., to="account:A")`."""
        return self.grant(account, table, to=f"account:{with_account}", **policy)

    def grants(self, account: str, *, table: str | None = None, limit: int = 100,
               offset: int = 0) -> Pager[GrantRead]:
        """Grants the account made and shares it received, oldest first."""
        return self._pages(GrantRead, f"/v1/accounts/{q(account)}/lake/grants",
                           {"table": table, "limit": limit, "offset": offset})

    def revoke(self, account: str, grant_id: str) -> GrantRead:
        """Revoke a grant or share (onward grants of a share go with it)."""
        return self._typed(GrantRead, "DELETE",
                           f"/v1/accounts/{q(account)}/lake/grants/{q(grant_id)}",
                           idempotency_key=new_idempotency_key())

    # -- tags --------------------------------------------------------------------------

    def create_tag(self, key: str, values: list[str]) -> TagKeyRead:
        """Create a central tag key with its allowed values."""
        return self._typed(TagKeyRead, "POST", "/v1/lake/tags",
                           json={"key": key, "values": values},
                           idempotency_key=new_idempotency_key())

    def tag_keys(self, *, limit: int = 100, offset: int = 0) -> Pager[TagKeyRead]:
        """Central tag keys and their allowed values, by key."""
        return self._pages(TagKeyRead, "/v1/lake/tags", {"limit": limit, "offset": offset})

    def assign_tag(self, account: str, resource: str, key: str, value: str) -> dict[str, str]:
        """Tag `db`, `db.table` or `db.table.column` with key=value."""
        return self._typed(dict[str, str], "POST", f"/v1/accounts/{q(account)}/lake/tags",
                           json={"resource": resource, "key": key, "value": value},
                           idempotency_key=new_idempotency_key())


def _table_path(account: str, table: str) -> str:
    database, name = split_table_name(table)
    return f"/v1/accounts/{q(account)}/lake/tables/{q(database)}/{q(name)}"


PARTS: dict[str, type[Part]] = {"lake": Lake}
