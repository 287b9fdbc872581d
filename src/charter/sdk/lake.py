"""SDK part of the data lake: domains, databases, tables, ingestion, queries, grants, tags."""

from __future__ import annotations

import json as _json
from collections.abc import Iterable
from typing import Any

from charter.core.ids import split_table_name
from charter.sdk._part import Json, Part, new_idempotency_key, q


class _Lake(Part):
    def create_domain(self, name: str, *, account: str, description: str = "") -> Json:
        return self._c.request("POST", "/v1/lake/domains", json={
            "name": name, "account": account, "description": description},
            idempotency_key=new_idempotency_key())

    def domains(self, *, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/lake/domains",
                               params={"limit": limit, "offset": offset})

    def create_database(self, account: str, name: str, *, description: str = "") -> Json:
        return self._c.request("POST", f"/v1/accounts/{q(account)}/lake/databases",
                               json={"name": name, "description": description},
                               idempotency_key=new_idempotency_key())

    def tables(self, account: str, *, database: str | None = None, limit: int = 100,
               offset: int = 0) -> Json:
        return self._c.request("GET", f"/v1/accounts/{q(account)}/lake/tables",
                               params={"database": database, "limit": limit, "offset": offset})

    def table(self, account: str, table: str) -> Json:
        return self._c.request("GET", _table_path(account, table))

    def snapshots(self, account: str, table: str) -> Json:
        return self._c.request("GET", _table_path(account, table) + "/snapshots")

    def add_rules(self, account: str, table: str, rules: list[str]) -> Json:
        return self._c.request("POST", _table_path(account, table) + "/rules",
                               json={"rules": rules}, idempotency_key=new_idempotency_key())

    def ingest(self, account: str, table: str, data: bytes | Iterable[bytes], *,
               format: str = "csv", mode: str = "append",
               schema: dict[str, Any] | None = None, evolve: bool = False,
               idempotency_key: str | None = None) -> Json:
        """Write CSV or Parquet bytes into `db.table` as one snapshot. `data` may be an
        iterable of chunks (a file read piece by piece, say, to show upload progress);
        nothing is written until the whole file has arrived.

        The write happens at most once per `idempotency_key` (default: a new one per
        call): sent again with the same key, after a lost answer, it returns the first
        write's report. This call resends it itself on a lost connection, unless `data`
        is a one-pass iterator."""
        return self._c.request("POST", _table_path(account, table) + "/ingest", params={
            "mode": mode, "format": format, "evolve": evolve or None,
            "schema": _json.dumps(schema) if schema is not None else None}, content=data,
            idempotency_key=idempotency_key or new_idempotency_key())

    def query(self, account: str, sql: str, *,
              snapshots: dict[str, int | str] | None = None) -> Any:
        """Run one governed SELECT; returns a `pyarrow.Table` (`.to_pandas()` for pandas).
        `snapshots` pins tables to snapshot ids, as `snapshots()` gives them (strings) or
        as integers."""
        import pyarrow as pa

        data = self._c.request("POST", f"/v1/accounts/{q(account)}/lake/query",
                               json={"sql": sql, "snapshots": snapshots or {}}, raw=True)
        return pa.ipc.open_stream(data).read_all()

    def grant(self, account: str, table: str | None = None, *, to: str,
              tags: str | None = None, columns: list[str] | None = None,
              exclude_columns: list[str] | None = None, row_filter: str | None = None,
              masks: dict[str, str] | None = None, grant_option: bool = False) -> Json:
        """Grant `db.table` (or columns whose tags match `tags`) to `group:G`, or share a
        table with `account:A`."""
        return self._c.request("POST", f"/v1/accounts/{q(account)}/lake/grants", json={
            "table": table, "tags": tags, "to": to, "columns": columns,
            "exclude_columns": exclude_columns, "row_filter": row_filter,
            "masks": masks or {}, "grant_option": grant_option},
            idempotency_key=new_idempotency_key())

    def create_tag(self, key: str, values: list[str]) -> Json:
        return self._c.request("POST", "/v1/lake/tags", json={"key": key, "values": values},
                               idempotency_key=new_idempotency_key())

    def tag_keys(self, *, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/lake/tags", params={"limit": limit, "offset": offset})

    def assign_tag(self, account: str, resource: str, key: str, value: str) -> Json:
        """Tag `db`, `db.table` or `db.table.column` with key=value."""
        return self._c.request("POST", f"/v1/accounts/{q(account)}/lake/tags",
                               json={"resource": resource, "key": key, "value": value},
                               idempotency_key=new_idempotency_key())

    def share(self, account: str, table: str, *, with_account: str, **policy: Any) -> Json:
        return self.grant(account, table, to=f"account:{with_account}", **policy)

    def grants(self, account: str, *, table: str | None = None, limit: int = 100,
               offset: int = 0) -> Json:
        return self._c.request("GET", f"/v1/accounts/{q(account)}/lake/grants",
                               params={"table": table, "limit": limit, "offset": offset})

    def revoke(self, account: str, grant_id: str) -> Json:
        return self._c.request("DELETE",
                               f"/v1/accounts/{q(account)}/lake/grants/{q(grant_id)}",
                               idempotency_key=new_idempotency_key())


def _table_path(account: str, table: str) -> str:
    database, name = split_table_name(table)
    return f"/v1/accounts/{q(account)}/lake/tables/{q(database)}/{q(name)}"


PARTS: dict[str, type[Part]] = {"lake": _Lake}
