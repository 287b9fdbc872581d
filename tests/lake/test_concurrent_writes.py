"""Concurrent writes to the lake, now that a write's catalog rows commit with it."""

from __future__ import annotations

import threading

from charter.errors import CharterError

ROWS = b"id,name\n1,Ann\n2,Bob\n"


def _together(*calls) -> list[object]:
    """Run the calls at once; each one's result or CharterError."""
    results: list[object] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except CharterError as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_creates_of_two_tables_in_a_new_database_both_succeed(retail):
    platform, erin = retail
    platform.admin.lake.create_database("retail-data", "fresh")
    other = platform.client(platform.admin_token)
    results = _together(
        lambda: erin.lake.ingest("retail-data", "fresh.one", ROWS, mode="create"),
        lambda: other.lake.ingest("retail-data", "fresh.two", ROWS, mode="create"))
    assert [r["total_records"] for r in results] == [2, 2]  # type: ignore[index]


def test_of_two_creates_of_one_table_the_second_finds_the_first(retail):
    platform, erin = retail
    other = platform.client(platform.admin_token)
    results = _together(
        lambda: erin.lake.ingest("retail-data", "bank.customers", ROWS, mode="create"),
        lambda: other.lake.ingest("retail-data", "bank.customers", ROWS, mode="create"))
    codes = sorted("ok" if not isinstance(r, Exception) else r.code for r in results)  # type: ignore
    assert codes == ["ok", "table_exists"]
    assert erin.lake.table("retail-data", "bank.customers")["total_records"] == 2


def test_concurrent_appends_all_land(retail):
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", ROWS, mode="create")
    others = [platform.client(platform.admin_token) for _ in range(3)]
    results = _together(*[
        (lambda c=c, i=i: c.lake.ingest("retail-data", "bank.customers",
                                        f"id,name\n{10 + i},X\n".encode()))
        for i, c in enumerate(others)])
    assert all(not isinstance(r, Exception) for r in results), results
    assert erin.lake.table("retail-data", "bank.customers")["total_records"] == 5
