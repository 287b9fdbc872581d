"""The hash chain: append records under the head lock, and verify a trail end to end.

Key contracts:
- `append` runs in the caller's transaction: the record commits with the operation's
  effect or not at all.
- Each record's hash is sha256 over its own fields and the previous record's hash, so an
  edited, removed or reordered record breaks the chain at that record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from charter.audit.orm import AuditEvent, AuditHead
from charter.core.clock import as_utc, now
from charter.errors import Unavailable

GENESIS = "0" * 64
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


def time_text(value: datetime | str) -> str:
    """The canonical text of a record's time: UTC, `YYYY-MM-DD HH:MM:SS.ffffff`.

    It is also how SQLite stores the column, so a verify on SQLite hashes the stored text
    as it comes, without parsing it.
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _f(value: str | None) -> str:
    return "-" if value is None else f"{len(value)}:{value}"


def record_hash(
    seq: int, time: datetime | str, principal: str, account: str, action: str, resource: str,
    decision: str, outcome: str, error_code: str | None, reason: str | None,
    request_id: str, source: str, details: str | None, prev_hash: str,
) -> str:
    # Length-prefixed fields, "-" for NULL: no two different records share a canonical form
    # (an empty string and NULL differ; a separator inside a value cannot shift fields).
    # One f-string: verify hashes a million of these.
    n, t = str(seq), time_text(time)
    canonical = (
        f"{len(n)}:{n}{len(t)}:{t}{len(principal)}:{principal}{len(account)}:{account}"
        f"{len(action)}:{action}{len(resource)}:{resource}{len(decision)}:{decision}"
        f"{len(outcome)}:{outcome}{_f(error_code)}{_f(reason)}"
        f"{len(request_id)}:{request_id}{len(source)}:{source}{_f(details)}"
        f"{len(prev_hash)}:{prev_hash}"
    )
    return sha256(canonical.encode()).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        if session.execute(select(AuditEvent.seq).limit(1)).first() is not None:
            # Records without a head: the head row was removed. Refuse to start a second
            # chain beside the first; `charter audit verify` reports the damage.
            raise Unavailable("the audit trail's head record is missing; nothing can be "
                               "recorded until it is restored", code="audit_trail_damaged")
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
        # render_nulls: every row has the same shape, so the rows go in one executemany
        # instead of one statement per combination of NULL columns.
        session.execute(insert(AuditEvent).execution_options(render_nulls=True), rows)
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


def _read_head(session: Session) -> tuple[int, str]:
    head = session.execute(select(AuditHead.seq, AuditHead.hash)).one_or_none()
    return (head[0], head[1]) if head else (0, GENESIS)


def verify(session: Session, *, batch: int = 50_000) -> VerifyResult:
    """Walk the whole trail in order and report the first record that breaks the chain.

    Safe while other transactions append: the head is read before the walk and again
    after it. Appenders commit a prefix of the chain together with its head (they hold
    the head lock), so the walk's snapshot must reach at least the first head and never
    pass the second one; records committed after the walk began are left for next time.
    """
    first_seq, first_hash = _read_head(session)
    # yield_per on the statement, not the connection: Connection.execution_options()
    # changes the connection in place, and the operation's own audit INSERT that follows
    # on it would then run as a server-side cursor (a syntax error on PostgreSQL).
    result = session.execute(
        text(f"SELECT {_COLUMNS} FROM audit_events ORDER BY seq").execution_options(
            yield_per=batch)
    )
    with result:
        walk = _walk(result, first_seq)
    last_seq, last_hash = _read_head(session)
    if walk.bad is not None:
        return VerifyResult(False, walk.count, last_seq, walk.bad[0], walk.bad[1])
    count = walk.count
    if count < first_seq or (first_seq and walk.hash_at_first != first_hash):
        return VerifyResult(False, count, max(first_seq, last_seq), min(count, first_seq) + 1,
                            f"the trail ends at record {count} but its head says {first_seq}: "
                            "records were removed from the end")
    if count > last_seq:
        return VerifyResult(False, count, last_seq, last_seq + 1,
                            f"record {last_seq + 1} lies beyond the chain head "
                            f"({last_seq}): it was not appended through the chain")
    if count == last_seq and walk.last_hash != last_hash:
        return VerifyResult(False, count, last_seq, count + 1,
                            f"the chain head does not match record {count}: "
                            "records were removed from the end")
    return VerifyResult(True, count, count)


@dataclass
class _Walk:
    count: int = 0
    last_hash: str = GENESIS
    hash_at_first: str | None = None
    bad: tuple[int, str] | None = None


def _walk(result: Iterable[Any], first_seq: int) -> _Walk:
    walk = _Walk()
    expected_seq, prev = 1, GENESIS
    for row in result:
        (seq, t, principal, account, action, resource, decision, outcome, error_code,
         reason, request_id, source, details, prev_hash, digest) = row
        if seq != expected_seq:
            problem = "removed" if seq > expected_seq else "duplicated"
            walk.bad = (expected_seq,
                        f"record {expected_seq} is missing ({problem} or reordered)")
            return walk
        if prev_hash != prev:
            walk.bad = (seq, f"record {seq} does not link to record {seq - 1}")
            return walk
        computed = record_hash(seq, t, principal, account, action, resource, decision, outcome,
                               error_code, reason, request_id, source, details, prev_hash)
        if computed != digest:
            walk.bad = (seq, f"record {seq} was changed after it was written")
            return walk
        prev, expected_seq, walk.count = digest, expected_seq + 1, walk.count + 1
        walk.last_hash = digest
        if seq == first_seq:
            walk.hash_at_first = digest
    return walk
