"""What every domain's SDK part shares: its base class, typed answers, pages that iterate,
path segments, idempotency keys."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from charter.core.pagination import Page

if TYPE_CHECKING:
    from charter.sdk.client import Client

Json = Any
M = TypeVar("M")


class Part:
    """A group of calls of one domain, attached to a `Client` under its name."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def _typed(self, returns: type[M], method: str, path: str, **request: Any) -> M:
        """One request whose answer is read as `returns` (a domain schema)."""
        return _read(returns, self._c.request(method, path, **request))

    def _pages(self, item: type[M], path: str, params: dict[str, Any]) -> Pager[M]:
        """A listing: its first page now, the next ones as the caller iterates."""
        page_type = Page[item]  # type: ignore[valid-type]

        def fetch(changes: dict[str, Any]) -> Page[M]:
            return page_type.model_validate(
                self._c.request("GET", path, params={**params, **changes}))

        return Pager(fetch)


def _read(returns: Any, data: Json) -> Any:
    if isinstance(returns, type) and issubclass(returns, BaseModel):
        return returns.model_validate(data)
    return TypeAdapter(returns).validate_python(data)


class Pager(Generic[M]):
    """A listing, one page fetched at a time.

    Iterating yields every item of the listing, fetching the next page (by its cursor, or
    its offset where the listing has no cursor) when the one before is used up. The first
    page is fetched at once, so a refused or invalid call raises where it is made:
    `items`, `total`, `limit`, `offset` and `next_cursor` describe that page.
    `pages()` yields whole pages. For code written against what this call used to return,
    `pager["items"]` and `pager["total"]` read the first page too, and `pager[0]` its
    first item. To serialise an answer, use `model_dump(mode="json")`.
    """

    def __init__(self, fetch: Callable[[dict[str, Any]], Page[M]]) -> None:
        self._fetch = fetch
        self.page = fetch({})

    @property
    def items(self) -> list[M]:
        return self.page.items

    @property
    def total(self) -> int:
        return self.page.total

    @property
    def limit(self) -> int:
        return self.page.limit

    @property
    def offset(self) -> int:
        return self.page.offset

    @property
    def next_cursor(self) -> str | None:
        return self.page.next_cursor

    def pages(self) -> Iterator[Page[M]]:
        page, by_cursor = self.page, False
        while True:
            yield page
            if page.next_cursor:
                page, by_cursor = self._fetch({"cursor": page.next_cursor, "offset": 0}), True
            elif not by_cursor and page.items and page.offset + len(page.items) < page.total:
                page = self._fetch({"offset": page.offset + len(page.items)})
            else:
                return

    def __iter__(self) -> Iterator[M]:
        for page in self.pages():
            yield from page.items

    def __getitem__(self, key: str | int | slice) -> Any:
        """`pager["items"]`, `pager["total"]`: the first page's fields; `pager[0]`: its first
        item (as from the lists this call used to return)."""
        if isinstance(key, int | slice):
            return self.page.items[key]
        return self.page[key]

    def __repr__(self) -> str:
        return (f"<Pager of {self.total}: items {self.offset + 1}-"
                f"{self.offset + len(self.items)} fetched>")


def q(segment: str) -> str:
    """One path segment, percent-encoded: a name can never change the route it is sent to."""
    return quote(str(segment), safe="")


def new_idempotency_key() -> str:
    """A fresh idempotency key: one per write meant to happen once."""
    return uuid.uuid4().hex
