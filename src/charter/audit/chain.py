"""The hash chain: append records under the head lock, and verify a trail end to end.

Key contracts:
- `append` runs in the caller's transaction: the record commits with the operation's
  effect or not at all.
- Each record's hash is sha256 over its own fields and the previous record's hash, so an
  edited, removed or reordered record breaks the chain at that record.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import lru_cache
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from charter.audit.orm import AuditEvent, AuditHead
from charter.core.clock import as_utc, now
from charter.core.text import escaped
from charter.errors import Unavailable

GENESIS = "0" * 64
_EVENTS, _HEAD = AuditEvent.__table__, AuditHead.__table__
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

    def __post_init__(self) -> None:
        # A record is written whatever text its request carried: characters the store
        # refuses are escaped and text longer than its column is cut, so the insert
        # cannot fail on them.
        for name, length in _TEXT_FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, escaped(value)[:length])


_TEXT_FIELDS = {f.name: getattr(_EVENTS.c[f.name].type, "length", None)
                for f in fields(AuditRecord) if f.name not in ("details", "time")}


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
    request_id: str, source: str, details: str | None, prev_hash: str, key: bytes = b"",
) -> str:
    """sha256 of the record's canonical form, or HMAC-sha256 under the platform's audit
    key: then rewriting the chain needs the key, not just write access to the database."""
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
    if key:
        mac = _keyed(key).copy()
        mac.update(canonical.encode())
        return mac.hexdigest()
    return sha256(canonical.encode()).hexdigest()


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    """The HMAC state after the key, copied per record (a third faster than hmac.digest)."""
    return hmac.new(key, digestmod=sha256)


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
    return head.seq, head.hash


def append(session: Session, records: Iterable[AuditRecord], *, key: bytes = b"") -> int:
    """Append records to the chain in the caller's transaction; returns the last seq."""
    # Core statements on the session's connection: appended on every operation, so the
    # ORM's per-statement work is worth skipping.
    conn = session.connection()
    seq, prev = _lock_head(conn)
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


# Verification lives beside the chain; it needs record_hash above, hence the late import.
from charter.audit._verify import VerifyResult  # noqa: E402
from charter.audit._verify import verify_trail as verify  # noqa: E402

__all__ = ["GENESIS", "AuditRecord", "VerifyResult", "append", "record_hash", "time_text",
           "verify"]
