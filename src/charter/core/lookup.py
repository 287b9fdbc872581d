"""The one NotFound lookup: a row or catalog entry that must exist, or a stable refusal."""

from __future__ import annotations

from typing import TypeVar

from charter.errors import NotFound

T = TypeVar("T")


def require(found: T | None, what: str, *, code: str, hint: str = "") -> T:
    """`found` (a row from `session.get`, an entry from a catalog) unless it is None; then
    NotFound `code`, saying `<what> does not exist` and, after it, what to do (`hint`)."""
    if found is None:
        raise NotFound(f"{what} does not exist" + (f"; {hint}" if hint else ""), code=code)
    return found
