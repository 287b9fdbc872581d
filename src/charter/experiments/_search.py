"""Search runs: MLflow's filter and order-by grammar, parsed with sqlglot and compiled to
SQLAlchemy over the indexed tables; paging by an opaque token. Nothing is filtered or
ordered in Python.

Filter: comparisons joined by AND. `metrics.<key>` against a number (=, !=, <, <=, >, >=);
`params.<key>` and `tags.<key>` against a string (=, !=, LIKE, ILIKE, IN, NOT IN);
`attributes.<name>` for run_id, run_name, status, user_id (strings) and start_time,
end_time (numbers). A key with dots or spaces is quoted: `tags."mlflow.runName"`,
metrics.`my metric`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlalchemy import ColumnElement, and_, false, func, literal, select
from sqlglot import exp, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError, TokenError

from charter.core.text import escaped
from charter.errors import Invalid
from charter.experiments.orm import TAG_INDEXED, LatestMetric, Param, Run, RunTag


class MlflowFilter(Dialect):
    """MLflow's quoting: identifiers in double quotes or backticks, strings in single."""

    class Tokenizer(tokens.Tokenizer):
        IDENTIFIERS = ['"', "`"]
        QUOTES = ["'"]


_ENTITIES = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
}
_STRING_ATTRIBUTES = {"run_id": Run.id, "run_name": Run.name, "status": Run.status,
                      "user_id": Run.user}
_NUMBER_ATTRIBUTES = {"start_time": Run.start_time, "end_time": Run.end_time,
                      "created": Run.start_time}
_NUMBER_OPS: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.EQ: lambda c, v: c == v, exp.NEQ: lambda c, v: c != v, exp.GT: lambda c, v: c > v,
    exp.GTE: lambda c, v: c >= v, exp.LT: lambda c, v: c < v, exp.LTE: lambda c, v: c <= v,
}
_OP_TEXT = {exp.EQ: "=", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<",
            exp.LTE: "<=", exp.Like: "LIKE", exp.ILike: "ILIKE", exp.In: "IN"}
MAX_TERMS = 50


def _invalid(problem: str) -> Invalid:
    return Invalid(f"invalid search filter: {problem}", code="invalid_filter")


@dataclass(frozen=True)
class _Ref:
    entity: str  # metric | param | tag | attribute
    key: str

    @property
    def shown(self) -> str:
        return f"{self.entity}s.{self.key}" if self.entity != "attribute" \
            else f"attributes.{self.key}"


# A comparison of a filter: (operator, what it compares, the value or values).
Term = tuple[type[exp.Expression], _Ref, Any]


def _ref(node: exp.Expression, where: str) -> _Ref:
    if not isinstance(node, exp.Column):
        raise _invalid(f"{where} must name metrics.KEY, params.KEY, tags.KEY or "
                       f"attributes.NAME, not {node.sql()!r}")
    parts = [p.name for p in node.parts]
    if len(parts) < 2 or parts[0].lower() not in _ENTITIES:
        raise _invalid(f"{node.sql()!r} names no known kind: write metrics.KEY, params.KEY, "
                       "tags.KEY or attributes.NAME")
    return _Ref(_ENTITIES[parts[0].lower()], ".".join(parts[1:]))


def _value(node: exp.Expression) -> str | float:
    if isinstance(node, exp.Paren):
        return _value(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) \
            and not node.this.is_string:
        return -float(node.this.this)
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else float(node.this)
    raise _invalid(f"{node.sql()!r} is not a value: quote strings as 'text', write numbers "
                   "as digits")


def parse_filter(text: str) -> list[Term]:
    """The filter's comparisons as (operator, reference, value), or `invalid_filter`."""
    if not text.strip():
        return []
    try:
        tree = sqlglot.parse_one(text, read=MlflowFilter)
    except (SqlglotError, RecursionError) as exc:
        raise _invalid(_parse_problem(exc)) from None
    terms: list[exp.Expression] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.And):
            stack.extend([node.expression, node.this])
        elif isinstance(node, exp.Paren):
            stack.append(node.this)
        else:
            terms.append(node)
        if len(terms) > MAX_TERMS:
            raise _invalid(f"it has more than {MAX_TERMS} comparisons")
    return [_term(t) for t in terms]


_MISSING = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*\.(\w+)'>")
_WORDS = {"And": "AND", "Not": "NOT", "In": "IN", "Neg": "-", **{
    k.__name__: v for k, v in _OP_TEXT.items()}}


def _parse_problem(exc: BaseException) -> str:
    """What is wrong with a filter that does not parse, in the filter's own terms: where,
    and what is missing there (never the parser's names for its parts)."""
    if isinstance(exc, RecursionError):
        return "it nests parentheses too deeply"
    if isinstance(exc, TokenError):
        return "a quote is not closed: quote strings as 'text' and keys as `key` or \"key\""
    errors = getattr(exc, "errors", None) or [{}]
    first = errors[0]
    where = f" at column {first['col']}" if first.get("col") else ""
    near = escaped(str(first.get("highlight") or "")[:50])
    missing = _MISSING.fullmatch(str(first.get("description", "")))
    if missing:
        word = _WORDS.get(missing[1])
        if word:
            return f"{word}{where} needs something after it: a value, or a comparison"
    if str(first.get("description", "")).startswith("Expecting )"):
        return f"a parenthesis is not closed{where}"
    return f"it does not parse{where}" + (f", near {near!r}" if near else "") + \
        ": write comparisons such as metrics.acc > 0.8, joined by AND"


def _term(node: exp.Expression) -> Term:
    negated = isinstance(node, exp.Not) and isinstance(node.this, exp.In)
    inner = node.this if negated else node
    if isinstance(inner, exp.Or):
        raise _invalid("conditions are joined with AND only")
    if isinstance(inner, exp.In):
        ref = _ref(inner.this, "the left side of IN")
        if inner.args.get("query") or not inner.expressions:
            raise _invalid(f"IN takes a list of values: {ref.shown} IN ('a', 'b')")
        values = [_value(v) for v in inner.expressions]
        if not all(isinstance(v, str) for v in values):
            raise _invalid(f"IN compares {ref.shown} with strings")
        return (exp.Not if negated else exp.In), ref, values
    op = type(inner)
    if op not in _OP_TEXT:
        raise _invalid(f"{inner.sql()!r} is not a comparison MLflow's grammar has: use =, "
                       "!=, <, <=, >, >=, LIKE, ILIKE, IN or NOT IN")
    ref = _ref(inner.this, "the left side of a comparison")
    return op, ref, _value(inner.expression)


def _string_condition(column: Any, op: type[exp.Expression], ref: _Ref, value: Any,
                      dialect: str) -> ColumnElement[bool]:
    if op in (exp.In, exp.Not):
        return column.in_(value) if op is exp.In else column.not_in(value)
    if not isinstance(value, str):
        raise _invalid(f"{ref.shown} is compared with strings: quote the value as 'text'")
    if op is exp.EQ:
        return column == value
    if op is exp.NEQ:
        return column != value
    if op in (exp.Like, exp.ILike):
        # MLflow's LIKE has % and _ and no escape character, and is case-sensitive. SQLite:
        # GLOB (its case-sensitive match, where a backslash is plain), ILIKE over
        # unicode_lower (core.db), which folds case beyond ASCII as PostgreSQL's lower()
        # does. PostgreSQL: its LIKE, with its escape character made plain.
        if op is exp.ILike:
            column, value = func.unicode_lower(column) if dialect == "sqlite" \
                else func.lower(column), value.lower()
        if dialect == "sqlite":
            return column.op("GLOB")(_glob(value))
        return column.like(value.replace("\\", "\\\\"), escape="\\")
    raise _invalid(f"{ref.shown} takes =, !=, LIKE, ILIKE, IN and NOT IN, not {_OP_TEXT[op]}")


def _glob(like: str) -> str:
    """A LIKE pattern as the GLOB pattern that matches the same strings."""
    special = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(special.get(c, c) for c in like)


def number_condition(column: Any, op: type[exp.Expression], ref: _Ref,
                      value: Any) -> ColumnElement[bool]:
    if op not in _NUMBER_OPS:
        raise _invalid(f"{ref.shown} is a number: compare it with =, !=, <, <=, > or >=")
    if isinstance(value, str):
        raise _invalid(f"{ref.shown} is a number: compare it with a number, not "
                       f"{value[:50]!r}")
    return _NUMBER_OPS[op](column, value)


def filter_conditions(terms: list[Term], dialect: str) -> list[ColumnElement[bool]]:
    """The filter's terms (`parse_filter`) as SQL conditions on `Run`: EXISTS over the
    indexed tables."""
    conditions = []
    for op, ref, value in terms:
        if ref.entity == "metric":
            cond = number_condition(LatestMetric.value, op, ref, value)
            conditions.append(select(literal(1)).where(
                LatestMetric.run_id == Run.id, LatestMetric.key == ref.key,
                LatestMetric.is_nan == false(), cond).exists())
        elif ref.entity == "param":
            cond = _string_condition(Param.value, op, ref, value, dialect)
            conditions.append(select(literal(1)).where(
                Param.run_id == Run.id, Param.key == ref.key, cond).exists())
        elif ref.entity == "tag":
            cond = _string_condition(RunTag.value, op, ref, value, dialect)
            if op is exp.EQ:  # the (key, value prefix) index answers it
                cond = and_(func.substr(RunTag.value, 1, TAG_INDEXED) == value[:TAG_INDEXED],
                            cond)
            conditions.append(select(literal(1)).where(
                RunTag.run_id == Run.id, RunTag.key == ref.key, cond).exists())
        elif ref.key in _STRING_ATTRIBUTES:
            conditions.append(_string_condition(_STRING_ATTRIBUTES[ref.key], op, ref, value,
                                                dialect))
        elif ref.key in _NUMBER_ATTRIBUTES:
            conditions.append(number_condition(_NUMBER_ATTRIBUTES[ref.key], op, ref, value))
        else:
            known = ", ".join(sorted({*_STRING_ATTRIBUTES, *_NUMBER_ATTRIBUTES}))
            raise _invalid(f"unknown attribute {ref.key!r}; attributes are {known}")
    return conditions


@dataclass(frozen=True)
class OrderKey:
    """One key of an `order_by`: what to order by, and which way."""

    ref: _Ref
    descending: bool


_ORDER = re.compile(r"(?P<ref>.*?)(?:\s+(?P<direction>ASC|DESC))?\s*", re.IGNORECASE | re.DOTALL)
ALL_ATTRIBUTES = {**_STRING_ATTRIBUTES, **_NUMBER_ATTRIBUTES}


def _invalid_order(clause: str, problem: str = "") -> Invalid:
    return Invalid(f"invalid order_by {clause[:200]!r}: {problem or 'write'} "
                   "`metrics.KEY DESC`, `params.KEY` or `attributes.start_time ASC`",
                   code="invalid_order_by")


def parse_order(clause: str) -> OrderKey:
    """`<entity>.<key> [ASC|DESC]` and nothing else (MLflow's order_by grammar)."""
    match = _ORDER.fullmatch(clause.strip())
    try:
        node = sqlglot.parse_one(match["ref"], read=MlflowFilter) if match else None
    except (SqlglotError, RecursionError):
        node = None
    if not isinstance(node, exp.Column):
        raise _invalid_order(clause)
    try:
        ref = _ref(node, "order_by")
    except Invalid:
        raise _invalid_order(clause) from None
    if ref.entity == "attribute" and ref.key not in ALL_ATTRIBUTES:
        known = ", ".join(sorted(ALL_ATTRIBUTES))
        raise _invalid_order(clause, f"attributes are {known}; write")
    return OrderKey(ref, (match["direction"] or "").upper() == "DESC")


def query_fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def encode_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, fingerprint: str) -> int:
    """The offset a page token stands for; `invalid_page_token` for one that this search
    did not give."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = data["o"]
        if data["q"] != fingerprint or not isinstance(offset, int) or not 0 <= offset < 2**31:
            raise ValueError("another search's token")
        return offset
    except (binascii.Error, UnicodeError, ValueError, KeyError, TypeError, RecursionError):
        raise Invalid("the page token is not one this search gave: pass the "
                      "`next_page_token` of the page before, with the same search",
                      code="invalid_page_token") from None
