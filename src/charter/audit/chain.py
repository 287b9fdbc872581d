"""The hash chain: append records under the head lock, and verify a trail end to end.

Key contracts:
- `append` runs in the caller's transaction: the record commits with the operation's
  effect or not at all.
- Each record's hash is an HMAC-sha256 under the audit key over its own fields and the
  previous record's hash, so an edited, removed or reordered record breaks the chain at
  that record.
- Signed checkpoints of the head, kept outside the metadata database (`_checkpoint`),
  catch what the chain alone cannot: its newest records removed with the head moved back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from charter.access.records import AuditRecord
from charter.audit._records import GENESIS, record_hash, time_text
from charter.audit._verify import VerifyResult
from charter.audit._verify import verify_trail as verify
from charter.audit.orm import AuditEvent, AuditHead
from charter.core.accounts import LOG_ARCHIVE
from charter.core.clock import as_utc
from charter.errors import Unavailable

_EVENTS, _HEAD = AuditEvent.__table__, AuditHead.__table__


_MAX_SEQ = 2**63 - 1  # BIGINT


def _lock_head(conn: Connection) -> tuple[int, str]:
    """(seq, hash) of the chain's head, locked until the transaction ends."""
    head = conn.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
                        .with_for_update()).first()
    if head is None:
        if conn.execute(select(_EVENTS.c.seq).limit(1)).first() is not None:
            # Records without a head: the head row was removed. Refuse to start a second
            # chain beside the first; `charter audit verify` reports the damage.
            raise Unavailable("the audit trail's head record is missing; nothing can be "
                               "recorded until it is restored", code="audit_trail_damaged")
        conn.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS))
        return 0, GENESIS
    if (not isinstance(head.seq, int) or not 0 <= head.seq < _MAX_SEQ // 2
            or not isinstance(head.hash, str) or len(head.hash) != 64):
        raise Unavailable(f"the audit trail's head was changed (seq {head.seq!r}); nothing "
                          "can be recorded until it is restored", code="audit_trail_damaged")
    return head.seq, head.hash


def _free_run(conn: Connection, start: int, n: int) -> int:
    """The first seq from `start` on with n free seqs after it. Rows stored past the head
    were not appended through the chain; new records go around them (verify names them),
    so such a row never stops recording."""
    for _ in range(1000):
        if start + n - 1 > _MAX_SEQ:
            break
        taken = conn.execute(select(_EVENTS.c.seq).where(
            _EVENTS.c.seq.between(start, start + n - 1)).order_by(_EVENTS.c.seq.desc())
            .limit(1)).scalar()
        if taken is None:
            return start
        # Past the run of taken seqs that holds the one found, read a window at a time.
        start = int(taken) + 1
        window = set(conn.execute(select(_EVENTS.c.seq).where(
            _EVENTS.c.seq.between(start, min(start + 999, _MAX_SEQ)))).scalars())
        while start in window:
            start += 1
    raise Unavailable("the audit trail has too many rows past its head to find room for a "
                      "record; verifying the trail names them", code="audit_trail_damaged")


def append(session: Session, records: Iterable[AuditRecord], *, key: bytes = b"") -> int:
    """Append records to the chain in the caller's transaction; returns the last seq.

    A row already stored past the head was not appended through the chain (a forgery, or
    a write made around Charter): the new records go around it, still linked to the head,
    so the platform keeps recording and `verify` names that row.
    """
    # Core statements on the session's connection: appended on every operation, so the
    # ORM's per-statement work is worth skipping.
    conn = session.connection()
    head, prev = _lock_head(conn)
    records = list(records)
    seq = _free_run(conn, head + 1, len(records)) - 1 if records else head
    rows = []
    for rec in records:
        seq += 1
        t = as_utc(rec.time)
        details = json.dumps(rec.details, sort_keys=True, default=str) if rec.details else None
        digest = record_hash(
            seq, t, rec.principal, rec.account, rec.action, rec.resource, rec.decision,
            rec.outcome, rec.error_code, rec.reason, rec.request_id, rec.source, details, prev,
            key,
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
        # Every row has every key, so the rows go in one executemany.
        conn.execute(insert(_EVENTS), rows)
        conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev))
    return seq


__all__ = ["GENESIS", "LOG_ARCHIVE", "AuditRecord", "VerifyResult", "append", "record_hash",
           "time_text", "verify"]
