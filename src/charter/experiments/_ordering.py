"""Search results in MLflow's order, one page at a time, by one of two plans.

MLflow's order (its SqlAlchemyStore): by each `order_by` key in turn, the runs that have a
value first, in the order asked; for a metric, then the runs whose latest value is NaN,
then those without the metric; for a param, tag or attribute, then those without it. Ties
go to the newest start time, then to the smallest run id. Each position is the same on
SQLite and PostgreSQL (neither's NULL placement is relied on).

- The general plan is one statement: the runs the filter keeps, each outer-joined to its
  order keys' values, sorted whole, then cut to the page. Its cost grows with the runs
  the filter keeps, whatever the page.
- When the first key is a metric, the page is read from the latest-metrics index on (key,
  is_nan, value, run id) in three parts, in order: the runs with a number for it, walked
  in index order (a sort only among equal values, for the ties), then those with NaN,
  then those without it; each part reads only as far as the page needs. A page token is
  still an offset into the whole order: a page that starts past a part counts that
  part's rows (the runs it skips) and goes on into the next.

The parts are separate statements of one transaction. On SQLite a read transaction is one
snapshot; on PostgreSQL (read committed) a run logging the metric between two of them
could move from the third part to the first in between, as it could between two pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.expression import Join

from charter.experiments._search import ALL_ATTRIBUTES, OrderKey, Term, number_condition
from charter.experiments.orm import LatestMetric, Param, Run, RunTag


class _WalkLeftFirst(Join):
    """An inner join whose left side the database loops over first. SQLite's planner
    otherwise starts from the runs' (account, experiment) index and sorts every run the
    filter keeps, which is what this plan avoids; its CROSS JOIN keeps the order written
    (SQLite's documented way to fix a join order). PostgreSQL picks the index walk by
    itself for a page, so it gets a plain JOIN."""

    inherit_cache = True


@compiles(_WalkLeftFirst, "sqlite")
def _cross_join(join: _WalkLeftFirst, compiler: Any, **kw: Any) -> str:
    kw.pop("asfrom", None)
    return (join.left._compiler_dispatch(compiler, asfrom=True, **kw) + " CROSS JOIN "
            + join.right._compiler_dispatch(compiler, asfrom=True, **kw) + " ON "
            + join.onclause._compiler_dispatch(compiler, **kw))


def _direction(column: Any, descending: bool) -> Any:
    return column.desc() if descending else column.asc()


def order_terms(query: Select[Any], keys: list[OrderKey], *,
                first: int = 0) -> tuple[Select[Any], list[Any]]:
    """`query` outer-joined to the values of `keys`, and the ORDER BY terms that put runs
    in MLflow's order by them, ties broken by start time (newest first) and run id.
    `first` numbers the joined tables, so that they never clash with the query's own."""
    orders: list[Any] = []
    for i, key in enumerate(keys, start=first):
        ref = key.ref
        if ref.entity == "metric":
            m = aliased(LatestMetric, name=f"order_metric_{i}")
            query = query.outerjoin(m, and_(m.run_id == Run.id, m.key == ref.key))
            # A value, then NaN (stored as 0, flagged), then no value at all.
            orders += [case((m.is_nan == true(), 1), (m.run_id.is_(None), 2), else_=0),
                       _direction(m.value, key.descending)]
        elif ref.entity in ("param", "tag"):
            table = Param if ref.entity == "param" else RunTag
            t = aliased(table, name=f"order_{ref.entity}_{i}")  # type: ignore[arg-type]
            query = query.outerjoin(t, and_(t.run_id == Run.id, t.key == ref.key))
            orders += [case((t.run_id.is_(None), 1), else_=0),
                       _direction(t.value, key.descending)]
        else:
            column = ALL_ATTRIBUTES[ref.key]
            orders += [case((column.is_(None), 1), else_=0),
                       _direction(column, key.descending)]
    return query, [*orders, Run.start_time.desc(), Run.id.asc()]


@dataclass(frozen=True)
class SearchQuery:
    """What a search asks for: the runs in scope (account, experiments, lifecycle), the
    filter's terms with the SQL condition of each (`_search.filter_conditions`, one per
    term, in order) and the order's keys."""

    scope: list[ColumnElement[bool]]
    terms: list[Term]
    conditions: list[ColumnElement[bool]]
    keys: list[OrderKey]


def general_query(search: SearchQuery) -> Select[Any]:
    """The runs a search finds, in MLflow's order: one statement, sorted whole."""
    query, orders = order_terms(select(Run).where(*search.scope, *search.conditions),
                                search.keys)
    return query.order_by(*orders)


def metric_first_parts(search: SearchQuery) -> list[Select[Any]]:
    """The runs a search finds whose first order key is a metric, as the queries of the
    parts that follow each other in MLflow's order (see the module's notes): with a
    number for the metric, walked from its index; with NaN; without it."""
    first, rest = search.keys[0], search.keys[1:]
    metric = first.ref.key
    o = aliased(LatestMetric, name="order_metric_0")
    # The filter's comparisons of this metric bound the walk instead of their EXISTS: a
    # run's latest value of a key is one row, so they hold of that row exactly when the
    # EXISTS would hold.
    bounds, where = [], list(search.scope)
    for (op, ref, value), condition in zip(search.terms, search.conditions, strict=True):
        if ref.entity == "metric" and ref.key == metric:
            bounds.append(number_condition(o.value, op, ref, value))
        else:
            where.append(condition)
    walked = select(Run).select_from(_WalkLeftFirst(o, Run, o.run_id == Run.id)).where(
        o.key == metric, o.is_nan == false(), *bounds, *where)
    walked, orders = order_terms(walked, rest, first=1)
    parts = [walked.order_by(_direction(o.value, first.descending), *orders)]
    if bounds:
        return parts  # the filter compares the metric: a run with NaN or none never matches
    nan = select(Run).select_from(_WalkLeftFirst(o, Run, o.run_id == Run.id)).where(
        o.key == metric, o.is_nan == true(), *where)
    nan, orders = order_terms(nan, rest, first=1)
    missing = select(Run).where(*where, ~select(literal(1)).where(
        LatestMetric.run_id == Run.id, LatestMetric.key == metric).exists())
    missing, orders = order_terms(missing, rest, first=1)
    return [*parts, nan.order_by(*orders), missing.order_by(*orders)]


def read_page(session: Session, search: SearchQuery, *, offset: int, limit: int) -> list[Run]:
    """Runs `offset` to `offset + limit` of those a search finds, in MLflow's order: by
    the parts of `metric_first_parts` when the first key is a metric, else by the general
    plan."""
    if not search.keys or search.keys[0].ref.entity != "metric":
        return list(session.scalars(general_query(search).offset(offset).limit(limit)))
    rows: list[Run] = []
    skip = offset  # positions still to pass over, counted from the current part's start
    for part in metric_first_parts(search):
        if len(rows) >= limit:
            break
        found = list(session.scalars(part.offset(skip).limit(limit - len(rows))))
        if not found and skip:
            # The page starts past this part: pass over all of its rows.
            skip = max(0, skip - (session.scalar(select(func.count()).select_from(
                part.order_by(None).subquery())) or 0))
            continue
        rows += found
        skip = 0
    return rows
