"""Governed lake query benchmark.

The same analytical queries (a filter, an aggregate, a join and a lookup that reads the
masked column) over a 10-million-row Iceberg table (1 million with --quick), run by a data
scientist whose grant masks `card_number` (last4) and keeps only `region = 'EU'` rows,
against raw DuckDB reading the same Parquet data files with `read_parquet` and the same
filter and mask written by hand. Charter is timed twice: the governed query itself
(`lake.service.query` with the analyst's token: authenticate, authorize, effective grants,
Iceberg planning, rewrite, run in a locked DuckDB, audit), and the same through the API
(`client.lake.query` to `charter server` over loopback HTTP, results as Arrow IPC).

Each query is repeated, as dashboards and scheduled jobs repeat theirs: Charter keeps
each caller's table plans under the catalog's versions, and a query text's parse,
rewrite and engine check (docs/design.md, "What a query keeps"). A second table breaks
Charter's time down: the DuckDB run inside the governed query (`_query.run`), the rest
of it (authentication, authorization, grants, planning, audit), the same query with
nothing kept by text (a query text seen for the first time) and with nothing kept at
all (the first query after a write), Charter's views run in a plain DuckDB opened once
and not locked down (what running on a locked database costs), and what HTTP adds.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

import charter.lake._query as lake_query
from _common import Row, parse_quick, print_table, server
from charter.api.app import create_app
from charter.core.context import Context, Runtime
from charter.core.ids import new_request_id
from charter.identity import service as identity
from charter.lake import _iceberg, _sql, service
from charter.platform.bootstrap import initialize
from charter.platform.runtime import build_runtime
from charter.sdk import Client
from charter.settings import Settings

ACCOUNT, GROUP, USER = "retail-data", "retail-analysts", "ana"
BATCH_ROWS = 2_000_000
CUSTOMERS = 100_000
TARGET = 1.2  # governed within 1.2x of raw
REGIONS = ("EU", "US", "APAC", "LATAM")
CATEGORIES = ("groceries", "travel", "dining", "fuel", "electronics", "clothing", "health",
              "utilities", "entertainment", "education", "home", "insurance")
SEGMENTS = ("mass", "affluent", "private", "business", "student")
ROW_FILTER = "region = 'EU'"
# What the last4 mask keeps of a card number, written by hand for the raw peer.
LAST4 = ("CASE WHEN card_number IS NULL THEN NULL ELSE repeat('*', greatest(length("
         "card_number) - 4, 0)) || right(card_number, 4) END")


@dataclass
class Query:
    name: str
    governed: str  # what the data scientist sends to Charter
    raw: str  # the same question over read_parquet, filter and mask written by hand


def _in(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


QUERIES = [
    Query("filter (count, sum)",
          "SELECT count(*) AS n, sum(amount) AS total FROM bank.transactions "
          "WHERE amount > 900 AND category IN ('travel', 'dining')",
          "SELECT count(*) AS n, sum(amount) AS total FROM {tx} "
          f"WHERE {ROW_FILTER} AND amount > 900 AND category IN ('travel', 'dining')"),
    Query("aggregate (group by)",
          "SELECT category, count(*) AS n, sum(amount) AS total, avg(amount) AS mean "
          "FROM bank.transactions GROUP BY category ORDER BY category",
          "SELECT category, count(*) AS n, sum(amount) AS total, avg(amount) AS mean "
          f"FROM {{tx}} WHERE {ROW_FILTER} GROUP BY category ORDER BY category"),
    Query("join (by segment)",
          "SELECT c.segment, count(*) AS n, sum(t.amount) AS total "
          "FROM bank.transactions t JOIN bank.customers c ON t.customer_id = c.customer_id "
          "GROUP BY c.segment ORDER BY c.segment",
          "SELECT c.segment, count(*) AS n, sum(t.amount) AS total "
          "FROM {tx} t JOIN {cust} c ON t.customer_id = c.customer_id "
          f"WHERE t.{ROW_FILTER} GROUP BY c.segment ORDER BY c.segment"),
    Query("lookup (masked column)",
          "SELECT id, customer_id, card_number, amount FROM bank.transactions "
          "WHERE amount >= 999.5 ORDER BY id",
          f"SELECT id, customer_id, {LAST4} AS card_number, amount FROM {{tx}} "
          f"WHERE {ROW_FILTER} AND amount >= 999.5 ORDER BY id"),
]


# -- data --------------------------------------------------------------------------------

def transactions(con: duckdb.DuckDBPyConnection, start: int, n: int) -> pa.Table:
    """Rows `start` .. `start + n` of the synthetic card transactions: a pure function of
    the row number (DuckDB's hash of 16 * row + column), so every run writes the same data."""
    return con.sql(f"""
        SELECT i AS id,
               CAST(hash(i * 16 + 1) % {CUSTOMERS} AS BIGINT) AS customer_id,
               CAST(hash(i * 16 + 2) % 100000 AS DOUBLE) / 100 AS amount,
               [{_in(REGIONS)}][1 + CAST(hash(i * 16 + 3) % {len(REGIONS)} AS INTEGER)] AS region,
               [{_in(CATEGORIES)}][1 + CAST(hash(i * 16 + 4) % {len(CATEGORIES)} AS INTEGER)]
                   AS category,
               lpad(CAST(hash(i * 16 + 5) % 10000000000000000 AS VARCHAR), 16, '4') AS card_number
        FROM range({start}, {start + n}) r(i)""").to_arrow_table()


def customers(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return con.sql(f"""
        SELECT CAST(i AS BIGINT) AS customer_id,
               [{_in(SEGMENTS)}][1 + CAST(hash(i * 16 + 6) % {len(SEGMENTS)} AS INTEGER)]
                   AS segment,
               [{_in(REGIONS)}][1 + CAST(hash(i * 16 + 7) % {len(REGIONS)} AS INTEGER)] AS region,
               'customer' || i || '@example.com' AS email
        FROM range({CUSTOMERS}) r(i)""").to_arrow_table()


def scan(paths: list[str]) -> str:
    """DuckDB's own Parquet reader over `paths`. `union_by_name` reads every file's footer
    when the query is bound; on this data it makes the join about 1.5x faster and the other
    queries no slower, so the raw peer gets it too."""
    return f"read_parquet({paths!r}, union_by_name = true)"


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# -- the platform ------------------------------------------------------------------------

@dataclass
class Lake:
    runtime: Runtime
    admin: Client  # the platform administrator, who created and loaded the tables
    analyst: Client  # the analyst, through `charter server` over HTTP
    analyst_token: str
    files: dict[str, list[str]]  # table -> its Parquet data files

    def forget(self, *, plans: bool) -> None:
        """Drop what Charter keeps by query text, and with `plans` each caller's table
        plans too, as a write operation would leave them stale."""
        _sql._kept_parse.cache_clear()
        _sql._kept_prepare.cache_clear()
        self.runtime.cache.pop("lake.checked", None)
        if plans:
            self.runtime.cache.pop("lake.readable", None)

    def service_query(self, sql: str) -> pa.Table:
        """The same governed query one layer down: `lake.service.query` with the analyst's
        authenticated context, as the route calls it, without HTTP and Arrow IPC."""
        ctx = Context(self.runtime, identity.authenticate(self.runtime, self.analyst_token),
                      new_request_id(), source="sdk")
        return service.query(ctx, ACCOUNT, sql)


def data_files(runtime: Runtime, table: str) -> list[str]:
    iceberg = _iceberg.load(runtime, ACCOUNT, "bank", table)
    return [t.file.file_path.removeprefix("file://") for t in iceberg.scan().plan_files()]


def load(client: Client, rows: int) -> None:
    """The producer's tables, ingested through the API in Parquet batches."""
    gen = duckdb.connect()
    client.lake.ingest(ACCOUNT, "bank.customers", parquet(customers(gen)), format="parquet",
                       mode="create")
    for start in range(0, rows, BATCH_ROWS):
        data = parquet(transactions(gen, start, min(BATCH_ROWS, rows - start)))
        client.lake.ingest(ACCOUNT, "bank.transactions", data, format="parquet",
                           mode="create" if start == 0 else "append")
    gen.close()


@contextmanager
def lake(rows: int) -> Iterator[Lake]:
    """A platform with the retail data domain, `rows` transactions, and an analyst whose
    group holds data-scientist on the account and masked, row-filtered grants."""
    with tempfile.TemporaryDirectory(prefix="charter-bench-lake-") as tmp:
        runtime = build_runtime(Settings(home=Path(tmp), database_url=None))
        try:
            token = initialize(runtime).admin_token
            assert token
            app = create_app(runtime=runtime)
            with Client(token=token, app=app) as admin:
                admin.accounts.create(ACCOUNT, ou="/workloads/data/prod", blueprint="data-domain",
                                      tags={"owner": "retail", "cost-center": "cc-9"})
                admin.lake.create_domain("retail", account=ACCOUNT)
                admin.lake.create_database(ACCOUNT, "bank")
                start = time.perf_counter()
                load(admin, rows)
                print(f"   (ingested {rows:,} transactions and {CUSTOMERS:,} customers "
                      f"through the API in {time.perf_counter() - start:.1f} s)", flush=True)
                admin.groups.create(GROUP)
                admin.users.create(USER, groups=[GROUP])
                admin.assignments.create(permission_set="data-scientist", group=GROUP,
                                         account=ACCOUNT)
                admin.lake.grant(ACCOUNT, "bank.transactions", to=f"group:{GROUP}",
                                 masks={"card_number": "last4"}, row_filter=ROW_FILTER)
                admin.lake.grant(ACCOUNT, "bank.customers", to=f"group:{GROUP}",
                                 masks={"email": "hash"})
                analyst_token = admin.tokens.create(user=USER)["token"]
                with server(tmp) as url, Client(url=url, token=analyst_token) as analyst:
                    files = {t: data_files(runtime, t) for t in ("transactions", "customers")}
                    yield Lake(runtime, admin, analyst, analyst_token, files)
        finally:
            runtime.close()


# -- measuring ---------------------------------------------------------------------------

def race(contenders: dict[str, Callable[[], Any]], repeat: int
         ) -> dict[str, tuple[Any, list[float]]]:
    """(last result, milliseconds of each round) of each contender over `repeat` rounds,
    after a warm-up round; each round runs every contender once, so drift hits all alike."""
    results = {name: fn() for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            start = time.perf_counter()
            results[name] = fn()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: (results[name], samples[name]) for name in contenders}


@contextmanager
def capture_runs() -> Iterator[list[tuple[tuple[Any, ...], float]]]:
    """Record the arguments and duration of every `_query.run` the service makes."""
    original, calls = lake_query.run, []

    def recording(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            calls.append((args, time.perf_counter() - start))

    lake_query.run = recording
    try:
        yield calls
    finally:
        lake_query.run = original


def same(governed: pa.Table, raw: pa.Table) -> bool:
    """Same rows, up to the last bits of floating-point sums."""
    if governed.num_rows != raw.num_rows or governed.column_names != raw.column_names:
        return False
    for a, b in zip(governed.to_pylist(), raw.to_pylist(), strict=True):
        for key, x in a.items():
            y = b[key]
            if isinstance(x, float) and isinstance(y, float):
                if abs(x - y) > 1e-9 * max(1.0, abs(x)):
                    return False
            elif x != y:
                return False
    return True


def plain_views(views: dict[str, str], sources: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB, opened once and not locked down, with Charter's views of the query."""
    con = duckdb.connect()
    for name, source in sources.items():
        if source.arrow is not None:
            con.register(name, source.arrow)
    for name, select in views.items():
        con.execute(f"CREATE VIEW {name} AS {select}")
    return con


def with_run_time(fn: Callable[[], Any], into: list[float]) -> Callable[[], Any]:
    """`fn`, also noting in `into` how long the `_query.run` inside it took (ms)."""
    def call() -> Any:
        with capture_runs() as runs:
            result = fn()
        into.append(runs[-1][1] * 1e3)
        return result
    return call


def outside_run(totals: list[float], runs: list[float]) -> float:
    """Median of each call's time outside `_query.run` (`runs` starts with the warm-up)."""
    return statistics.median(t - r for t, r in zip(totals, runs[1:], strict=True))


def measure(lk: Lake, raw: duckdb.DuckDBPyConnection, tables: dict[str, str], q: Query,
            repeat: int) -> tuple[list[Row], list[Row]]:
    """The query's rows in the main table and in the breakdown."""
    with capture_runs() as runs:  # the views Charter builds for this query
        lk.service_query(q.governed)
    (_, sql, sources, views, *_), _ = runs[-1]
    plain, in_service = plain_views(views, sources), []
    try:
        timings = race({
            "service": with_run_time(lambda: lk.service_query(q.governed), in_service),
            "raw": lambda: raw.sql(q.raw.format(**tables)).to_arrow_table(),
            "api": lambda: lk.analyst.lake.query(ACCOUNT, q.governed),
            "new text": lambda: (lk.forget(plans=False), lk.service_query(q.governed))[1],
            "cold": lambda: (lk.forget(plans=True), lk.service_query(q.governed))[1],
            "plain": lambda: plain.sql(sql).to_arrow_table(),
        }, repeat)
    finally:
        plain.close()
    expected = timings["raw"][0]
    for name in ("service", "api", "plain", "new text", "cold"):
        assert same(timings[name][0], expected), f"{q.name}: {name} and raw DuckDB disagree"
    t_service, t_api, t_raw, t_plain, t_new, t_cold = (
        statistics.median(timings[n][1])
        for n in ("service", "api", "raw", "plain", "new text", "cold"))
    rows = [Row(f"{q.name}, {expected.num_rows:,} rows out: lake.service.query", t_service,
                t_raw, "ms", f"<= {TARGET}x raw", t_service / t_raw <= TARGET),
            Row("  the same over HTTP: client.lake.query", t_api, t_raw, "ms",
                f"<= {TARGET}x raw", t_api / t_raw <= TARGET)]
    return rows, [
        Row(f"{q.name}: lake.service.query", t_service, t_raw, "ms"),
        Row("  _query.run (locked DuckDB)", statistics.median(in_service[1:]), t_raw, "ms"),
        Row("  authenticate, authorize, grants, plan, audit",
            outside_run(timings["service"][1], in_service), None, "ms"),
        Row("  a query text seen for the first time", t_new, t_raw, "ms"),
        Row("  the first query after a write: nothing kept", t_cold, t_raw, "ms"),
        Row("  the same views in a plain DuckDB, opened once", t_plain, t_raw, "ms"),
        Row("  over HTTP: request, JSON, Arrow IPC (API - service)", t_api - t_service, None,
            "ms")]


def transport_floor(lk: Lake, repeat: int) -> float:
    """Median ms of GET /healthz from the same HTTP client: no auth, no audit."""
    return statistics.median(race({"healthz": lk.analyst.healthz}, repeat * 10)["healthz"][1])


def bench(lk: Lake, rows: int, repeat: int) -> None:
    tables = {"tx": scan(lk.files["transactions"]), "cust": scan(lk.files["customers"])}
    main_rows, parts = [], []
    with duckdb.connect() as raw:
        for q in QUERIES:
            mine, breakdown = measure(lk, raw, tables, q, repeat)
            main_rows += mine
            parts += breakdown
    parts.append(Row("HTTP floor: GET /healthz", transport_floor(lk, repeat), None,
                     "ms"))
    n_files = len(lk.files["transactions"])
    print_table(f"Governed queries over {rows:,} rows ({n_files} Parquet files; grant: "
                f"last4 mask on card_number, row filter {ROW_FILTER}); median of {repeat}",
                "a data scientist's governed query: authenticate, authorize, effective "
                "grants, plan, locked DuckDB, audit; then the same over HTTP",
                "raw DuckDB, read_parquet of the same files, filter and mask by hand",
                main_rows)
    print_table("Where Charter's time goes (medians, ms; \"else\" and its parts are medians "
                "of per-call differences)", "the part named in the row",
                "raw DuckDB, as above", parts)


def main(quick: bool = False) -> None:
    rows = 1_000_000 if quick else 10_000_000
    with lake(rows) as lk:
        bench(lk, rows, repeat=5 if quick else 11)


if __name__ == "__main__":
    main(parse_quick())
