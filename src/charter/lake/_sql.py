"""Governed SQL, step one: parse user SQL with sqlglot, accept one read-only query over
catalog table names, and rewrite each table reference to the principal's governed view.

Key contracts:
- Exactly one statement, a query (SELECT, set operations, CTEs). Any write, DDL, COPY,
  ATTACH, INSTALL/LOAD, SET, PRAGMA, CALL, EXPORT or SELECT INTO anywhere is refused.
- Every table reference is a CTE of the same query or a two-part `database.table` name
  of the account's catalog view; table functions, file names and system catalogs
  (`information_schema`, `duckdb_*`) are never table names of the catalog.
- Functions that reach files, settings or the engine's metadata are refused by name.
- The rewrite replaces the reference by a view name chosen by Charter, keeping the alias.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from charter.errors import Invalid

_DENIED_NODES = tuple(getattr(exp, n) for n in (
    "DDL", "DML", "Alter", "Attach", "Cache", "Command", "Commit", "Copy", "Create", "Delete",
    "Describe", "Detach", "Drop", "Export", "Insert", "Install", "Into", "Kill", "LoadData",
    "Merge", "Pragma", "Refresh", "Rollback", "Set", "Show", "Transaction", "Uncache",
    "Update", "Use") if hasattr(exp, n))
_DENIED_PREFIXES = ("read_", "glob", "duckdb_", "pragma_", "current_setting", "getenv",
                    "query", "sniff_", "parquet_", "iceberg_", "delta_", "sqlite_",
                    "postgres_", "mysql_", "json_execute", "checkpoint", "which_secret",
                    "load_", "install_", "enable_", "disable_", "set_", "import_", "export_")


def refused(message: str) -> Invalid:
    return Invalid(message, code="query_refused")


@dataclass
class ParsedQuery:
    tree: exp.Expression
    tables: list[tuple[str, str]] = field(default_factory=list)  # (database, table), unique


def parse(sql: str) -> ParsedQuery:
    """Parse and check user SQL; raise `query_refused` for anything but a plain query."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except SqlglotError as exc:
        raise refused(f"the query does not parse: {str(exc).splitlines()[0][:200]}") from None
    if len(statements) != 1:
        raise refused("send exactly one statement")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise refused(f"only queries are allowed, not {tree.key.upper()}")
    for node in tree.walk():
        if isinstance(node, _DENIED_NODES):
            raise refused(f"{node.key.upper()} is not allowed in a query")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name.startswith(_DENIED_PREFIXES):
                raise refused(f"function {name} is not allowed")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    parsed = ParsedQuery(tree)
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or table.args.get("catalog"):
            raise refused("only catalog tables (database.table) can be queried")
        if not table.db:
            if table.name.lower() in ctes:
                continue
            raise refused(f"name tables as database.table, not {table.name!r}")
        key = (table.db.lower(), table.name.lower())
        if key not in parsed.tables:
            parsed.tables.append(key)
    return parsed


def rewrite(parsed: ParsedQuery, views: dict[tuple[str, str], str]) -> str:
    """The query with each catalog table replaced by its governed view, as DuckDB SQL."""
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.db:
            view = views[(node.db.lower(), node.name.lower())]
            return exp.Table(this=exp.to_identifier(view),
                             alias=exp.TableAlias(this=exp.to_identifier(node.alias_or_name)))
        return node

    return parsed.tree.copy().transform(swap).sql(dialect="duckdb")
