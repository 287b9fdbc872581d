"""Governed lake queries with objects on S3 against the same on local disk.

The same tables (transactions in several Parquet files, and customers) are ingested into two
platforms, one keeping its objects in a local directory (the default) and one on an S3 API
server on this machine (moto's standalone server, a Python process: slower than S3 itself
for a single stream, much nearer). A data scientist then runs an aggregate under a masked,
row-filtered grant:

- local: repeated (a warm server), and as the first query of a new process;
- S3, cold: the first query of a new process with no local copies: every data file of the
  snapshot is fetched, checked against its ETag and kept under CHARTER_HOME/lake-cache;
- S3, warm copies: the first query of a new process whose copies are there: one HEAD per
  file, then DuckDB reads the copies;
- S3, repeated: a warm server (the plan and its copies kept);
- S3 through Arrow: what every query would cost without copies, reading the snapshot with
  pyiceberg into Arrow (DuckDB cannot read s3:// here; docs/design.md, "Objects on S3").
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
from pyarrow import fs as pafs
from pydantic import SecretStr

from _common import Row, _free_port, parse_quick, print_table
from charter.api.app import create_app
from charter.core.context import Context, Runtime
from charter.core.ids import new_request_id
from charter.identity import service as identity
from charter.lake import _iceberg, service
from charter.platform.bootstrap import initialize
from charter.platform.runtime import build_runtime
from charter.sdk import Client
from charter.settings import Settings
from lake_query import customers, parquet, same, transactions

ACCOUNT, GROUP, USER = "retail-data", "retail-analysts", "ana"
BATCH_ROWS = 500_000
SQL = ("SELECT category, count(*) AS n, sum(amount) AS total FROM bank.transactions "
       "GROUP BY category ORDER BY category")
MOTO = str(Path(sys.executable).parent / "moto_server")


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free port, with one bucket `bench`; its endpoint."""
    port = _free_port()
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
            time.sleep(0.05)
        pafs.S3FileSystem(endpoint_override=endpoint, access_key="bench", secret_key="bench",
                          region="us-east-1", allow_bucket_creation=True).create_dir("bench")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def make_lake(settings: Settings, rows: int) -> str:
    """Initialise a platform in `settings.home`, load the tables, grant the analyst;
    return the analyst's token."""
    runtime = build_runtime(settings)
    try:
        token = initialize(runtime).admin_token
        assert token
        with Client(token=token, app=create_app(runtime=runtime)) as admin:
            admin.accounts.create(ACCOUNT, ou="/workloads/data/prod", blueprint="data-domain",
                                  tags={"owner": "retail", "cost-center": "cc-9"})
            admin.lake.create_domain("retail", account=ACCOUNT)
            admin.lake.create_database(ACCOUNT, "bank")
            gen = duckdb.connect()
            admin.lake.ingest(ACCOUNT, "bank.customers", parquet(customers(gen)),
                              format="parquet", mode="create")
            for start in range(0, rows, BATCH_ROWS):
                data = parquet(transactions(gen, start, min(BATCH_ROWS, rows - start)))
                admin.lake.ingest(ACCOUNT, "bank.transactions", data, format="parquet",
                                  mode="create" if start == 0 else "append")
            gen.close()
            admin.groups.create(GROUP)
            admin.users.create(USER, groups=[GROUP])
            admin.assignments.create(permission_set="data-scientist", group=GROUP,
                                     account=ACCOUNT)
            admin.lake.grant(ACCOUNT, "bank.transactions", to=f"group:{GROUP}",
                             masks={"card_number": "last4"}, row_filter="region = 'EU'")
            return admin.tokens.create(user=USER)["token"]
    finally:
        runtime.close()


def query(runtime: Runtime, token: str) -> pa.Table:
    ctx = Context(runtime, identity.authenticate(runtime, token), new_request_id(),
                  source="sdk")
    return service.query(ctx, ACCOUNT, SQL)


def first_query(settings: Settings, token: str, before: Callable[[], Any] = lambda: None,
                repeat: int = 3) -> tuple[float, pa.Table]:
    """Median ms of the first query of a new process (a fresh runtime; `before` runs
    first, untimed), and its result."""
    samples, result = [], None
    for _ in range(repeat):
        before()
        runtime = build_runtime(settings)
        try:
            start = time.perf_counter()
            result = query(runtime, token)
            samples.append((time.perf_counter() - start) * 1e3)
        finally:
            runtime.close()
    return statistics.median(samples), result


def repeated(settings: Settings, token: str, repeat: int) -> tuple[float, pa.Table]:
    runtime = build_runtime(settings)
    try:
        result = query(runtime, token)
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = query(runtime, token)
            samples.append((time.perf_counter() - start) * 1e3)
        return statistics.median(samples), result
    finally:
        runtime.close()


def through_arrow(settings: Settings, repeat: int) -> float:
    """Median ms of reading the current snapshot with pyiceberg into Arrow."""
    runtime = build_runtime(settings)
    try:
        table = _iceberg.load(runtime, ACCOUNT, "bank", "transactions")
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            table.scan().to_arrow()
            samples.append((time.perf_counter() - start) * 1e3)
        return statistics.median(samples)
    finally:
        runtime.close()


def main(quick: bool = False) -> None:
    rows = 1_000_000 if quick else 4_000_000
    repeat = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="charter-bench-s3-") as tmp, \
            s3_server() as endpoint:
        local = Settings(home=Path(tmp) / "local", database_url=None)
        s3 = Settings(home=Path(tmp) / "s3", database_url=None, storage={
            "url": "s3://bench/objects", "endpoint_url": endpoint, "region": "us-east-1",
            "access_key_id": "bench", "secret_access_key": SecretStr("bench")})
        start = time.perf_counter()
        tokens = {"local": make_lake(local, rows), "s3": make_lake(s3, rows)}
        print(f"   (ingested {rows:,} transactions into each platform in "
              f"{time.perf_counter() - start:.1f} s)", flush=True)
        cache = s3.home / "lake-cache"
        t_local, expected = repeated(local, tokens["local"], repeat)
        t_local_first, r1 = first_query(local, tokens["local"])
        t_cold, r2 = first_query(s3, tokens["s3"],
                                 lambda: shutil.rmtree(cache, ignore_errors=True))
        size = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
        n_files = sum(1 for p in cache.rglob("*") if p.is_file())
        t_warm_first, r3 = first_query(s3, tokens["s3"])
        t_s3, r4 = repeated(s3, tokens["s3"], repeat)
        t_arrow = through_arrow(s3, repeat)
        for result in (r1, r2, r3, r4):
            assert same(result, expected), "S3 and local answers differ"
    print_table(
        f"A governed aggregate over {rows:,} rows ({n_files} Parquet files, "
        f"{size / 2**20:.0f} MiB on S3) with objects on S3, against the same on local "
        f"disk; medians of {repeat} (first queries: of 3)",
        "objects on S3 (moto_server on loopback)", "objects in a local directory", [
            Row("repeated query (warm server)", t_s3, t_local, "ms"),
            Row("first query of a new process, local copies present", t_warm_first,
                t_local_first, "ms"),
            Row("first query of a new process, no local copies (cold)", t_cold,
                t_local_first, "ms"),
            Row("reading the snapshot through pyiceberg into Arrow (no copies)", t_arrow,
                t_local, "ms"),
        ])


if __name__ == "__main__":
    main(parse_quick())
