"""The sqlglot layer of governed SQL on its own: scope-aware table names, reserved names,
and a rewrite that keeps aliases and sampling."""

from __future__ import annotations

import pytest

from charter.errors import Invalid
from charter.lake import _sql

from .test_query_security import SCOPE_TRICKS


@pytest.mark.parametrize("sql", SCOPE_TRICKS)
def test_the_parser_alone_refuses_names_out_of_scope(sql):
    with pytest.raises(Invalid) as refused:
        _sql.parse(sql)
    assert refused.value.code == "query_refused"


@pytest.mark.parametrize("sql,tables", [
    ("WITH a AS (SELECT * FROM bank.t) SELECT * FROM a", [("bank", "t")]),
    ("WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b, bank.t",
     [("bank", "t")]),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
     "SELECT * FROM r", []),
    ("WITH a AS (SELECT 1) SELECT * FROM (SELECT * FROM a) s, bank.t", [("bank", "t")]),
    ("SELECT * FROM bank.t WHERE id IN (WITH x AS (SELECT 1) SELECT * FROM x)",
     [("bank", "t")]),
])
def test_ctes_in_scope_resolve(sql, tables):
    assert _sql.parse(sql).tables == tables


def test_the_rewrite_keeps_aliases_column_aliases_and_samples():
    parsed = _sql.parse("SELECT x FROM bank.t AS u(x) TABLESAMPLE 10% JOIN bank.s "
                        "ON u.x = s.id")
    sql = _sql.rewrite(parsed, {("bank", "t"): "vt", ("bank", "s"): "vs"})
    assert "vt AS u(x)" in sql and "TABLESAMPLE" in sql and "vs AS s" in sql
    assert "bank" not in sql
