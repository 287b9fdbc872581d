"""Paging in SQL for every listing: limit and offset, or an opaque keyset cursor.

Key contracts:
- `paginate` runs the listing's own SELECT with its filters, ordered by a unique key, and
  fetches one page plus one row (which tells whether there is a next page); the total
  is a COUNT in SQL. Nothing loads a table to slice it in Python.
- A cursor names the last row of a page by its key (base64 of JSON, tied to the key's
  columns): the next page starts after it, however many rows were added or removed
  before it meanwhile. `offset` counts on from the cursor when both are given.
- A listing that keeps only the rows a decision allows (a Cedar decision per account,
  say) passes `keep`: rows are read in key order, a page's worth first and then in
  growing chunks, until the page is full; its total (unless `count=False`) decides every
  row, read in chunks, never all at once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from charter.core.wire import Schema
from charter.errors import Invalid

T = TypeVar("T")
R = TypeVar("R")
P = TypeVar("P", bound="Page[Any]")

MAX_LIMIT = 1000
MAX_OFFSET = 10**9
MAX_CURSOR = 2000  # characters
_CHUNK = 500  # rows read at once by a listing with `keep`


class PageParams(BaseModel):
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR)


class Page(Schema, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the page after this one; null on the "
        "last page.")


@dataclass(frozen=True)
class Slice(Generic[R]):
    """One page of rows of a listing, before they become schemas."""

    rows: list[R]
    total: int | None  # None: not counted (`count=False`)
    next_cursor: str | None

    def to_page(self, page_type: type[P], items: list[Any], params: PageParams) -> P:
        """The API's page of `items` (this slice's rows as schemas)."""
        return page_type(items=items, total=self.total or 0, limit=params.limit,
                         offset=params.offset, next_cursor=self.next_cursor)


Keep = Callable[[list[Any]], list[bool]]


def paginate(session: Session, query: Select[Any], *, key: Sequence[InstrumentedAttribute[Any]],
             params: PageParams | None = None, keep: Keep | None = None,
             descending: bool = False, count: bool = True) -> Slice[Any]:
    """One page of the entities `query` selects, in the order of `key` (columns that
    together are unique; `descending`: largest first). `keep`: a decision on a batch of
    rows (True: show it), for listings filtered by something SQL cannot decide. `count`:
    whether to count every row the listing has (False: the answer has no total)."""
    params = params or PageParams()
    order = _Key(key, descending)
    after = order.decode(params.cursor) if params.cursor else None
    ordered = query.order_by(None).order_by(*(c.desc() if descending else c for c in key))
    total: int | None = None
    if keep is None:
        if count:
            total = session.scalar(select(func.count()).select_from(
                query.order_by(None).subquery())) or 0
        stmt = ordered if after is None else ordered.where(order.after(after))
        rows = list(session.scalars(stmt.offset(params.offset).limit(params.limit + 1)))
    else:
        rows = _kept(session, ordered, order, after, params, keep)
        if count:
            total = sum(1 for _ in _scan(session, ordered, order, None, keep))
    more = len(rows) > params.limit
    rows = rows[:params.limit]
    return Slice(rows, total, order.encode(rows[-1]) if more else None)


def page_of(page_type: type[P], session: Session, query: Select[Any], *,
            key: Sequence[InstrumentedAttribute[Any]], params: PageParams | None,
            read: Callable[[list[Any]], list[Any]], keep: Keep | None = None) -> P:
    """A listing's answer: the page of `query` that `params` ask for (see `paginate`),
    its rows turned into schemas by `read`."""
    params = params or PageParams()
    found = paginate(session, query, key=key, params=params, keep=keep)
    return found.to_page(page_type, read(found.rows), params)


def page_of_list(page_type: type[P], items: Sequence[Any], params: PageParams | None) -> P:
    """A page of a short listing built in code (a catalogue held in the code, not a table):
    the slice `params` asks for, with the true total. Such a listing has no cursor."""
    params = params or PageParams()
    if params.cursor is not None:
        raise Invalid("this listing pages by offset only: pass `offset`, not `cursor`",
                      code="invalid_cursor")
    rows = list(items[params.offset:params.offset + params.limit])
    return Slice(rows, len(items), None).to_page(page_type, rows, params)


def _kept(session: Session, ordered: Select[Any], order: _Key, after: tuple[Any, ...] | None,
          params: PageParams, keep: Keep) -> list[Any]:
    """The kept rows of one page (and one more), read from `after` on."""
    rows: list[Any] = []
    skip = params.offset
    for row in _scan(session, ordered, order, after, keep, first=params.offset + params.limit + 1):
        if skip:
            skip -= 1
            continue
        rows.append(row)
        if len(rows) > params.limit:
            break
    return rows


def _scan(session: Session, ordered: Select[Any], order: _Key, after: tuple[Any, ...] | None,
          keep: Keep, first: int = _CHUNK) -> Any:
    """Every kept row from `after` on, read in key order: `first` rows, then chunks twice
    as large each time, up to `_CHUNK` (a page where most rows are kept reads one page)."""
    size = min(first, _CHUNK)
    while True:
        stmt = ordered if after is None else ordered.where(order.after(after))
        batch = list(session.scalars(stmt.limit(size)))
        yield from (row for row, ok in zip(batch, keep(batch), strict=True) if ok)
        if len(batch) < size:
            return
        after = order.values(batch[-1])
        size = min(size * 2, _CHUNK)


class _Key:
    """The columns a listing is ordered by, and cursors that name a row by them."""

    def __init__(self, columns: Sequence[InstrumentedAttribute[Any]], descending: bool) -> None:
        self.columns = list(columns)
        self.descending = descending
        self.name = ",".join(f"{c.class_.__tablename__}.{c.key}" for c in self.columns)
        self.name += " desc" if descending else ""

    def values(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, c.key) for c in self.columns)

    def after(self, values: tuple[Any, ...]) -> ColumnElement[bool]:
        bound = [literal(v, type_=c.type) for c, v in zip(self.columns, values, strict=True)]
        if self.descending:
            return tuple_(*self.columns) < tuple_(*bound)
        return tuple_(*self.columns) > tuple_(*bound)

    def encode(self, row: Any) -> str:
        values = [{"t": v.isoformat()} if isinstance(v, datetime) else v
                  for v in self.values(row)]
        text = json.dumps({"k": self.name, "v": values}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[Any, ...]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
            if data["k"] != self.name or len(data["v"]) != len(self.columns):
                raise ValueError("another listing's cursor")
            return tuple(_value(v, c) for v, c in zip(data["v"], self.columns, strict=True))
        except (binascii.Error, UnicodeError, ValueError, KeyError, TypeError, RecursionError):
            raise Invalid("the cursor is not one this listing gave: pass the `next_cursor` "
                          "of the page before, unchanged", code="invalid_cursor") from None


def _value(item: Any, column: InstrumentedAttribute[Any]) -> Any:
    """A key value from a cursor, if it is one the column could hold (anything else, a
    caller's invention, never reaches the database)."""
    kind = getattr(column.type, "impl", column.type).python_type
    if kind is datetime and isinstance(item, dict) and isinstance(item.get("t"), str):
        value = datetime.fromisoformat(item["t"])
        if value.tzinfo is None:
            raise ValueError("a key time without its offset")
        return value
    if kind is str and isinstance(item, str) and "\x00" not in item:
        item.encode()  # UnicodeError for a lone surrogate
        return item
    if kind is int and isinstance(item, int) and not isinstance(item, bool) \
            and -2**63 <= item < 2**63:
        return item
    raise ValueError("not a value of the key")
