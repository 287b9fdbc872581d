"""Lake access policies: which columns, rows and cells of a table a grant exposes, checked
on creation and turned into a governed view. Row filters are parsed and re-rendered with
sqlglot, never pasted as text.

A grant's policy is an `AccessPolicy`. Several grants of one principal combine as a union
of cells: a cell shows when some grant covers both its column and its row, as that grant
masks it (the least masking one wins). The union keeps each grant in `any_of`, beside the
columns and rows any of them covers; pairing one grant's columns with another's rows
would show cells neither grants. A share and the consumer's onward grants combine as an
intersection, grant by grant.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from charter.errors import Invalid

MASK_KINDS = "null, constant, hash, lastN (e.g. last4)"
_MASK = re.compile(r"null|constant|hash|last([1-9][0-9]?)")
_FILTER_FUNCS = {"lower", "upper", "abs", "coalesce", "length", "trim", "year", "month",
                 "day", "date_trunc"}


@dataclass(frozen=True)
class AccessPolicy:
    """What a grant, or several grants together, expose of a table.

    `columns`: the columns shown (None: all); `row_filter`: canonical DuckDB SQL of the
    rows shown (None: all); `masks`: column -> mask kind; `tags`: a tag grant's
    expression, which chooses its columns table by table; `any_of`: the grants a union
    was made of, each applied as itself (the fields above then outline them all).
    """

    columns: tuple[str, ...] | None = None
    row_filter: str | None = None
    masks: Mapping[str, str] = field(default_factory=dict)
    tags: str | None = None
    any_of: tuple[AccessPolicy, ...] = ()

    def __post_init__(self) -> None:
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "masks", MappingProxyType(dict(self.masks)))
        object.__setattr__(self, "any_of", tuple(self.any_of))

    def __hash__(self) -> int:
        return hash((self.columns, self.row_filter, tuple(sorted(self.masks.items())),
                     self.tags, self.any_of))

    @property
    def parts(self) -> tuple[AccessPolicy, ...]:
        """The grants this policy applies one by one: itself, or those of a union."""
        return self.any_of or (self,)

    def shows(self, column: str) -> bool:
        return self.columns is None or column in self.columns

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccessPolicy:
        """A grant's policy as the catalog stores it."""
        return cls(columns=data["columns"], row_filter=data["row_filter"],
                   masks=data["masks"], tags=data.get("tags"))

    def to_json(self) -> dict[str, Any]:
        """As the catalog stores a grant's policy (a single grant's, never a union)."""
        if self.any_of:
            raise ValueError("a union of grants is not stored")
        data: dict[str, Any] = {"columns": None if self.columns is None else
                                list(self.columns),
                                "row_filter": self.row_filter, "masks": dict(self.masks)}
        if self.tags is not None:
            data["tags"] = self.tags
        return data


def _invalid(message: str, code: str = "invalid_grant") -> Invalid:
    return Invalid(message, code=code)


def make_policy(columns: list[str], *, include: list[str] | None, exclude: list[str] | None,
                row_filter: str | None, masks: dict[str, str]) -> AccessPolicy:
    """Check a grant's column list, row filter and masks against the table's columns."""
    known = set(columns)
    if include and exclude:
        raise _invalid("give either columns or excluded columns, not both")
    for name in [*(include or []), *(exclude or []), *masks]:
        if name not in known:
            raise _invalid(f"the table has no column {name!r}", code="unknown_column")
    visible = include or ([c for c in columns if c not in set(exclude)] if exclude else None)
    if visible is not None and not visible:
        raise _invalid("the grant would expose no column")
    check_masks(masks)
    for name in masks:
        if visible is not None and name not in visible:
            raise _invalid(f"column {name} is masked but not granted")
    return AccessPolicy(columns=tuple(c for c in columns if c in visible) if visible else None,
                        row_filter=parse_filter(row_filter, known) if row_filter else None,
                        masks=masks)


def whole_tables(masks: dict[str, str], row_filter: str | None, *,
                 tags: str | None = None) -> AccessPolicy:
    """The policy of a grant on whole tables (every table of a database, or every table
    with columns whose tags match `tags`): masks and a row filter, checked against no
    table yet, apply to each table that has the columns they name (see `fit`)."""
    return AccessPolicy(masks=check_masks(masks), tags=tags,
                        row_filter=parse_filter(row_filter, None) if row_filter else None)


def parse_filter(text: str, columns: set[str] | None) -> str:
    """A boolean expression over the table's columns, literals and a few functions
    (`columns` None: any plain column name, checked per table when the grant applies)."""
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except SqlglotError as exc:
        raise _invalid(f"invalid row filter: {str(exc).splitlines()[0][:200]}",
                       code="invalid_row_filter") from None
    if isinstance(tree, exp.Query) or any(isinstance(n, exp.Query | exp.Subquery | exp.Star)
                                          for n in tree.walk()):
        raise _invalid("a row filter is an expression, not a query", code="invalid_row_filter")
    for node in tree.walk():
        if isinstance(node, exp.Func) and not isinstance(node, exp.Binary | exp.Connector):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name not in _FILTER_FUNCS and not isinstance(node, exp.Cast | exp.Coalesce):
                raise _invalid(f"function {name} is not allowed in a row filter",
                               code="invalid_row_filter")
        if isinstance(node, exp.Column) and (
                node.table or (columns is not None and node.name not in columns)):
            raise _invalid(f"the row filter names {node.sql()!r}, which is not a column "
                           "of the table", code="invalid_row_filter")
    if not isinstance(tree, exp.Predicate | exp.Connector | exp.Not | exp.Paren | exp.Boolean):
        raise _invalid("a row filter must be true or false for each row, e.g. region = 'EU'",
                       code="invalid_row_filter")
    return tree.sql(dialect="duckdb", identify=True)


def union(policies: list[AccessPolicy]) -> AccessPolicy:
    """What several grants to one principal expose together."""
    parts = [q for p in policies for q in p.parts]
    if len(parts) == 1:
        return parts[0]
    return _outline(parts)


def _outline(parts: list[AccessPolicy]) -> AccessPolicy:
    """The columns and rows some of `parts` cover, and the masks all covering ones share
    (what listings and the audit trail show), keeping `parts` to apply one by one."""
    if any(p.columns is None for p in parts):
        columns = None
    else:
        columns = tuple(sorted({c for p in parts for c in p.columns or ()}))
    filters = [p.row_filter for p in parts]
    row_filter = None if None in filters else " OR ".join(f"({f})" for f in filters)
    masks: dict[str, str] = {}
    for part in parts:
        for column, kind in part.masks.items():
            exposing = [p for p in parts if p.shows(column)]
            if all(column in p.masks for p in exposing):
                masks.setdefault(column, kind)
    return AccessPolicy(columns=columns, row_filter=row_filter, masks=masks, any_of=tuple(parts))


def intersect(share: AccessPolicy, onward: AccessPolicy) -> AccessPolicy:
    """An onward grant never exposes more than the share it came from."""
    if onward.any_of:
        return union([intersect(share, p) for p in onward.any_of])
    if share.columns is None:
        columns = onward.columns
    elif onward.columns is None:
        columns = share.columns
    else:
        columns = tuple(c for c in share.columns if c in onward.columns)
    filters = [f for f in (share.row_filter, onward.row_filter) if f]
    return AccessPolicy(columns=columns,
                        row_filter=" AND ".join(f"({f})" for f in filters) or None,
                        masks={**onward.masks, **share.masks})


def within(share: AccessPolicy, onward: AccessPolicy) -> bool:
    """Whether an onward grant asks for no more columns and no fewer masks than the share."""
    if share.columns is not None and (
            onward.columns is None or not set(onward.columns) <= set(share.columns)):
        return False
    return all(onward.masks.get(c) == kind for c, kind in share.masks.items()
               if onward.shows(c))


def view_sql(policy: AccessPolicy | None, columns: list[str], source: str,
             pushed: list[str] | None = None, *, guard: bool = True,
             hash_key: str = "") -> str:
    """DuckDB SQL of the governed view of `source` (the table's data) under `policy`.
    `pushed`: the query's own conjuncts that are safe on every row (see
    `_sql.pushable`), added to the view's WHERE so DuckDB filters inside the scan.
    `guard`: hide hidden rows' values from predicates DuckDB may run inside the scan
    (False only when the query has no predicate but pushed ones). `hash_key`: the
    platform's secret that hash masks mix in (hex; see `_common.hash_mask_key`)."""
    if policy is None:
        return f"SELECT * FROM {source}"
    parts = policy.parts
    exprs = [f"{_cell(c, parts, guard, hash_key)} AS {_quoted(c)}" for c in columns
             if any(p.shows(c) for p in parts)]
    sql = f"SELECT {', '.join(exprs)} FROM {source}"
    conditions = [policy.row_filter] if policy.row_filter else []
    conditions += [f"({p})" for p in pushed or []]
    if conditions:
        sql += f" WHERE {' AND '.join(conditions)}"
    return sql


def unmasked(policy: AccessPolicy | None, columns: list[str]) -> set[str]:
    """Columns a single-grant policy shows as they are (none for a union of grants,
    whose cells differ grant by grant)."""
    if policy is None:
        return set(columns)
    if policy.any_of:
        return set()
    visible = policy.columns or columns
    return {c for c in visible if c not in policy.masks}


def _cell(column: str, parts: tuple[AccessPolicy, ...], guard: bool, hash_key: str) -> str:
    """A column's value on a row: as the least masking grant covering the column and the
    row shows it; NULL where no grant covering the column covers the row."""
    covering = sorted((p for p in parts if p.shows(column)),
                      key=lambda p: _masking(p.masks.get(column)))
    if not guard and len(parts) == 1:  # the view's WHERE is this grant's row filter
        return _mask(column, parts[0].masks.get(column), hash_key)
    # Masks turn values into text: where some grant masks the column, unmasked values
    # read as text too, so one column has one type.
    as_text = any(p.masks.get(column) not in (None, "null") for p in covering)
    branches: list[tuple[str, str]] = []
    for part in covering:
        value = _mask(column, part.masks.get(column), hash_key)
        if as_text and part.masks.get(column) is None:
            value = f"CAST({value} AS VARCHAR)"
        if not part.row_filter:  # every row: earlier branches matter if they differ
            branches = [(f, v) for f, v in branches if v != value]
            if not branches:
                return value
            return f"CASE {_when(branches)} ELSE {value} END"
        branches.append((part.row_filter, value))
    # Rows outside every covering grant read NULL: a predicate DuckDB evaluates inside
    # the scan, before the view's WHERE, never sees a hidden row's value.
    return f"CASE {_when(branches)} ELSE NULL END"


def _when(branches: list[tuple[str, str]]) -> str:
    return " ".join(f"WHEN {condition} THEN {value}" for condition, value in branches)


def _masking(kind: str | None) -> tuple[int, int]:
    """How much a mask hides: none, then lastN (more kept first), hash, constant, null."""
    if kind is None:
        return (0, 0)
    if kind.startswith("last"):
        return (1, -int(kind[4:]))
    return ({"hash": 2, "constant": 3, "null": 4}[kind], 0)


@functools.lru_cache(maxsize=4096)  # a few per column of every view of every query
def _quoted(column: str) -> str:
    return exp.column(column, quoted=True).sql(dialect="duckdb")


def _mask(column: str, kind: str | None, hash_key: str) -> str:
    col = _quoted(column)
    if kind is None:
        return col
    if kind == "null":  # NULL of the column's type (a bare NULL reads as Arrow's null type)
        return f"(CASE WHEN FALSE THEN {col} END)"
    if kind == "constant":
        return "'****'"
    if kind == "hash":  # keyed: equal values hash alike, but no one can hash a guess
        if not re.fullmatch(r"[0-9a-f]{32,}", hash_key):
            raise ValueError("a hash mask needs the platform's hash key")
        return f"sha256('{hash_key}' || CAST({col} AS VARCHAR))"
    keep = int(kind[4:])
    text = f"CAST({col} AS VARCHAR)"
    return (f"CASE WHEN {col} IS NULL THEN NULL ELSE repeat('*', greatest(length({text}) - "
            f"{keep}, 0)) || right({text}, {keep}) END")


def filter_columns(row_filter: str) -> set[str]:
    """The columns a (canonical) row filter names."""
    return {c.name for c in sqlglot.parse_one(row_filter, read="duckdb").find_all(exp.Column)}


def check_masks(masks: Mapping[str, str]) -> dict[str, str]:
    for name, kind in masks.items():
        if not _MASK.fullmatch(kind):
            raise _invalid(f"unknown mask {kind!r} for {name}: use {MASK_KINDS}")
    return dict(masks)


def covers(row_filter: str | None, columns: list[str]) -> bool:
    """Whether a whole-table grant's row filter can apply to a table with `columns`: a
    table without the columns it names is not covered (never shown unfiltered)."""
    return not row_filter or filter_columns(row_filter) <= set(columns)


def fit(policy: AccessPolicy, columns: list[str],
        visible: list[str] | None = None) -> AccessPolicy | None:
    """A whole-table grant's policy on one table with `columns`: only the `visible`
    columns (all: None) and masks of the columns it shows; None if its row filter names a
    column the table lacks (the grant then does not cover the table)."""
    if not covers(policy.row_filter, columns):
        return None
    shown = set(columns if visible is None else visible)
    return AccessPolicy(columns=None if visible is None else tuple(visible),
                        row_filter=policy.row_filter,
                        masks={c: k for c, k in policy.masks.items() if c in shown})
