"""Governed SQL, step one: parse user SQL with sqlglot, accept one read-only query over
catalog table names, and rewrite each table reference to the principal's governed view.

Key contracts:
- Exactly one statement, a query (SELECT, set operations, CTEs). Any write, DDL, COPY,
  ATTACH, INSTALL/LOAD, SET, PRAGMA, CALL, EXPORT or SELECT INTO anywhere is refused.
- Every table reference is a two-part `database.table` name of the account's catalog
  view, or a one-part name of a CTE in scope where it stands: defined by an enclosing
  WITH, earlier in its own WITH, or itself when recursive. A name resolved any other way
  (a CTE of a sibling subquery, a later CTE, a file name, a system catalog, an engine
  object) is refused, so the engine never gets to look such a name up.
  One-part names are plain ASCII identifiers, compared as the engine compares them.
- Names starting with `__charter` belong to the engine and are refused anywhere.
- Functions that reach files, settings or the engine's metadata, take SQL of their own
  (`json_serialize_plan` binds it, beyond every check), or report statistics of rows
  outside the grant, are refused by name;
  `SUMMARIZE`, `DESCRIBE`, `SHOW` and `AT (VERSION => ...)` are refused.
- The rewrite replaces the reference by a view name chosen by Charter, keeping alias,
  column aliases and sampling.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import sqlglot
from cachetools import LRUCache, cached
from sqlglot import exp
from sqlglot.errors import SqlglotError

from charter.errors import Invalid

_DENIED_NODES = tuple(getattr(exp, n) for n in (
    "DDL", "DML", "Alter", "Attach", "Cache", "Command", "Commit", "Copy", "Create", "Delete",
    "Describe", "Detach", "Drop", "Export", "Insert", "Install", "Into", "Kill", "LoadData",
    "Merge", "Pragma", "Refresh", "Rollback", "Set", "Show", "Summarize", "Transaction",
    "Uncache", "Update", "Use", "HistoricalData", "Version") if hasattr(exp, n))
DENIED_PREFIXES = ("read_", "glob", "duckdb_", "pragma_", "current_setting", "getenv",
                    "query", "sniff_", "parquet_", "iceberg_", "delta_", "sqlite_",
                    "postgres_", "mysql_", "json_execute", "json_serialize",
                    "json_deserialize", "checkpoint", "which_secret",
                    "load_", "install_", "enable_", "disable_", "set_", "import_", "export_")


# Functions that read relations or reveal more than the governed rows: pg_catalog macros
# that select from the engine's catalog; `stats`, which reports a column's min and max
# over the whole file, rows outside the row filter included; `current_query`, which
# shows the views' SQL; `index_key`, which tells whether engine objects exist;
# `vector_type`; the connection, query and transaction ids; and `sleep_ms`, which only
# serves timing probes.
DENIED_FUNCTIONS = frozenset({"stats", "pg_get_viewdef", "pg_get_constraintdef",
                              "format_type", "get_block_size", "pg_sleep", "getvariable",
                              "current_query", "index_key",
                              # how DuckDB holds a column's vectors: dictionary and
                              # constant vectors tell of rows the filter dropped
                              "vector_type",
                              # ids that count every caller's queries on a shared engine
                              "current_connection_id", "current_query_id",
                              "current_transaction_id", "txid_current",
                              "sleep_ms"})
RESERVED = "__charter"
_CTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def refused(message: str) -> Invalid:
    return Invalid(message, code="query_refused")


_STARTS = ("SELECT", "WITH", "FROM", "VALUES", "(", "TABLE", "PIVOT", "UNPIVOT", "SUMMARIZE",
           "DESCRIBE", "SHOW")


def unreadable(sql: str, exc: SqlglotError) -> Invalid:
    """`invalid_sql`, in Charter's words: where the text could not be read, never the
    parser's own message (which names its classes)."""
    first = sql.split(None, 1)[0] if sql.strip() else ""
    if first and not first.upper().startswith(_STARTS):
        return Invalid(f"the SQL could not be read: a query starts with SELECT (or WITH), "
                       f"not {first[:40]!r}", code="invalid_sql", line=1, column=1)
    found = (getattr(exc, "errors", None) or [{}])[0]
    line, column = found.get("line"), found.get("col")
    if line is None:  # the tokenizer's: the text has no words, such as an open quote
        return Invalid("the SQL could not be read: check that every quote, bracket and "
                       "comment is closed", code="invalid_sql")
    near = str(found.get("highlight") or "")[:40]
    return Invalid(f"the SQL could not be read at line {line}, column {column}"
                   + (f", near {near!r}" if near else "") + ": check the words and "
                   "punctuation up to there", code="invalid_sql", line=line, column=column)


@dataclass
class ParsedQuery:
    tree: exp.Expression
    tables: list[tuple[str, str]] = field(default_factory=list)  # (database, table), unique
    size: int = 0  # characters of the query text
    kept: bool = False  # shared by every query of its text: rewrite a copy


# What is kept by query text is kept per caller (another caller's query must not make
# yours faster: the time would tell what they ran), and bounded by the total length of
# the texts (a parse tree takes up to a few hundred bytes per character of its query).
Scope = Hashable
_KEPT_TEXT = 8_000  # longer queries are parsed and prepared each time
_PARSE_BUDGET = 250_000  # characters of query text behind the kept parse trees
_PREPARE_BUDGET = 1_000_000  # characters of rewritten SQL kept


def parse(sql: str, scope: Scope = None) -> ParsedQuery:
    """Parse and check user SQL; raise `query_refused` for anything but a plain query.
    Accepted queries are kept by (`scope`, text): parsing is a pure function of the
    text, so the tree returned may be shared: read it, and rewrite a copy (`prepare`
    does)."""
    if len(sql) > _KEPT_TEXT:
        return _checked_parse(sql)
    return _kept_parse(scope, sql)


@cached(cache=LRUCache(maxsize=_PARSE_BUDGET, getsizeof=lambda parsed: parsed.size),
        key=lambda scope, sql: (scope, sql), lock=threading.Lock())
def _kept_parse(scope: Scope, sql: str) -> ParsedQuery:
    parsed = _checked_parse(sql)
    parsed.kept = True
    return parsed


def _checked_parse(sql: str) -> ParsedQuery:
    try:
        parsed = _parse(sql)
        parsed.size = len(sql)
        return parsed
    except RecursionError:
        raise refused("the query is nested too deeply") from None


def _parse(sql: str) -> ParsedQuery:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except SqlglotError as exc:
        raise unreadable(sql, exc) from None
    if len(statements) != 1:
        raise refused("send exactly one statement")
    tree = statements[0]
    while isinstance(tree, exp.Subquery) and not any(
            v for k, v in tree.args.items() if k != "this"):
        tree = tree.this  # (query) is the query: the engine would fold its WITH into ours
    if isinstance(tree, exp.Subquery):
        raise refused("write the query without parentheses around the whole of it")
    if not isinstance(tree, exp.Query):
        raise refused(f"only queries are allowed, not {tree.key.upper()}")
    for node in tree.walk():
        if isinstance(node, _DENIED_NODES):
            raise refused(f"{node.key.upper()} is not allowed in a query")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name.startswith(DENIED_PREFIXES) or name in DENIED_FUNCTIONS:
                raise refused(f"function {name} is not allowed")
        if isinstance(node, exp.Identifier) and node.name.lower().startswith(RESERVED):
            raise refused(f"names starting with {RESERVED} are reserved")
    parsed = ParsedQuery(tree)
    _resolve(tree, frozenset(), parsed)
    return parsed


def _resolve(node: exp.Expression, ctes: frozenset[str], parsed: ParsedQuery) -> None:
    """Check every table reference under `node`, where the CTE names `ctes` are in scope."""
    if isinstance(node, exp.Table):
        _table(node, ctes, parsed)
    with_ = next((c for c in node.iter_expressions() if isinstance(c, exp.With)), None)
    if with_ is not None:
        recursive = bool(with_.args.get("recursive"))
        for cte in with_.expressions:
            name = cte.alias_or_name
            if not _CTE_NAME.fullmatch(name):
                raise refused(f"name CTEs with plain identifiers, not {name!r}")
            _cte_body(cte.this, ctes, name.lower(), recursive, parsed)
            ctes = ctes | {name.lower()}
    for child in node.iter_expressions():
        if child is not with_ and not (isinstance(node, exp.Table) and child is node.this):
            _resolve(child, ctes, parsed)


def _cte_body(body: exp.Expression, ctes: frozenset[str], name: str, recursive: bool,
              parsed: ParsedQuery) -> None:
    """A CTE's own name is in scope only in the recursive term of a recursive CTE: the
    right side of its top UNION. Anywhere else the engine would look the name up in its
    catalog instead."""
    if not (recursive and isinstance(body, exp.Union)):
        _resolve(body, ctes, parsed)
        return
    if any(isinstance(c, exp.With) for c in body.iter_expressions()):
        raise refused("a WITH inside a recursive CTE is not supported")
    for child in body.iter_expressions():
        _resolve(child, ctes | {name} if child is body.expression else ctes, parsed)


def _table(table: exp.Table, ctes: frozenset[str], parsed: ParsedQuery) -> None:
    if not isinstance(table.this, exp.Identifier) or table.args.get("catalog"):
        raise refused("only catalog tables (database.table) can be queried")
    if not table.db:
        if not _CTE_NAME.fullmatch(table.name) or table.name.lower() not in ctes:
            raise refused(f"name tables as database.table, not {table.name!r} (a one-part "
                          "name must be a CTE in scope)")
        return
    key = (table.db.lower(), table.name.lower())
    if key not in parsed.tables:
        parsed.tables.append(key)


Table = tuple[str, str]  # (database, table)
# A row-filtered table's facts for pushing: DuckDB type by column, and the columns shown
# as they are (see `pushable`).
Facts = tuple[tuple[tuple[str, str], ...], frozenset[str]]


@dataclass(frozen=True)
class Prepared:
    """A query ready for the engine: `sql` over the views, and for each row-filtered
    table the conjuncts its view runs instead (`pushed`); `guard`: whether the views
    must hide hidden rows' values from predicates (see `only_safe_filters`)."""
    sql: str
    pushed: dict[Table, list[str]]
    guard: bool


def prepare(sql: str, views: tuple[tuple[Table, str], ...],
            facts: tuple[tuple[Table, Facts], ...], scope: Scope = None, *,
            parsed: ParsedQuery | None = None) -> Prepared:
    """`sql` (accepted by `parse`) rewritten over `views` (table -> view name), with the
    safe conjuncts on the row-filtered tables of `facts` pushed into their views. A pure
    function of its arguments, kept per `scope` for repeated queries. `parsed`: what
    `parse` returned for `sql`, if the caller has it; a long text is kept by neither, and
    its tree, this query's own, is rewritten in place rather than parsed again."""
    if len(sql) > _KEPT_TEXT:
        return _prepare(parsed or parse(sql, scope), views, facts)
    return _kept_prepare(sql, views, facts, scope)


@cached(cache=LRUCache(maxsize=_PREPARE_BUDGET, getsizeof=lambda done: len(done.sql)),
        key=lambda sql, views, facts, scope: (scope, sql, views, facts),
        lock=threading.Lock())
def _kept_prepare(sql: str, views: tuple[tuple[Table, str], ...],
                  facts: tuple[tuple[Table, Facts], ...], scope: Scope) -> Prepared:
    return _prepare(parse(sql, scope), views, facts)


def _prepare(given: ParsedQuery, views: tuple[tuple[Table, str], ...],
             facts: tuple[tuple[Table, Facts], ...]) -> Prepared:
    # Copying a big tree costs as much as parsing it: copy only a tree others share.
    parsed = ParsedQuery(given.tree.copy() if given.kept else given.tree, list(given.tables))
    pushed = {table: pushable(parsed, table, dict(types), set(columns))
              for table, (types, columns) in facts}
    guard = not only_safe_filters(parsed, pushed)
    rewritten = _rewrite(parsed, dict(views), [p for ps in pushed.values() for p in ps])
    return Prepared(rewritten, {t: [p.sql for p in ps] for t, ps in pushed.items()}, guard)


def _rewrite(parsed: ParsedQuery, views: dict[tuple[str, str], str],
             pushed: Iterable[Pushed] = ()) -> str:
    """The query with each catalog table replaced by its governed view, as DuckDB SQL
    (the parsed tree, a copy, is rewritten in place). Conjuncts `pushed` into the views
    leave the query's WHERE: the view's rows all pass them already, with the same values
    (a pushed column is shown as it is), so DuckDB need not test them twice."""
    try:
        _drop(pushed)
        return _swap_tables(parsed, views)
    except RecursionError:
        raise refused("the query is nested too deeply") from None


def _drop(pushed: Iterable[Pushed]) -> None:
    gone = {id(p.node) for p in pushed}
    wheres = {id(w): w for p in pushed if isinstance(w := p.node.parent_select, exp.Select)
              and (w := w.args.get("where")) is not None}
    for where in wheres.values():
        kept = [c for c in _conjuncts(where) if id(c) not in gone]
        if kept:
            where.set("this", exp.and_(*kept, copy=False))
        else:
            where.pop()


def _swap_tables(parsed: ParsedQuery, views: dict[tuple[str, str], str]) -> str:
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.db:
            view = node.copy()
            view.set("this", exp.to_identifier(views[(node.db.lower(), node.name.lower())]))
            view.set("db", None)
            if not node.alias:  # `bank.customers.id` and `customers.id` still resolve
                view.set("alias", exp.TableAlias(this=exp.to_identifier(node.name)))
            return view
        return node

    # The tree is this query's own (see `_prepare`): the generator need not copy it first.
    return parsed.tree.transform(swap, copy=False).sql(dialect="duckdb", comments=False,
                                                       copy=False)


# -- predicates safe to evaluate on every row --------------------------------------------

_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_FLOATS = ("FLOAT", "DOUBLE")
_SMALL_INTEGER = re.compile(r"[0-9]{1,18}")
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


@dataclass(frozen=True)
class Pushed:
    """A conjunct of the query's WHERE (`node`, in the parsed tree) that the table's view
    runs instead, as `sql` over the table's raw columns."""
    node: exp.Expression
    sql: str


def pushable(parsed: ParsedQuery, table: tuple[str, str], types: dict[str, str],
             columns: set[str]) -> list[Pushed]:
    """Conjuncts of the query that may run on every row of `table`, hidden rows included,
    as DuckDB SQL over its raw columns: the table is read once, alone in its SELECT, and
    each conjunct compares one of `columns` (unmasked, granted) with literals of its own
    type (=, <>, <, <=, >, >=, IN, BETWEEN, IS [NOT] NULL). Such a comparison cannot fail
    on any value, so running it before the row filter tells nothing about hidden rows;
    it lets DuckDB filter inside the scan again. `types`: column -> DuckDB type."""
    refs = [t for t in parsed.tree.find_all(exp.Table)
            if t.db and (t.db.lower(), t.name.lower()) == table]
    if len(refs) != 1 or not isinstance(refs[0].parent, exp.From):
        return []
    table_alias = refs[0].args.get("alias")
    if table_alias is not None and table_alias.columns:  # AS t(a, b) renames columns
        return []
    select = refs[0].parent.parent
    if not isinstance(select, exp.Select) or select.args.get("joins") or \
            select.args.get("laterals") or not select.args.get("where"):
        return []
    alias = refs[0].alias_or_name.lower()
    out = []
    for conjunct in _conjuncts(select.args["where"]):
        rendered = _safe(conjunct, alias, types, columns)
        if rendered is not None:
            out.append(Pushed(conjunct, rendered))
    return out


def _conjuncts(where: exp.Where) -> list[exp.Expression]:
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


def only_safe_filters(parsed: ParsedQuery,
                      pushed: dict[tuple[str, str], list[Pushed]]) -> bool:
    """Whether every filter in the query is a WHERE of one catalog table alone whose
    conjuncts were all pushed (`pushed`: table -> its pushed conjuncts). Then nothing
    DuckDB may run inside a scan can fail on a hidden row, and the views need not hide
    those rows' values from predicates."""
    for node in parsed.tree.walk():
        if isinstance(node, exp.Having | exp.Qualify):
            return False
        if isinstance(node, exp.Join):  # ON, USING, NATURAL, ASOF: conditions of their own
            return False
        if isinstance(node, exp.Where):
            source = node.parent.args.get("from_") if isinstance(node.parent, exp.Select) \
                else None
            table = source.this if isinstance(source, exp.From) else None
            if not isinstance(table, exp.Table) or not table.db:
                return False
            key = (table.db.lower(), table.name.lower())
            if len(pushed.get(key, [])) != len(_conjuncts(node)):
                return False
    return True


def _safe(node: exp.Expression, alias: str, types: dict[str, str],
          columns: set[str]) -> str | None:
    node = node.unnest()
    if isinstance(node, exp.Not) and isinstance(node.this.unnest(), exp.Is):
        inner = _safe(node.this, alias, types, columns)
        return f"NOT ({inner})" if inner else None
    if isinstance(node, exp.Is):
        column = _column(node.this, alias, columns)
        ok = column is not None and isinstance(node.expression, exp.Null)
    elif isinstance(node, _COMPARISONS):
        left, right = node.this, node.expression
        if isinstance(left, exp.Literal | exp.Neg) and isinstance(right, exp.Column):
            left, right = right, left
        column = _column(left, alias, columns)
        ok = column is not None and _literal(right, types.get(column, ""))
    elif isinstance(node, exp.In):
        column = _column(node.this, alias, columns)
        ok = (column is not None and not node.args.get("query") and
              not node.args.get("unnest") and bool(node.expressions) and
              all(_literal(e, types.get(column, "")) for e in node.expressions))
    elif isinstance(node, exp.Between):
        column = _column(node.this, alias, columns)
        ok = column is not None and all(
            _literal(node.args.get(k), types.get(column, "")) for k in ("low", "high"))
    else:
        return None
    if not ok:
        return None
    raw = node.copy()
    for col in raw.find_all(exp.Column):
        col.set("table", None)
        col.set("db", None)
    return raw.sql(dialect="duckdb", identify=True, copy=False)


def _column(node: exp.Expression, alias: str, columns: set[str]) -> str | None:
    if not isinstance(node, exp.Column) or node.args.get("db"):
        return None
    if node.table and node.table.lower() != alias:
        return None
    return node.name if node.name in columns else None


def _literal(node: exp.Expression | None, kind: str) -> bool:
    """A literal the engine compares with a column of type `kind` without casting the
    column's values to a type some of them may not fit (a per-row failure would tell
    a hidden row's value): integers of at most 18 digits with integer columns, any
    number with floating-point columns, strings with strings. Never DECIMAL columns."""
    if isinstance(node, exp.Neg):
        node = node.this
        if not (isinstance(node, exp.Literal) and not node.is_string):
            return False
    if not isinstance(node, exp.Literal):
        return False
    if kind in _INTEGERS:
        return not node.is_string and bool(_SMALL_INTEGER.fullmatch(node.this))
    if kind in _FLOATS:
        return not node.is_string
    if kind == "VARCHAR":
        return node.is_string
    return False
