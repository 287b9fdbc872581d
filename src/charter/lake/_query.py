"""Governed SQL, step two: run the rewritten query in a DuckDB that can reach nothing but
the views Charter made for it.

Key contracts:
- A query runs on a connection of its own to a locked DuckDB database: external access
  disabled except for `allowed_paths`, exactly the Parquet data files of the snapshots
  the query reads; extension loading off; configuration locked before any user SQL. No
  other file, table function, ATTACH, COPY, INSTALL, SET or PRAGMA reaches data around the
  catalog even if one got past the parser.
- DuckDB's own parse tree of the query must be one SELECT whose every table is a view of
  this query or a CTE in scope (`_check_tree`): the allowed files are writable to a COPY
  and readable raw by a table function, so both are stopped twice over.
- A locked database is kept for each set of files recently read (LRU, closed when
  evicted and idle) and shared only by queries that read exactly that set. Each query
  has its own connection; the governed views are CTEs of its SQL, and Arrow data is
  registered on that connection only; nothing can be created in the database, since
  only one SELECT runs.
- A snapshot's data files are read by DuckDB's own Parquet reader: local files as they
  are, objects on S3 from checked local copies under CHARTER_HOME/lake-cache
  (`core.storage.LocalCopies`), checked again (one lstat each) before every query runs.
  A file written with another schema than the snapshot's (before a schema change) is
  read by Iceberg field id, so added columns read as NULL. A
  snapshot DuckDB cannot read from files alone (delete files, nested types, an object
  with no checked copy) is read through pyiceberg into Arrow instead.
- A view under a row filter reads its files with their column statistics withheld
  (`Source.relation(statistics=False)`), so DuckDB plans with no min or max of rows the
  filter hides; other views keep them, which DuckDB's joins need to run at full speed.
- File plans are cached per (table uuid, snapshot id): a snapshot never changes. A
  query text whose tree passed the check is kept per caller (`_check_once`).
- A caller sees the first line of DuckDB's error only (the rest quotes the SQL, views
  included), without hash mask keys, data file paths or quoted literals (`_said`). An
  error about a value (a cast, an overflow, a function's input such as `error()`) may
  quote a cell the caller may not read and reaches the audit trail: it is told by its
  class and, where DuckDB names it, the column, never by its message.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from cachetools import LRUCache
from pyiceberg import types as it
from pyiceberg.table import Table
from sqlglot import exp

from charter.core.context import Runtime
from charter.core.storage import LocalCopies, storage_errors
from charter.errors import Invalid
from charter.lake._sql import DENIED_FUNCTIONS, DENIED_PREFIXES

_PLANS = 1024  # snapshot file plans kept per runtime
_plans_lock = threading.Lock()
_DUCKDB_TYPES: dict[type, str] = {
    it.BooleanType: "BOOLEAN", it.IntegerType: "INTEGER", it.LongType: "BIGINT",
    it.FloatType: "FLOAT", it.DoubleType: "DOUBLE", it.StringType: "VARCHAR",
    it.DateType: "DATE", it.TimeType: "TIME", it.TimestampType: "TIMESTAMP",
    it.TimestamptzType: "TIMESTAMPTZ", it.BinaryType: "BLOB", it.UUIDType: "UUID"}
_FIELD_ID = b"PARQUET:field_id"


@dataclass(frozen=True)
class Source:
    """The data of one table snapshot as a governed view reads it: local Parquet files
    written with the snapshot's schema (`files`) or another one (`mapped`, read by the
    (field id, name, DuckDB type) of `fields`), or else Arrow data."""
    columns: tuple[str, ...]
    files: tuple[str, ...] = ()
    mapped: tuple[str, ...] = ()
    fields: tuple[tuple[int, str, str], ...] = ()
    arrow: Any = None

    @property
    def paths(self) -> tuple[str, ...]:
        return self.files + self.mapped

    def relation(self, name: str, *, statistics: bool = True) -> str:
        """DuckDB SQL to put after FROM for this source's rows: `name`, under which
        Arrow data is registered, or a read of the files. Files in the snapshot's own
        schema are read without a field-id map, which keeps DuckDB's row-count estimates;
        `union_by_name` has DuckDB read every footer up front and merge the files' column
        statistics, which it plans with (a join over many files runs about 1.5x faster).

        `statistics=False` withholds those statistics (see `_UNKNOWN`): the files' min
        and max cover every row, and a row filter must hide some. Arrow data carries none."""
        if self.arrow is not None:
            return name
        unknown = "" if statistics else f", column_statistics = {_unknown(self.columns)}"
        parts = []
        if self.files:
            parts.append(f"read_parquet({_strings(self.files)}, union_by_name = true{unknown})")
        if self.mapped:
            schema = ", ".join(
                f"{fid}: {{name: {_string(col)}, type: {_string(kind)}, default_value: NULL}}"
                for fid, col, kind in self.fields)
            parts.append(f"read_parquet({_strings(self.mapped)}, schema = MAP {{{schema}}}"
                         f"{unknown})")
        if len(parts) == 1:
            return parts[0]
        return "(" + " UNION ALL ".join(f"SELECT * FROM {p}" for p in parts) + ")"


# What a view under a row filter tells DuckDB of each column: nothing but that it may hold
# NULLs. A column named in `column_statistics` takes the statistics given instead of the
# files'. Were DuckDB to plan with the files' min and max, which cover the rows the filter
# hides, a query could tell when it proved a branch empty (a probe that fails only when
# it runs) and read them out by binary search.
_UNKNOWN = "MAP {'has_null': 'true'}"


# SQL literals of names and paths, written by sqlglot once and kept: every view of every
# query repeats them.
@functools.lru_cache(maxsize=1024)
def _unknown(columns: tuple[str, ...]) -> str:
    return "MAP {" + ", ".join(f"{_string(c)}: {_UNKNOWN}" for c in columns) + "}"


@functools.lru_cache(maxsize=4096)
def _string(value: str) -> str:
    return exp.Literal.string(value).sql("duckdb")


@functools.lru_cache(maxsize=1024)
def _strings(values: tuple[str, ...]) -> str:
    return exp.Array(expressions=[exp.Literal.string(v) for v in values]).sql("duckdb")


# -- planning ----------------------------------------------------------------------------

def source(runtime: Runtime, table: Table, snapshot_id: int | None) -> tuple[Source, int | None]:
    """The data of a snapshot (current by default) and the snapshot id read."""
    snapshot = (table.snapshot_by_id(snapshot_id) if snapshot_id is not None
                else table.current_snapshot())
    if snapshot_id is not None and snapshot is None:
        raise Invalid(f"snapshot {snapshot_id} is not a snapshot of this table",
                      code="snapshot_not_found")
    schema = table.schemas()[snapshot.schema_id] if snapshot else table.schema()
    columns = tuple(f.name for f in schema.fields)
    if snapshot is None:
        return Source(columns, arrow=schema.as_arrow().empty_table()), None
    fields = tuple((f.field_id, f.name, _duckdb_type(f.field_type)) for f in schema.fields)
    with storage_errors(runtime.storage):  # manifests and data files are in the store
        plan = _plan(runtime, table, snapshot.snapshot_id, schema.as_arrow())
        if plan is not None and all(kind for _, _, kind in fields):
            files, mapped = plan
            if files or mapped:
                return (Source(columns, files=files, mapped=mapped, fields=fields),
                        snapshot.snapshot_id)
        arrow = (table.scan(snapshot_id=snapshot.snapshot_id).to_arrow() if plan != ((), ())
                 else schema.as_arrow().empty_table())
    return Source(columns, arrow=arrow), snapshot.snapshot_id


def _duckdb_type(kind: it.IcebergType) -> str | None:
    """The DuckDB type of an Iceberg primitive type; None for nested types."""
    if isinstance(kind, it.DecimalType):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    if isinstance(kind, it.FixedType):
        return "BLOB"
    return _DUCKDB_TYPES.get(type(kind))


def _plan(runtime: Runtime, table: Table, snapshot_id: int, schema: pa.Schema
          ) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(files in the snapshot's schema, files in another) of a snapshot, or None if DuckDB
    cannot read it from local files alone (delete files, or remote files without a
    checked local copy: see `core.storage.LocalCopies`)."""
    plans: LRUCache[Any, Any] = runtime.cache.setdefault("lake.plans", LRUCache(_PLANS))
    key = (str(table.metadata.table_uuid), snapshot_id)
    with _plans_lock:
        cached, copied = plans.get(key, (None, False))
        hit = key in plans
    # Copies are checked before every read (one lstat each): a changed, replaced or
    # removed copy is fetched again rather than read.
    if hit and (not copied or cached is None
                or _copies(runtime).unchanged(cached[0] + cached[1])):
        return cached
    tasks = list(table.scan(snapshot_id=snapshot_id).plan_files())
    paths: list[str] | None
    copied = False
    if any(t.delete_files for t in tasks):
        paths = None
    elif all(t.file.file_path.startswith("file://") for t in tasks):
        paths = [t.file.file_path.removeprefix("file://") for t in tasks]
    else:  # objects on S3: read from checked local copies
        copied = True
        paths = _copies(runtime).fetch([(t.file.file_path, t.file.file_size_in_bytes)
                                        for t in tasks])
    found = None
    if paths is not None:
        wanted = _layout(schema)
        same = [_layout(pq.read_schema(p)) == wanted for p in paths]
        found = (tuple(p for p, s in zip(paths, same, strict=True) if s),
                 tuple(p for p, s in zip(paths, same, strict=True) if not s))
    with _plans_lock:
        plans[key] = (found, copied)
    return found


def _copies(runtime: Runtime) -> LocalCopies:
    with _plans_lock:
        found = runtime.cache.get("lake.copies")
        if found is None:
            found = runtime.cache["lake.copies"] = LocalCopies(
                runtime.storage, runtime.settings.home / "lake-cache")
        return found


def _layout(schema: pa.Schema) -> list[tuple[bytes | None, str, str]]:
    """(field id, name, type) of each column, as DuckDB would read it."""
    def kind(t: pa.DataType) -> str:
        return str({pa.large_string(): pa.string(), pa.large_binary(): pa.binary()}.get(t, t))
    return [((f.metadata or {}).get(_FIELD_ID), f.name, kind(f.type)) for f in schema]


# -- running -----------------------------------------------------------------------------

@dataclass
class _Database:
    con: duckdb.DuckDBPyConnection
    spill: Path
    users: int = 0
    retired: bool = False

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)


@dataclass
class _Engines:
    """Locked DuckDB databases by the set of files they may read, least recently used
    first; an evicted one is closed once no query is using it."""
    size: int
    memory: str
    spill_root: Path
    spill_limit: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    dbs: OrderedDict[frozenset[str], _Database] = field(default_factory=OrderedDict)

    @contextmanager
    def connection(self, files: frozenset[str]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A new connection to the locked database for `files`."""
        key = files
        with self.lock:
            db = self.dbs.get(key)
            if db is not None:
                self.dbs.move_to_end(key)
                db.users += 1
        if db is None:
            db = self._enter(key, self._open(files))
        try:
            con = db.con.cursor()
            try:
                yield con
            finally:
                con.close()
        finally:
            with self.lock:
                db.users -= 1
                idle = db.retired and db.users == 0
            if idle:
                db.close()

    def discard(self, files: frozenset[str]) -> None:
        """Retire the database for `files` (DuckDB invalidates a database after an
        internal error); it closes once its last query ends."""
        with self.lock:
            db = self.dbs.pop(files, None)
            if db is not None:
                db.retired = True

    def _enter(self, key: frozenset[str], new: _Database) -> _Database:
        """Keep `new` for `key`, unless another query opened one first."""
        closing = []
        with self.lock:
            db = self.dbs.get(key)
            if db is not None:
                closing.append(new)
            else:
                db = self.dbs[key] = new
                while len(self.dbs) > self.size:
                    _, old = self.dbs.popitem(last=False)
                    old.retired = True
                    if old.users == 0:
                        closing.append(old)
            db.users += 1
        for old in closing:
            old.close()
        return db

    def _open(self, files: frozenset[str]) -> _Database:
        spill = self.spill_root / uuid.uuid4().hex
        spill.mkdir(parents=True)
        # Settings given at connect are every cursor's defaults too. No Python object is
        # ever read by name, whatever a query calls a table.
        config: dict[str, Any] = {"autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False,
                                  "python_enable_replacements": False,
                                  "memory_limit": self.memory}
        con = duckdb.connect(config=config)
        try:
            con.execute(f"SET temp_directory = {_string(str(spill))}")
            con.execute(f"SET max_temp_directory_size = {_string(self.spill_limit)}")
            if files:
                con.execute(f"SET allowed_paths = {_strings(tuple(sorted(files)))}")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            _Database(con, spill).close()
            raise
        return _Database(con, spill)

    def close(self) -> None:
        with self.lock:
            dbs, self.dbs = list(self.dbs.values()), OrderedDict()
            idle = []
            for db in dbs:
                db.retired = True
                if db.users == 0:
                    idle.append(db)
        for db in idle:
            db.close()


_engines_lock = threading.Lock()


def _engines(runtime: Runtime) -> _Engines:
    with _engines_lock:
        engines = runtime.cache.get("lake.engines")
        if engines is None:
            settings = runtime.settings
            engines = runtime.cache["lake.engines"] = _Engines(
                settings.lake.query_engines, settings.lake.query_memory,
                settings.home / "lake-spill", settings.lake.query_spill)
            runtime.closers.append(engines.close)
        return engines


# DuckDB's table reference kinds other than SUBQUERY, JOIN, EXPRESSION_LIST (VALUES),
# EMPTY_FROM and EMPTY: a base table must be a CTE in scope; every other kind is refused.
_CHECKED_REFS = frozenset({"INVALID", "BASE_TABLE", "TABLE_FUNCTION", "CTE", "PIVOT",
                           "SHOW_REF", "COLUMN_DATA", "DELIM_GET", "BOUND_TABLE_REF"})


_denied_lock = threading.Lock()
_denied: frozenset[str] | None = None
_FROM = re.compile(r"\bfrom\b")
_CALLED = re.compile(r'"?([a-z_][a-z0-9_]*)"?\s*\(')  # a function called in a macro body


def _denied_functions() -> frozenset[str]:
    """Functions a query may not call: Charter's list, and DuckDB's built-in macros that
    read a relation or call a denied function, found in its function catalog once per
    process. (Table functions cannot stand in an expression; in FROM they are refused
    whatever their name.)"""
    global _denied
    if _denied is not None:  # asked once per function in every query's tree
        return _denied
    with _denied_lock:
        if _denied is None:
            with duckdb.connect() as con:
                rows = con.execute("SELECT DISTINCT lower(function_name), "
                                   "lower(macro_definition) FROM duckdb_functions() "
                                   "WHERE function_type = 'macro'").fetchall()
            denied = set(DENIED_FUNCTIONS)

            def calls_denied(body: str) -> bool:
                return any(name in denied or name.startswith(DENIED_PREFIXES)
                           for name in _CALLED.findall(body))

            while True:
                more = {n for n, body in rows if n not in denied and body and (
                    _FROM.search(body) or calls_denied(body))}
                if not more:
                    break
                denied |= more
            _denied = frozenset(denied)
        return _denied


_CHECKED_BUDGET = 1_000_000  # characters of checked query text kept per runtime
_CHECKED_TEXT = 20_000  # longer ones are checked each time
_checked_lock = threading.Lock()


def _check_once(runtime: Runtime, con: duckdb.DuckDBPyConnection, sql: str,
                views: dict[str, str], scope: Hashable) -> None:
    """`_check_tree` of `sql` over `views`, skipped for a text that passed before for
    the same `scope` (caller: see `_sql.Scope`): the check is a pure function of the
    text. The views' bodies are Charter's and not walked; they stand as `SELECT NULL`,
    since serialising them (file lists, a CASE per column) would double the check's time
    for nothing."""
    text = with_views(sql, dict.fromkeys(views, "SELECT NULL"))
    passed: LRUCache[Any, int] = runtime.cache.setdefault(
        "lake.checked", LRUCache(_CHECKED_BUDGET, getsizeof=lambda size: size))
    with _checked_lock:
        if (scope, text) in passed:
            return
    _check_tree(con, text, frozenset(v.lower() for v in views))
    if len(text) <= _CHECKED_TEXT:
        with _checked_lock:
            passed[(scope, text)] = len(text)


def _check_tree(con: duckdb.DuckDBPyConnection, sql: str, views: frozenset[str]) -> None:
    """Check the query as it will run, as DuckDB itself parsed it: one SELECT; no table
    function, file, SUMMARIZE or PIVOT; no denied function; every table a CTE in scope.
    The governed `views` must stand as CTEs of the top level, the only bodies not walked
    (they are Charter's, and `sql` may give them as `SELECT NULL`). The sqlglot checks
    hold this already; this holds it again against any difference between the two
    parsers, and any way DuckDB reads the views and the user's query together."""
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
        if tree.get("error") or len(tree.get("statements", [])) != 1:
            raise Invalid("this form of query is not supported: "
                          f"{str(tree.get('error_message', 'one SELECT'))[:200]}",
                          code="query_refused")
        root = tree["statements"][0]["node"]
        cte_map = root.get("cte_map") if isinstance(root, dict) else None
        names = {str(e.get("key", "")).lower() for e in (cte_map or {}).get("map", [])}
        if not views <= names:
            raise _refused("this form of query is not supported")
        _walk(root, frozenset(), views)
    except RecursionError:
        raise Invalid("the query is nested too deeply", code="query_refused") from None


def _refused(message: str) -> Invalid:
    return Invalid(message, code="query_refused")


def _walk(node: Any, ctes: frozenset[str], trusted: frozenset[str] = frozenset()) -> None:
    """Check `node` where the CTE names `ctes` are in scope; `trusted` names CTEs of this
    node whose bodies are Charter's views."""
    if isinstance(node, list):
        for item in node:
            _walk(item, ctes)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if "class" not in node and isinstance(kind, str) and kind in _CHECKED_REFS:
        name = str(node.get("table_name", ""))
        if (kind != "BASE_TABLE" or node.get("schema_name") or node.get("catalog_name")
                or node.get("at_clause") or not name.isascii() or name.lower() not in ctes):
            raise _refused("the query reads something other than catalog tables and its "
                           "own CTEs")
    if node.get("class") in ("FUNCTION", "WINDOW"):  # a window names its function too
        name = str(node.get("function_name", "")).lower()
        if name.startswith(DENIED_PREFIXES) or name in _denied_functions():
            raise _refused(f"function {name} is not allowed")
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        for entry in cte_map.get("map", []):
            name, value = str(entry.get("key", "")), entry.get("value")
            if not name.isascii() or not isinstance(value, dict):
                raise _refused("name CTEs with plain identifiers")
            if name.lower() not in trusted:
                _walk_cte(name.lower(), value, ctes)
            ctes = ctes | {name.lower()}
    for key, child in node.items():
        if key != "cte_map":
            _walk(child, ctes)


def _walk_cte(name: str, cte: dict[str, Any], ctes: frozenset[str]) -> None:
    """A CTE's own name is in scope only in the recursive term (`right`) of a recursive
    CTE; in its anchor DuckDB would resolve the name in its catalog."""
    query = cte.get("query_node")
    if not (isinstance(query, dict) and query.get("type") == "RECURSIVE_CTE_NODE"):
        _walk(cte, ctes)
        return
    if (query.get("cte_map") or {}).get("map"):
        raise _refused("a WITH inside a recursive CTE is not supported")
    for key, child in cte.items():
        if key != "query_node":
            _walk(child, ctes)
    for key, child in query.items():
        _walk(child, ctes | {name} if key == "right" else ctes)


_LEADING_WITH = re.compile(r"WITH(\s+RECURSIVE)?\s+")


def with_views(sql: str, views: dict[str, str]) -> str:
    """`sql` (as sqlglot wrote it: keywords upper case, no comments) with the governed
    views prepended as CTEs that DuckDB inlines like views, joining the query's own
    top-level WITH if it has one."""
    ctes = ", ".join(f"{name} AS NOT MATERIALIZED ({select})" for name, select in views.items())
    if not ctes:
        return sql
    found = _LEADING_WITH.match(sql)
    if found:
        return f"WITH{found.group(1) or ''} {ctes}, {sql[found.end():]}"
    return f"WITH {ctes} {sql}"


def run(runtime: Runtime, sql: str, sources: dict[str, Source],
        views: dict[str, str], scope: Hashable = None, *,
        secrets: tuple[str, ...] = ()) -> pa.Table:
    """Run `sql` over the governed `views` (name -> SELECT) and nothing else. Sources
    held as Arrow data are registered under their names; the views read the rest from
    files. The views join `sql` as CTEs (no view is created, so none is bound twice),
    and the whole is checked on DuckDB's own parse tree before it runs. `secrets`
    (the views' hash mask keys) never reach the caller in an error message."""
    files = frozenset(p for s in sources.values() for p in s.paths)
    copies: LocalCopies | None = runtime.cache.get("lake.copies")
    if copies is not None and files:  # one lstat a copy: a changed one is fetched again
        with storage_errors(runtime.storage):
            copies.ensure(files)
    timeout = runtime.settings.lake.query_timeout
    engines = _engines(runtime)
    final = with_views(sql, views)
    with engines.connection(files) as con:
        timer = threading.Timer(timeout, con.interrupt)
        try:
            _check_once(runtime, con, sql, views, scope)
            for name, data in sources.items():
                if data.arrow is not None:
                    con.register(name, data.arrow)
            timer.start()
            return con.sql(final).to_arrow_table()
        except duckdb.InterruptException:
            raise Invalid(f"the query ran past {timeout:g} s and was stopped "
                          "(CHARTER_LAKE_QUERY_TIMEOUT)", code="query_timeout") from None
        except (duckdb.InternalException, duckdb.FatalException) as exc:
            engines.discard(files)
            raise Invalid("the query engine failed on this query: "
                          f"{_said(exc, secrets, files)}", code="query_failed") from None
        except duckdb.Error as exc:
            raise Invalid(f"the query failed: {_said(exc, secrets, files)}",
                          code="query_failed") from None
        finally:
            timer.cancel()


# DuckDB errors about the query's text or the engine: their first line is told, quoted
# literals aside. Any other class may be about a value the query read, and is told by its
# class alone (`_ABOUT_VALUES` says what such an error means).
_ABOUT_QUERY = (duckdb.BinderException, duckdb.CatalogException, duckdb.ParserException,
                duckdb.SyntaxException, duckdb.NotImplementedException,
                duckdb.OutOfMemoryException, duckdb.PermissionException)
_ABOUT_VALUES: tuple[tuple[type[duckdb.Error], str], ...] = (
    (duckdb.ConversionException, "a value could not be converted to the type asked for"),
    (duckdb.OutOfRangeException, "a value is out of the range of its type"),
    (duckdb.InvalidInputException, "a function refused a value it was given"),
    (duckdb.TypeMismatchException, "a value is not of the type asked for"))
_CLASS = re.compile(r"([A-Z][A-Za-z ]{0,40} Error):")
_SOURCE_COLUMN = re.compile(r"when casting from source column ([A-Za-z_][A-Za-z0-9_]*)\b")
_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _said(error: duckdb.Error, secrets: tuple[str, ...], files: frozenset[str]) -> str:
    """What DuckDB said, for the caller. An error about the query: its first line only
    (the lines after quote the SQL, views included), without the `secrets` (in any letter
    case), the data files' paths or quoted literals, cut short only once they are out.
    Any other: its class, what it means and the column DuckDB names, no value."""
    first = str(error).splitlines()[0] if str(error) else ""
    named = _CLASS.match(first)
    kind = named.group(1) if named else type(error).__name__
    if not isinstance(error, _ABOUT_QUERY):
        meaning = next((m for cls, m in _ABOUT_VALUES if isinstance(error, cls)), None)
        column = _SOURCE_COLUMN.search(first)
        said = kind + (f": {meaning}" if meaning else "")
        said += f" (column {column.group(1)})" if column else ""
        return said + "; values are not shown in errors"
    for secret in secrets:
        first = re.sub(re.escape(secret), "<key>", first, flags=re.IGNORECASE)
    for path in files:
        first = first.replace(path, "<data file>")
    return _LITERAL.sub("'...'", first)[:300]
