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
    sql = _sql.prepare("SELECT x FROM bank.t AS u(x) TABLESAMPLE 10% JOIN bank.s "
                       "ON u.x = s.id", ((("bank", "t"), "vt"), (("bank", "s"), "vs")), ()).sql
    assert "vt AS u(x)" in sql and "TABLESAMPLE" in sql and "vs AS s" in sql
    assert "bank" not in sql


TYPES = {"id": "BIGINT", "amount": "DOUBLE", "name": "VARCHAR", "card": "VARCHAR",
         "region": "VARCHAR"}
OPEN = {"id", "amount", "name", "region"}  # card is masked


@pytest.mark.parametrize("sql,pushed", [
    ("SELECT * FROM bank.t WHERE id > 5 AND name = 'Ann'", ['"id" > 5', "\"name\" = 'Ann'"]),
    ("SELECT * FROM bank.t x WHERE x.amount BETWEEN -1.5 AND 9", ['"amount" BETWEEN -1.5 AND 9']),
    ("SELECT * FROM bank.t WHERE 5 < id", ['5 < "id"']),
    ("SELECT * FROM bank.t WHERE region IN ('EU', 'US') AND name IS NOT NULL",
     ["\"region\" IN ('EU', 'US')", 'NOT ("name" IS NULL)']),
    # not safe on every row, or not the table's raw value: kept out of the scan
    ("SELECT * FROM bank.t WHERE card = '1234'", []),
    ("SELECT * FROM bank.t WHERE id = '5'", []),
    ("SELECT * FROM bank.t WHERE name = 5", []),
    ("SELECT * FROM bank.t WHERE name LIKE 'A%'", []),
    ("SELECT * FROM bank.t WHERE length(name) > 2", []),
    ("SELECT * FROM bank.t WHERE id > 5 OR id < 2", []),
    ("SELECT * FROM bank.t WHERE id IN (SELECT 1)", []),
    ("SELECT * FROM bank.t a JOIN bank.u b ON a.id = b.id WHERE a.id > 5", []),
    ("SELECT * FROM bank.t WHERE id > 5 UNION ALL SELECT * FROM bank.t", []),
    ("WITH c AS (SELECT * FROM bank.t) SELECT * FROM c WHERE id > 5", []),
    ("SELECT * FROM bank.t WHERE other.id > 5", []),
    # literals that would make the engine cast the column's values (some may not fit)
    ("SELECT * FROM bank.t WHERE id <> 1.0000000000000000000000000000000000001", []),
    ("SELECT * FROM bank.t WHERE id BETWEEN 0.5 AND 2", []),
    ("SELECT * FROM bank.t WHERE id = 1e3", []),
    ("SELECT * FROM bank.t WHERE id = 1234567890123456789", []),
    ("SELECT * FROM bank.t WHERE amount > 1.0000000000000000000000000000000000001",
     ['"amount" > 1.0000000000000000000000000000000000001']),
    # renamed columns: `region` below is not the table's region
    ("SELECT * FROM bank.t AS c(id, region, card, name) WHERE region = 'Ann'", []),
])
def test_only_comparisons_safe_on_every_row_are_pushed(sql, pushed):
    assert [p.sql for p in _sql.pushable(_sql.parse(sql), ("bank", "t"), TYPES, OPEN)
            ] == pushed


@pytest.mark.parametrize("sql,rewritten", [
    ("SELECT count(*) FROM bank.t WHERE id > 5 AND region IN ('EU', 'US')",
     "SELECT COUNT(*) FROM vt AS t"),
    ("SELECT id FROM bank.t WHERE id > 5 AND length(name) > 2 AND region = 'EU'",
     "SELECT id FROM vt AS t WHERE LENGTH(name) > 2"),
    ("SELECT id FROM bank.t WHERE (id > 5 OR id < 2) AND region = 'EU' AND card = 'x'",
     "SELECT id FROM vt AS t WHERE (id > 5 OR id < 2) AND card = 'x'"),
    ("SELECT id FROM bank.t WHERE id > 5 UNION ALL SELECT id FROM bank.u WHERE id > 5",
     "SELECT id FROM vt AS t UNION ALL SELECT id FROM vu AS u WHERE id > 5"),
    ("SELECT id FROM bank.t WHERE id > 5 UNION ALL SELECT id FROM bank.t",  # read twice
     "SELECT id FROM vt AS t WHERE id > 5 UNION ALL SELECT id FROM vt AS t"),
])
def test_pushed_conjuncts_leave_the_query(sql, rewritten):
    facts = ((("bank", "t"), (tuple(TYPES.items()), frozenset(OPEN))),)
    prepared = _sql.prepare(sql, ((("bank", "t"), "vt"), (("bank", "u"), "vu")), facts)
    assert prepared.sql == rewritten


@pytest.mark.parametrize("sql,safe", [
    ("SELECT count(*) FROM bank.t", True),
    ("SELECT * FROM bank.t WHERE id > 5 AND region IN ('EU')", True),
    ("SELECT region, count(*) FROM bank.t GROUP BY region ORDER BY 2 DESC LIMIT 3", True),
    ("SELECT * FROM bank.t WHERE id > 5 AND length(name) > 2", False),
    ("SELECT * FROM bank.t WHERE card = 'x'", False),
    ("SELECT region FROM bank.t GROUP BY region HAVING count(*) > 1", False),
    ("SELECT * FROM bank.t a JOIN bank.u b ON a.id = b.id", False),
    ("SELECT * FROM bank.t a JOIN bank.u b USING (id)", False),
    ("WITH c AS (SELECT * FROM bank.t) SELECT * FROM c WHERE id > 5", False),
    ("SELECT * FROM bank.t QUALIFY row_number() OVER () = 1", False),
    ("SELECT (SELECT max(id) FROM bank.t WHERE name = 'x') AS m", True),
    ("SELECT (SELECT max(id) FROM bank.t WHERE upper(name) = 'X') AS m", False),
    ("SELECT * FROM bank.t NATURAL JOIN (SELECT 1 AS name) x", False),
    ("SELECT * FROM bank.t, (SELECT 1 AS x) y", False),
])
def test_views_skip_the_row_guard_only_when_every_filter_was_pushed(sql, safe):
    parsed = _sql.parse(sql)
    pushed = {("bank", "t"): _sql.pushable(parsed, ("bank", "t"), TYPES, OPEN)}
    assert _sql.only_safe_filters(parsed, pushed) is safe


def test_rewrites_leave_the_kept_parse_as_it_was():
    sql = "SELECT id FROM bank.t WHERE id > 5 AND name = 'x'"
    facts = ((("bank", "t"), (tuple(TYPES.items()), frozenset(OPEN))),)
    first = _sql.prepare(sql, ((("bank", "t"), "va"),), facts)
    second = _sql.prepare(sql, ((("bank", "t"), "vb"),), ())
    assert first.sql == "SELECT id FROM va AS t"
    assert first.pushed == {("bank", "t"): ['"id" > 5', '"name" = \'x\'']}
    assert not first.guard
    assert second == _sql.Prepared("SELECT id FROM vb AS t WHERE id > 5 AND name = 'x'", {},
                                   True)
    assert _sql.parse(sql).tree.sql(dialect="duckdb") == sql


def test_a_long_text_is_parsed_once_and_rewritten_in_place(monkeypatch):
    """A text too long to keep is this query's alone: parsing it again, or copying its
    tree, would only double the pure-Python work every other request waits behind."""
    parses = []
    real = _sql.sqlglot.parse
    monkeypatch.setattr(_sql.sqlglot, "parse", lambda *a, **k: parses.append(1) or real(*a, **k))
    sql = ("SELECT id FROM bank.t WHERE id IN (" + ", ".join(map(str, range(3000))) + ")"
           " AND length(name) > 2")
    assert len(sql) > _sql._KEPT_TEXT
    parsed = _sql.parse(sql, "ana")
    facts = ((("bank", "t"), (tuple(TYPES.items()), frozenset(OPEN))),)
    prepared = _sql.prepare(sql, ((("bank", "t"), "vt"),), facts, "ana", parsed=parsed)
    assert len(parses) == 1
    assert prepared.sql == "SELECT id FROM vt AS t WHERE LENGTH(name) > 2"
    assert parsed.tree.sql(dialect="duckdb") == prepared.sql  # no copy was made
    assert prepared.pushed[("bank", "t")][0].startswith('"id" IN (0, 1, 2,')
