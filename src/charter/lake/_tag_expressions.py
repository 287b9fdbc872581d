"""Tag-based access control: tag expressions, parsed with sqlglot and evaluated against a
column's effective tags (its own, else its table's, else its database's)."""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from charter.errors import Invalid


def _bad(message: str) -> Invalid:
    return Invalid(message, code="invalid_tag_expression")


def parse_expression(text: str, keys: dict[str, list[str]]) -> str:
    """Check `domain=retail AND sensitivity IN (public, internal)` against the tag keys and
    their allowed values; return it in canonical form."""
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except SqlglotError as exc:
        raise _bad(f"invalid tag expression: {str(exc).splitlines()[0][:200]}") from None
    _check(tree, keys)
    return tree.sql(dialect="duckdb")


def _value(node: exp.Expression) -> str:
    if isinstance(node, exp.Column) and not node.table:
        return node.name
    if isinstance(node, exp.Literal):
        return node.this
    raise _bad(f"{node.sql()!r} is not a tag value")


def _key(node: exp.Expression, keys: dict[str, list[str]]) -> str:
    if not isinstance(node, exp.Column) or node.table or node.name not in keys:
        raise _bad(f"{node.sql()!r} is not a tag key")
    return node.name


def _check(node: exp.Expression, keys: dict[str, list[str]]) -> None:
    if isinstance(node, exp.And | exp.Or):
        _check(node.left, keys)
        _check(node.right, keys)
    elif isinstance(node, exp.Not | exp.Paren):
        _check(node.this, keys)
    elif isinstance(node, exp.EQ | exp.NEQ):
        key = _key(node.left, keys)
        _allowed(key, [_value(node.right)], keys)
    elif isinstance(node, exp.In):
        key = _key(node.this, keys)
        _allowed(key, [_value(v) for v in node.expressions], keys)
    else:
        raise _bad(f"use KEY=VALUE, KEY IN (A, B), AND, OR, NOT; not {node.sql()!r}")


def _allowed(key: str, values: list[str], keys: dict[str, list[str]]) -> None:
    for value in values:
        if value not in keys[key]:
            raise _bad(f"{value!r} is not a value of tag {key} ({', '.join(keys[key])})")


def matches(expression: str, tags: dict[str, str]) -> bool:
    """Whether `tags` (key -> value) satisfy a canonical tag expression."""
    return _eval(sqlglot.parse_one(expression, read="duckdb"), tags)


def _eval(node: exp.Expression, tags: dict[str, str]) -> bool:
    if isinstance(node, exp.And):
        return _eval(node.left, tags) and _eval(node.right, tags)
    if isinstance(node, exp.Or):
        return _eval(node.left, tags) or _eval(node.right, tags)
    if isinstance(node, exp.Not):
        return not _eval(node.this, tags)
    if isinstance(node, exp.Paren):
        return _eval(node.this, tags)
    if isinstance(node, exp.EQ | exp.NEQ):
        equal = tags.get(node.left.name) == _value(node.right)
        return equal if isinstance(node, exp.EQ) else (node.left.name in tags and not equal)
    if isinstance(node, exp.In):
        return tags.get(node.this.name) in {_value(v) for v in node.expressions}
    return False


def effective(assignments: list[Any], columns: list[str]) -> dict[str, dict[str, str]]:
    """Column -> its effective tags: a column's own tag overrides its table's, which
    overrides its database's."""
    levels: dict[str, dict[str, str]] = {"database": {}, "table": {}}
    own: dict[str, dict[str, str]] = {c: {} for c in columns}
    for a in assignments:
        if a.column:
            own.setdefault(a.column, {})[a.key] = a.value
        elif a.table:
            levels["table"][a.key] = a.value
        else:
            levels["database"][a.key] = a.value
    return {c: {**levels["database"], **levels["table"], **own.get(c, {})} for c in columns}
