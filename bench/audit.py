"""Audit trail benchmarks, on SQLite and PostgreSQL.

1. Hash-chained appends per second in batches (`chain.append`), against plain inserts of
   the same rows, with precomputed dummy hashes, into an identical table.
2. Time to verify a long trail end to end (`chain.verify`), against a plain ordered scan
   of the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from _common import Row, fresh_database, parse_quick, postgres_available, print_table, timed
from charter.audit import chain
from charter.audit.orm import AuditEvent
from charter.core.db import Database

KEY = bytes(range(32))  # records are HMACs under the platform's audit key, as in production
BATCH = 1_000
FILL_BATCH = 10_000
APPEND_TARGET = 20_000  # audited appends/s
VERIFY_TARGET_S = 5.0
_T0 = datetime(2025, 1, 1, tzinfo=UTC)
_ACTIONS = ("org:DescribeAccount", "identity:WhoAmI", "org:UpdateAccount", "audit:ListEvents")


def records(start: int, n: int) -> list[chain.AuditRecord]:
    """`n` realistic records numbered from `start`: one in ten denied, with details."""
    out = []
    for i in range(start, start + n):
        account = f"team-{i % 30:02d}-{('dev', 'test', 'prod')[i % 3]}"
        denied = i % 10 == 0
        out.append(chain.AuditRecord(
            principal=f"user-{i % 300:04d}", account=account, action=_ACTIONS[i % 4],
            resource=f"crn:{account}:org:account/{account}",
            decision="deny" if denied else "allow", outcome="denied" if denied else "success",
            request_id=f"req-{i:032x}", source="api",
            error_code="access_denied" if denied else None,
            reason="no permission set assigned in account permits it" if denied
            else "permitted by assignment:asg-0123456789abcdef",
            details={"ip": f"10.0.{i % 256}.{i % 199}"} if denied else None,
            time=_T0 + timedelta(milliseconds=i)))
    return out


def plain_rows(recs: list[chain.AuditRecord], start_seq: int) -> list[dict[str, Any]]:
    """The rows `chain.append` would write, with dummy hashes instead of the chain."""
    return [{
        "seq": start_seq + k, "time": r.time, "principal": r.principal, "account": r.account,
        "action": r.action, "resource": r.resource, "decision": r.decision,
        "outcome": r.outcome, "error_code": r.error_code, "reason": r.reason,
        "request_id": r.request_id, "source": r.source,
        "details": json.dumps(r.details, sort_keys=True) if r.details else None,
        "prev_hash": "0" * 64, "hash": "f" * 64,
    } for k, r in enumerate(recs)]


def append_chained(db: Database, batches: Iterable[list[chain.AuditRecord]]) -> None:
    for batch in batches:
        with db.transaction() as session:
            chain.append(session, batch, key=KEY)


# Two plain ways to insert the same rows: SQLAlchemy Core executemany on the table, and the
# ORM-enabled bulk insert that `chain.append` itself uses.
PLAIN_INSERTS = {
    "Core insert(table)": lambda session, rows: session.execute(
        insert(AuditEvent.__table__), rows),
    "ORM insert(AuditEvent)": lambda session, rows: session.execute(insert(AuditEvent), rows),
}


def insert_plain(db: Database, batches: list[list[dict[str, Any]]], how: str) -> None:
    for rows in batches:
        with db.transaction() as session:
            PLAIN_INSERTS[how](session, rows)


def bench_appends(backend: str, n: int) -> None:
    batches = [records(s, BATCH) for s in range(0, n, BATCH)]
    plain = [plain_rows(b, s + 1) for s, b in zip(range(0, n, BATCH), batches, strict=True)]
    with fresh_database(backend) as db:
        _, t_chain = timed(append_chained, db, batches)
    rate, rows = n / t_chain, []
    for how in PLAIN_INSERTS:
        with fresh_database(backend) as db:
            _, t_plain = timed(insert_plain, db, plain, how)
        rows.append(Row(f"appends/s vs {how}", rate, n / t_plain, "/s"))
    rows[0].target, rows[0].met = f">= {APPEND_TARGET:,}/s", rate >= APPEND_TARGET
    print_table(f"Audit appends/s on {backend}, {n:,} records in batches of {BATCH:,}",
                "chain.append (hash chain, head lock)",
                "INSERT of the same rows with dummy hashes into an identical table", rows)


def scan(db: Database) -> int:
    """Read every record in chain order, hashing nothing: the floor for verify."""
    with db.transaction() as session:
        result = session.execute(text("SELECT * FROM audit_events ORDER BY seq")
                                 .execution_options(yield_per=50_000))
        return sum(1 for _ in result)


def verify(db: Database) -> chain.VerifyResult:
    with db.transaction() as session:
        return chain.verify(session, key=KEY)


def bench_verify(backend: str, n: int) -> None:
    with fresh_database(backend) as db:
        _, t_fill = timed(append_chained, db, (records(s, FILL_BATCH)
                                               for s in range(0, n, FILL_BATCH)))
        result, t_verify = timed(verify, db)
        assert result.ok and result.records == n, result
        count, t_scan = timed(scan, db)
        assert count == n
    print_table(f"Audit verify on {backend}, {n:,} records "
                f"(filled at {n / t_fill:,.0f} appends/s in batches of {FILL_BATCH:,})",
                "chain.verify (read, re-hash, check links)",
                "SELECT of the same rows in seq order, no hashing",
                [Row("seconds", t_verify, t_scan, "s", f"< {VERIFY_TARGET_S:g} s",
                     t_verify < VERIFY_TARGET_S),
                 Row("records/s", n / t_verify, n / t_scan, "/s")])


def main(quick: bool = False) -> None:
    backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
    for backend in backends:
        bench_appends(backend, 10_000 if quick else 100_000)
    for backend in backends:
        bench_verify(backend, 50_000 if quick else 1_000_000)


if __name__ == "__main__":
    main(parse_quick())
