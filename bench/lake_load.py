"""Lake query load benchmark: what one principal's burst of big queries does to others.

Against `charter server` (SQLite, one process), one analyst sends big governed queries
(an IN list of about 80 KB of text) from several threads at once, again and again, while
two other callers measure, one request at a time: `whoami` by another user, and a small
governed query by a second analyst. The peer is the same two measurements with no load.
The analyst's refused queries (`too_many_queries`) are counted beside the ones that ran.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Row, parse_quick, percentiles, print_table, server
from charter.api.app import create_app
from charter.errors import CharterError
from charter.platform.bootstrap import initialize
from charter.platform.runtime import build_runtime
from charter.sdk import Client
from charter.settings import Settings

ACCOUNT = "retail-data"
ROWS = 20_000
BIG_IN_LIST = 12_800  # literals: about 80 KB of query text
SMALL = "SELECT region, count(*) AS n FROM bank.customers GROUP BY region ORDER BY region"


def big_query() -> str:
    values = ", ".join(str(i) for i in range(BIG_IN_LIST))
    return f"SELECT id, region FROM bank.customers WHERE id IN ({values})"


def setup(client: Client) -> dict[str, str]:
    """The retail domain, one table, two analysts with a row-filtered grant, and a user
    who only asks `whoami`; returns their tokens."""
    client.accounts.create(ACCOUNT, ou="/workloads/data/prod", blueprint="data-domain",
                           tags={"owner": "retail", "cost-center": "cc-9"})
    client.lake.create_domain("retail", account=ACCOUNT)
    client.lake.create_database(ACCOUNT, "bank")
    rows = "".join(f"{i},n{i},{('EU', 'US')[i % 2]}\n" for i in range(ROWS))
    client.lake.ingest(ACCOUNT, "bank.customers", ("id,name,region\n" + rows).encode(),
                       mode="create")
    client.groups.create("retail-analysts")
    client.assignments.create(permission_set="data-scientist", group="retail-analysts",
                              account=ACCOUNT)
    client.lake.grant(ACCOUNT, "bank.customers", to="group:retail-analysts",
                      row_filter="region = 'EU'")
    tokens = {}
    for user, groups in (("mallory", ["retail-analysts"]), ("ana", ["retail-analysts"]),
                         ("wendy", [])):
        client.users.create(user, groups=groups)
        tokens[user] = client.tokens.create(user=user)["token"]
    return tokens


def timings(fn: Callable[[], Any], seconds: float) -> list[float]:
    """Milliseconds of each call of `fn`, one after the other, for `seconds`."""
    out, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e3)
    return out


def burst(url: str, token: str, threads: int, stop: threading.Event) -> Counter[str]:
    """`threads` callers with one token, each sending the big query until `stop`."""
    outcomes: Counter[str] = Counter()
    sql = big_query()

    def loop() -> None:
        with Client(url=url, token=token, timeout=600) as client:
            while not stop.is_set():
                try:
                    client.lake.query(ACCOUNT, sql)
                    outcomes["ran"] += 1
                except CharterError as error:
                    outcomes[error.code] += 1
                    time.sleep(0.05)  # a refused caller retries, as a script would

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    stop.wait()
    for worker in workers:
        worker.join()
    return outcomes


def measure(url: str, tokens: dict[str, str], threads: int, seconds: float) -> list[Row]:
    with Client(url=url, token=tokens["wendy"]) as wendy, \
            Client(url=url, token=tokens["ana"]) as ana:
        def small() -> None:
            ana.lake.query(ACCOUNT, SMALL)

        for fn in (wendy.whoami, small):  # warm up
            fn()
        idle = {"whoami": timings(wendy.whoami, seconds / 2),
                "query": timings(small, seconds / 2)}
        stop, outcomes = threading.Event(), Counter[str]()
        attacker = threading.Thread(target=lambda: outcomes.update(
            burst(url, tokens["mallory"], threads, stop)))
        attacker.start()
        time.sleep(1.0)  # let the burst start
        try:
            loaded = {"whoami": timings(wendy.whoami, seconds / 2),
                      "query": timings(small, seconds / 2)}
        finally:
            stop.set()
            attacker.join()
    rows = []
    for name, label in (("whoami", "whoami (another user)"),
                        ("query", "a small query (another analyst)")):
        busy, calm = percentiles(loaded[name]), percentiles(idle[name])
        rows += [Row(f"{label}, p50", busy["p50"], calm["p50"], "ms"),
                 Row(f"{label}, p99", busy["p99"], calm["p99"], "ms"),
                 Row(f"{label}, max", max(loaded[name]), max(idle[name]), "ms")]
    print(f"   (the burst's queries: {dict(outcomes)})", flush=True)
    return rows


def main(quick: bool = False) -> None:
    threads, seconds = (3, 4.0) if quick else (6, 20.0)
    print(f"   (load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="charter-bench-load-") as tmp:
        runtime = build_runtime(Settings(home=Path(tmp), database_url=None))
        try:
            token = initialize(runtime).admin_token
            assert token
            with Client(token=token, app=create_app(runtime=runtime)) as admin:
                tokens = setup(admin)
        finally:
            runtime.close()
        with server(tmp) as url:
            rows = measure(url, tokens, threads, seconds)
    print_table(f"Others' latency while one analyst sends {threads} big queries at once",
                f"{threads} x {len(big_query()):,}-character queries by one analyst",
                "the same requests with no load", rows)


if __name__ == "__main__":
    main(parse_quick())
