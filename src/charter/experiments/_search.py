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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select
from sqlalchemy.orm import aliased
from sqlglot import exp, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError

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


def parse_filter(text: str) -> list[tuple[type[exp.Expression], _Ref, Any]]:
    """The filter's comparisons as (operator, reference, value), or `invalid_filter`."""
    if not text.strip():
        return []
    try:
        tree = sqlglot.parse_one(text, read=MlflowFilter)
    except (SqlglotError, RecursionError) as exc:
        raise _invalid(f"it does not parse: {str(exc).splitlines()[0][:200]}") from None
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


def _term(node: exp.Expression) -> tuple[type[exp.Expression], _Ref, Any]:
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
    if op is exp.Like:
        # SQLite's LIKE ignores case; MLflow's does not. GLOB is SQLite's case-sensitive one.
        return column.op("GLOB")(_glob(value)) if dialect == "sqlite" else column.like(value)
    if op is exp.ILike:
        return column.ilike(value)
    raise _invalid(f"{ref.shown} takes =, !=, LIKE, ILIKE, IN and NOT IN, not {_OP_TEXT[op]}")


def _glob(like: str) -> str:
    """A LIKE pattern as the GLOB pattern that matches the same strings."""
    special = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(special.get(c, c) for c in like)


def _number_condition(column: Any, op: type[exp.Expression], ref: _Ref,
                      value: Any) -> ColumnElement[bool]:
    if op not in _NUMBER_OPS:
        raise _invalid(f"{ref.shown} is a number: compare it with =, !=, <, <=, > or >=")
    if isinstance(value, str):
        raise _invalid(f"{ref.shown} is a number: compare it with a number, not "
                       f"{value[:50]!r}")
    return _NUMBER_OPS[op](column, value)


def filter_conditions(text: str, dialect: str) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions on `Run`: EXISTS over the indexed tables."""
    conditions = []
    for op, ref, value in parse_filter(text):
        if ref.entity == "metric":
            cond = _number_condition(LatestMetric.value, op, ref, value)
            conditions.append(select(literal(1)).where(
                LatestMetric.run_id == Run.id, LatestMetric.key == ref.key,
                LatestMetric.is_nan.is_(False), cond).exists())
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
            conditions.append(_number_condition(_NUMBER_ATTRIBUTES[ref.key], op, ref, value))
        else:
            known = ", ".join(sorted({*_STRING_ATTRIBUTES, *_NUMBER_ATTRIBUTES}))
            raise _invalid(f"unknown attribute {ref.key!r}; attributes are {known}")
    return conditions


def apply_order(query: Select[Any], order_by: list[str]) -> Select[Any]:
    """`query` ordered as `order_by` asks (missing values last), then newest first and
    by run id, as MLflow orders."""
    orders: list[Any] = []
    for i, clause in enumerate(order_by):
        ref, descending = _parse_order(clause)
        if ref.entity == "metric":
            m = aliased(LatestMetric, name=f"order_metric_{i}")
            query = query.outerjoin(m, and_(m.run_id == Run.id, m.key == ref.key))
            orders += [case((m.run_id.is_(None), 1), (m.is_nan.is_(True), 1), else_=0),
                       m.value.desc() if descending else m.value.asc()]
        elif ref.entity in ("param", "tag"):
            table = Param if ref.entity == "param" else RunTag
            t = aliased(table, name=f"order_{ref.entity}_{i}")  # type: ignore[arg-type]
            query = query.outerjoin(t, and_(t.run_id == Run.id, t.key == ref.key))
            orders += [case((t.run_id.is_(None), 1), else_=0),
                       t.value.desc() if descending else t.value.asc()]
        else:
            column = {**_STRING_ATTRIBUTES, **_NUMBER_ATTRIBUTES}.get(ref.key)
            if column is None:
                raise _invalid(f"cannot order by unknown attribute {ref.key!r}")
            orders += [case((column.is_(None), 1), else_=0),
                       column.desc() if descending else column.asc()]
    return query.order_by(*orders, Run.start_time.desc(), Run.id.asc())


def _parse_order(clause: str) -> tuple[_Ref, bool]:
    try:
        tree = sqlglot.parse_one(f"SELECT 1 ORDER BY {clause}", read=MlflowFilter)
    except (SqlglotError, RecursionError):
        tree = None
    order = tree.args.get("order") if isinstance(tree, exp.Select) else None
    if order is None or len(order.expressions) != 1 or len(tree.expressions) != 1 \
            or any(tree.args.get(k) for k in ("from", "where", "limit", "group")):
        raise Invalid(f"invalid order_by {clause[:200]!r}: write `metrics.KEY DESC`, "
                      "`params.KEY` or `attributes.start_time ASC`", code="invalid_order_by")
    ordered = order.expressions[0]
    try:
        ref = _ref(ordered.this, "order_by")
    except Invalid as exc:
        raise Invalid(exc.message.replace("invalid search filter", "invalid order_by"),
                      code="invalid_order_by") from None
    return ref, bool(ordered.args.get("desc"))


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
