"""The results of bench/throughput.py and their tables: each load's wrk figures beside what
the server answered and what its audit trail gained, the goals of the throughput issue, and
the tracking workload beside mlflow server's."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from _common import Row, print_table
from _wrk import Load

TARGET_SHARE, TARGET_P99_MS, TARGET_TRACKING_P99_MS, TARGET_RATIO = 0.40, 50, 100, 3.0


@dataclass(frozen=True)
class Check:
    """The audit trail after one load: what it gained against what was answered."""

    answered: int
    audited: int
    records: int  # chained and staged
    staged: int
    server_errors: int  # of the answered requests, those answered 5xx
    wrk_requests: int
    connections: int
    verified: bool
    verify_note: str
    replaced: int = 0  # worker processes that were new after the load

    @property
    def matches(self) -> bool:
        return self.records == self.audited

    @property
    def wrk_consistent(self) -> bool:
        return 0 <= self.answered - self.wrk_requests <= self.connections


@dataclass
class Measured:
    label: str
    load: Load
    served: int  # requests of this row that the server answered, cut off or not
    check: Check | None = None

    @property
    def served_rate(self) -> float:
        return self.served / self.load.seconds if self.load.seconds else 0.0


@dataclass
class Configuration:
    backend: str
    workers: int
    rows: list[Measured] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # the server's, most first

    @property
    def name(self) -> str:
        return f"{self.backend}, {self.workers} worker{'s' if self.workers > 1 else ''}"

    def rate(self, label: str) -> Measured | None:
        return next((m for m in self.rows if m.label == label), None)


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"  # no answer within the load
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def print_configuration(config: Configuration) -> None:
    header = ("load", "clients", "req/s", "served/s", "p50 ms", "p99 ms", "errors",
              "not 2xx", "answered", "wrk", "records", "match", "verify")
    cells = []
    for m in config.rows:
        load, check = m.load, m.check
        failed = ", ".join(f"{n} x {s}" for s, n in sorted(load.failed.items()))
        audit = ("", "", "", "", "") if check is None else (
            f"{check.answered:,}", f"{check.wrk_requests:,}", f"{check.records:,}",
            ("yes" if check.matches else "NO") + ("" if check.wrk_consistent else " (wrk!)"),
            "ok" if check.verified else "FAILED")
        cells.append((m.label, str(load.connections), f"{load.rps:,.0f}",
                      f"{m.served_rate:,.0f}", _ms(load.p50_ms),
                      _ms(load.p99_ms), str(load.socket_errors), failed or "0", *audit))
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    print(f"\n== charter server, {config.name}: requests/s and latency under N keep-alive "
          "clients (wrk)")
    for i, row in enumerate([header, *cells]):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for m in config.rows:
        _print_failures(m.label, m.load)
        check = m.check
        if check and check.replaced:
            print(f"   {m.label} at {m.load.connections} clients: {check.replaced} worker "
                  "process(es) replaced during the load (a worker that missed uvicorn's "
                  "health check)")
        if check and check.staged:
            print(f"   {m.label}: {check.staged} of the records still staged once the server "
                  "was idle (stored with their effect, not yet chained)")
        if check and not (check.verified and check.matches and check.wrk_consistent):
            print(f"   {m.label}: audit records {check.records:,} for {check.audited:,} "
                  f"audited requests; the server answered {check.answered:,} "
                  f"({check.server_errors:,} of them 5xx), wrk counted "
                  f"{check.wrk_requests:,} on {check.connections} connections; verify: "
                  f"{check.verify_note}")
    print("   req/s: answers wrk received a second; served/s: requests the server answered a "
          "second (its log), with those wrk cut off at the end;\n"
          "   answered: requests in the server's log during the load; wrk: those wrk counted "
          "(up to one per connection fewer; `wrk!` if more);\n"
          "   records: audit records added (chained or staged); match: records = answered "
          "requests that are audited (all but /healthz); the last row checks writers and "
          "readers together", flush=True)
    for n, line in config.errors:
        print(f"   the server's stderr: {n} x {line}")
    _print_goals(config)


def _print_failures(label: str, load: Load) -> None:
    """What the server said, for each status that was not 2xx (the first such body)."""
    for status, n in sorted(load.failed.items()):
        print(f"   {label} at {load.connections} clients: {n} x {status}, e.g. "
              f"{load.samples.get(status, '')[:300]}")


def _print_goals(config: Configuration) -> None:
    floor = config.rate("GET /healthz")
    whoami = {m.load.connections: m.load for m in config.rows
              if m.label == "GET /v1/identity/whoami"}
    if floor and 10 in whoami:
        share = whoami[10].rps / floor.load.rps
        print(f"   whoami at 10 clients: {share:.0%} of /healthz's throughput "
              f"(goal >= {TARGET_SHARE:.0%}: {'met' if share >= TARGET_SHARE else 'NOT met'}); "
              f"p99 {_ms(whoami[10].p99_ms)} ms (goal < {TARGET_P99_MS} ms: "
              f"{'met' if whoami[10].p99_ms < TARGET_P99_MS else 'NOT met'})")
    if 10 in whoami and 50 in whoami:
        held = whoami[50].rps >= whoami[10].rps
        print(f"   whoami from 10 to 50 clients: {whoami[10].rps:,.0f} -> "
              f"{whoami[50].rps:,.0f} req/s (goal: does not fall: "
              f"{'met' if held else 'NOT met'})", flush=True)


def print_tracking(config: Configuration, peer: tuple[Measured, Measured], title: str,
                   charter: str, peer_text: str) -> None:
    """The tracking load (the last two rows of `config`) beside `peer`'s writers and
    readers."""
    mine_w, mine_r = config.rows[-2:]
    theirs_w, theirs_r = peer

    def row(metric: str, mine: float, theirs: float, unit: str = "", target: str = "-",
            met: bool | None = None) -> Row | None:
        # A load without a single answer has no latency to set beside another's.
        if math.isnan(mine):
            return None
        return Row(metric, mine, None if math.isnan(theirs) else theirs, unit, target, met)

    def times(mine: float, theirs: float) -> bool | None:
        return mine >= TARGET_RATIO * theirs if theirs else None

    def failures(m: Measured) -> int:
        return m.load.socket_errors + m.load.not_2xx

    at_least = f">= {TARGET_RATIO:.0f}x"
    rows = [
        row("log-batch writers, req/s (wrk)", mine_w.load.rps, theirs_w.load.rps, "", at_least,
            times(mine_w.load.rps, theirs_w.load.rps)),
        row("log-batch writers, served/s (server log)", mine_w.served_rate,
            theirs_w.served_rate, "", at_least, times(mine_w.served_rate, theirs_w.served_rate)),
        row("log-batch writers, p50", mine_w.load.p50_ms, theirs_w.load.p50_ms, "ms"),
        row("log-batch writers, p99", mine_w.load.p99_ms, theirs_w.load.p99_ms, "ms",
            f"< {TARGET_TRACKING_P99_MS} ms", mine_w.load.p99_ms < TARGET_TRACKING_P99_MS),
        row("log-batch writers, errors + not 2xx", failures(mine_w), failures(theirs_w), "",
            "0", failures(mine_w) == 0),
        row("readers, req/s (different reads)", mine_r.load.rps, theirs_r.load.rps),
        row("readers, served/s", mine_r.served_rate, theirs_r.served_rate),
        row("readers, p99", mine_r.load.p99_ms, theirs_r.load.p99_ms, "ms"),
        row("readers, errors + not 2xx", failures(mine_r), failures(theirs_r)),
    ]
    print_table(title, charter, peer_text, [r for r in rows if r is not None])
    for m in peer:
        _print_failures(f"mlflow server: {m.label}", m.load)
