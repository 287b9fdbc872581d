"""Listings page in SQL: a page reads one page of rows from the database, however many
rows there are, and a cursor walks on from where the page before stopped."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from charter.core.clock import now
from charter.errors import Invalid
from charter.identity.orm import User
from charter.org.orm import Account


def _bulk(platform, model: type, rows: list[dict[str, Any]]) -> None:
    with platform.runtime.db.transaction() as session:
        session.execute(insert(model), rows)


def _count(platform, model: type) -> int:
    with platform.runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


@contextmanager
def _watch(platform) -> Iterator[tuple[list[tuple[str, Any]], list[str]]]:
    """The SQL the platform sends, and the users it makes from rows, while the block runs."""
    statements: list[tuple[str, Any]] = []
    loaded: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    def on_load(target, context):
        loaded.append(target.name)

    engine = platform.runtime.db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(User, "load", on_load)
    try:
        yield statements, loaded
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(User, "load", on_load)


def _values(parameters: Any) -> list[Any]:
    return list(parameters.values() if isinstance(parameters, dict) else parameters)


def test_listing_ten_thousand_users_reads_one_page(platform):
    t = now()
    _bulk(platform, User, [{"name": f"bulk-{i:05d}", "display_name": "", "email": "",
                            "created_at": t} for i in range(10_000)])
    total = _count(platform, User)
    assert total >= 10_000
    admin = platform.admin
    admin.users.list(limit=1)  # signs the admin in and builds the Cedar sets beforehand
    with _watch(platform) as (statements, loaded):
        first = admin.users.list(limit=5)
    assert first["total"] == total and len(first["items"]) == 5 and first["next_cursor"]
    # One page and the row after it (which says there is a next page) became users.
    assert len(loaded) == 6
    reads = [(s, p) for s, p in statements if "FROM identity_users" in s]
    rows = [(s, p) for s, p in reads if "count(" not in s.lower()]
    counts = [s for s, _ in reads if "count(" in s.lower()]
    assert len(rows) == 1 and len(counts) == 1, reads
    assert "LIMIT" in rows[0][0].upper() and 6 in _values(rows[0][1])

    with _watch(platform) as (_, loaded):
        second = admin.users.list(limit=5, cursor=first["next_cursor"])
    assert len(loaded) == 6
    by_offset = admin.users.list(limit=5, offset=5)
    assert [u["name"] for u in second["items"]] == [u["name"] for u in by_offset["items"]]
    names = [u["name"] for u in first["items"] + second["items"]]
    assert names == sorted(names) and len(set(names)) == 10

    last = admin.users.list(limit=5, offset=total - 3)
    assert len(last["items"]) == 3 and last["next_cursor"] is None


def test_a_cursor_walk_sees_every_row_once_though_rows_are_added_before_it(platform):
    admin = platform.admin
    for name in ("walk-b", "walk-d", "walk-f"):
        admin.groups.create(name)
    seen, cursor = [], None
    while True:
        page = admin.groups.list(limit=2, cursor=cursor)
        seen += [g["name"] for g in page["items"]]
        if len(seen) == 2:
            admin.groups.create("walk-a")  # before the cursor: an offset walk would repeat
        cursor = page["next_cursor"]
        if cursor is None:
            break
    walked = [n for n in seen if n.startswith("walk-")]
    assert len(seen) == len(set(seen))
    assert set(walked) >= {"walk-b", "walk-d", "walk-f"}


def _cursor(key: str, *values: Any) -> str:
    text = json.dumps({"k": key, "v": list(values)})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not a cursor", "%%%", _cursor("x", 1),
    _cursor("identity_users.name", 2**70), _cursor("identity_users.name", "\ud800"),
    _cursor("identity_users.name", "a\x00"), _cursor("identity_users.name", {"t": "x"}),
    _cursor("identity_users.name", "a", "b"),
    base64.urlsafe_b64encode(b"[" * 700 + b"]" * 700).decode(),
])
def test_a_cursor_the_listing_did_not_give_is_refused(platform, cursor):
    with pytest.raises(Invalid) as refused:
        platform.admin.users.list(limit=2, cursor=cursor)
    assert refused.value.code == "invalid_cursor"


@pytest.mark.parametrize("value", ["x", 7, {"t": "2026-01-01T00:00:00"}, {"t": "nonsense"}])
def test_a_cursor_time_must_be_a_time_with_its_offset(platform, value):
    with pytest.raises(Invalid) as refused:
        platform.admin.tokens.list(all=True, cursor=_cursor(
            "identity_tokens.created_at,identity_tokens.id", value, "tok-1"))
    assert refused.value.code == "invalid_cursor"
    good = _cursor("identity_tokens.created_at,identity_tokens.id",
                   {"t": "2000-01-01T00:00:00+00:00"}, "tok-1")
    assert platform.admin.tokens.list(all=True, cursor=good)["items"]


def test_another_listings_cursor_is_refused(platform):
    platform.admin.groups.create("walk-x")
    platform.admin.groups.create("walk-y")
    cursor = platform.admin.groups.list(limit=1)["next_cursor"]
    assert platform.admin.groups.list(limit=1, cursor=cursor)["items"]
    with pytest.raises(Invalid) as refused:
        platform.admin.tokens.list(all=True, limit=1, cursor=cursor)
    assert refused.value.code == "invalid_cursor"


def test_a_listing_filtered_by_cedar_pages_across_chunks(platform):
    """Accounts are kept by a decision per account: the page fills from rows read chunk
    by chunk, and the total counts only what the caller may see."""
    t = now()
    _bulk(platform, Account, [
        {"name": f"bulk-{i:04d}-dev", "ou_path": "/workloads/ml/nonprod",
         "blueprint": "ml-team-dev", "status": "active",
         "tags": {"owner": "bulk", "cost-center": "cc-1"}, "budget_monthly": 1.0,
         "baseline": {}, "created_by": "test", "created_at": t, "closed_at": None}
        for i in range(1_100)])
    admin = platform.admin
    viewer, _ = platform.user("vic")
    for account in ("bulk-0003-dev", "bulk-0600-dev", "bulk-1050-dev"):
        admin.assignments.create(permission_set="cost-viewer", user="vic", account=account)
    first = viewer.accounts.list(limit=2)
    assert [a["name"] for a in first["items"]] == ["bulk-0003-dev", "bulk-0600-dev"]
    assert first["total"] == 3 and first["next_cursor"]
    second = viewer.accounts.list(limit=2, cursor=first["next_cursor"])
    assert [a["name"] for a in second["items"]] == ["bulk-1050-dev"]
    assert second["next_cursor"] is None and second["total"] == 3
    assert [a["name"] for a in viewer.accounts.list(limit=1, offset=1)["items"]] == [
        "bulk-0600-dev"]
    everything = admin.accounts.list(limit=1000)
    assert everything["total"] == _count(platform, Account)
    assert len(everything["items"]) == 1000 and everything["next_cursor"]
