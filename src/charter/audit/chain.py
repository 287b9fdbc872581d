"""The hash chain: append records under the head lock, and verify a trail end to end.

Key contracts:
- `append` runs in the caller's transaction: the record commits with the operation's
  effect or not at all.
- Each record's hash is sha256 over its own fields and the previous record's hash, so an
  edited, removed or reordered record breaks the chain at that record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from charter.audit.orm import AuditEvent, AuditHead
from charter.core.clock import as_utc, now

GENESIS = "0" * 64
_SEP = "\x1f"
LOG_ARCHIVE = "log-archive"


@dataclass
class AuditRecord:
    principal: str
    account: str
    action: str
    resource: str
    decision: str  # allow | deny
    outcome: str  # success | denied | error
    request_id: str
    source: str
    error_code: str | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None
    time: datetime = field(default_factory=now)


def record_hash(
    seq: int, time: datetime, principal: str, account: str, action: str, resource: str,
    decision: str, outcome: str, error_code: str | None, reason: str | None,
    request_id: str, source: str, details: str | None, prev_hash: str,
) -> str:
    canonical = _SEP.join((
        str(seq), as_utc(time).isoformat(), principal, account, action, resource, decision,
        outcome, error_code or "", reason or "", request_id, source, details or "", prev_hash,
    ))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def append(session: Session, records: Iterable[AuditRecord]) -> int:
    """Append records to the chain in the caller's transaction; returns the last seq."""
    head = _lock_head(session)
    seq, prev = head.seq, head.hash
    rows = []
    for rec in records:
        seq += 1
        t = as_utc(rec.time)
        details = json.dumps(rec.details, sort_keys=True, default=str) if rec.details else None
        digest = record_hash(
            seq, t, rec.principal, rec.account, rec.action, rec.resource, rec.decision,
            rec.outcome, rec.error_code, rec.reason, rec.request_id, rec.source, details, prev,
        )
        rows.append({
            "seq": seq, "time": t, "principal": rec.principal, "account": rec.account,
            "action": rec.action, "resource": rec.resource, "decision": rec.decision,
            "outcome": rec.outcome, "error_code": rec.error_code, "reason": rec.reason,
            "request_id": rec.request_id, "source": rec.source, "details": details,
            "prev_hash": prev, "hash": digest,
        })
        prev = digest
    if rows:
        session.execute(insert(AuditEvent), rows)
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return seq


@dataclass
class VerifyResult:
    ok: bool
    records: int
    head_seq: int
    first_bad_seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "records": self.records, "head_seq": self.head_seq,
            "first_bad_seq": self.first_bad_seq, "problem": self.problem,
        }


_COLUMNS = (
    "seq, time, principal, account, action, resource, decision, outcome, error_code, "
    "reason, request_id, source, details, prev_hash, hash"
)


def verify(session: Session, *, batch: int = 50_000) -> VerifyResult:
    """Walk the whole trail in order and report the first record that breaks the chain."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash)).one_or_none()
    head_seq, head_hash = head if head else (0, GENESIS)
    # yield_per on the statement, not the connection: Connection.execution_options()
    # changes the connection in place, and the operation's own audit INSERT that follows
    # on it would then run as a server-side cursor (a syntax error on PostgreSQL).
    result = session.execute(
        text(f"SELECT {_COLUMNS} FROM audit_events ORDER BY seq").execution_options(
            yield_per=batch)
    )
    with result:
        return _walk(result, head_seq, head_hash)


def _walk(result: Iterable[Any], head_seq: int, head_hash: str) -> VerifyResult:
    expected_seq, prev, count = 1, GENESIS, 0
    for row in result:
        (seq, t, principal, account, action, resource, decision, outcome, error_code,
         reason, request_id, source, details, prev_hash, digest) = row
        if seq != expected_seq:
            problem = "removed" if seq > expected_seq else "duplicated"
            return VerifyResult(False, count, head_seq, expected_seq,
                                f"record {expected_seq} is missing ({problem} or reordered)")
        if prev_hash != prev:
            return VerifyResult(False, count, head_seq, seq,
                                f"record {seq} does not link to record {seq - 1}")
        if isinstance(t, str):  # SQLite through a raw text() query
            t = datetime.fromisoformat(t)
        computed = record_hash(seq, t, principal, account, action, resource, decision, outcome,
                               error_code, reason, request_id, source, details, prev_hash)
        if computed != digest:
            return VerifyResult(False, count, head_seq, seq,
                                f"record {seq} was changed after it was written")
        prev, expected_seq, count = digest, expected_seq + 1, count + 1
    if count != head_seq or prev != head_hash:
        return VerifyResult(False, count, head_seq, count + 1,
                            f"the trail ends at record {count} but its head says {head_seq}: "
                            "records were removed from the end")
    return VerifyResult(True, count, head_seq)
