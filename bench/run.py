"""Run every Charter benchmark one after the other (`make bench`); `--quick` for a smoke run.

Benchmarks never fail on time: the exit code is 1 only if a benchmark itself crashed.
"""

from __future__ import annotations

import sys
import time
import traceback

import audit
import authz
import lake_load
import lake_query
import lake_s3
import throughput
import tracking
from _common import parse_quick

BENCHMARKS = {"authz": authz.main, "audit": audit.main, "lake_query": lake_query.main,
              "lake_load": lake_load.main, "lake_s3": lake_s3.main, "tracking": tracking.main,
              "throughput": throughput.main}


def main() -> int:
    quick = parse_quick()
    crashed = []
    for name, bench in BENCHMARKS.items():
        print(f"\n##### bench/{name}.py{' (quick)' if quick else ''}", flush=True)
        start = time.perf_counter()
        try:
            bench(quick)
        except Exception:
            traceback.print_exc()
            crashed.append(name)
        print(f"##### bench/{name}.py took {time.perf_counter() - start:.0f} s", flush=True)
    if crashed:
        print(f"\ncrashed: {', '.join(crashed)}", file=sys.stderr)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
