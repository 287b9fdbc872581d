"""The hash chain: append records under the head lock, and verify a trail end to end.

Key contracts:
- `append` runs in the caller's transaction: the record commits with the operation's
  effect or not at all. On PostgreSQL an operation `stage`s its records instead (no lock)
  and `chain_batch` chains many staged records at once under the head lock (see
  `_sequencer` and docs/design.md, "Group-committed appends").
- Each record's hash is an HMAC-sha256 under the audit key over its own fields and the
  previous record's hash, so an edited, removed or reordered record breaks the chain at
  that record.
- Signed checkpoints of the head, kept outside the metadata database (`_checkpoint`),
  catch what the chain alone cannot: its newest records removed with the head moved back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from charter.access.records import AuditRecord
from charter.audit._records import GENESIS, record_hash, time_text
from charter.audit._verify import VerifyResult
from charter.audit._verify import verify_trail as verify
from charter.audit.orm import AuditEvent, AuditHead, AuditPending
from charter.core.accounts import LOG_ARCHIVE
from charter.core.clock import as_utc
from charter.errors import Unavailable

_EVENTS, _HEAD, _PENDING = AuditEvent.__table__, AuditHead.__table__, AuditPending.__table__


_MAX_SEQ = 2**63 - 1  # BIGINT

# The statements every append runs, built once (building them cost about as much as
# running them).
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_LAST_TAKEN = select(_EVENTS.c.seq).where(
    _EVENTS.c.seq.between(bindparam("low"), bindparam("high"))).order_by(
    _EVENTS.c.seq.desc()).limit(1)
_INSERT_EVENTS = insert(_EVENTS)
_TAKE_STAGED = delete(_PENDING).where(_PENDING.c.id.in_(
    select(_PENDING.c.id).order_by(_PENDING.c.id).limit(bindparam("most"))
    .scalar_subquery())).returning(*_PENDING.c)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(
    seq=bindparam("new_seq"), hash=bindparam("new_hash"))


def _lock_head(conn: Connection) -> tuple[int, str]:
    """(seq, hash) of the chain's head, locked until the transaction ends."""
    head = conn.execute(_LOCK_HEAD).first()
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
        taken = conn.execute(_LAST_TAKEN, {"low": start, "high": start + n - 1}).scalar()
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


FIELDS = ("time", "principal", "account", "action", "resource", "decision", "outcome",
          "error_code", "reason", "request_id", "source", "details")


def fields(rec: AuditRecord) -> dict[str, Any]:
    """A record's stored fields (details as their JSON text), before it has a place in
    the chain."""
    details = json.dumps(rec.details, sort_keys=True, default=str) if rec.details else None
    return {"time": as_utc(rec.time), "principal": rec.principal, "account": rec.account,
            "action": rec.action, "resource": rec.resource, "decision": rec.decision,
            "outcome": rec.outcome, "error_code": rec.error_code, "reason": rec.reason,
            "request_id": rec.request_id, "source": rec.source, "details": details}


def _write(conn: Connection, head: int, prev: str, rows: list[dict[str, Any]],
           key: bytes) -> int:
    """Chain `rows` after the locked head (seq, hash); returns the last seq."""
    seq = _free_run(conn, head + 1, len(rows)) - 1 if rows else head
    chained = []
    for row in rows:
        seq += 1
        digest = record_hash(
            seq, row["time"], row["principal"], row["account"], row["action"],
            row["resource"], row["decision"], row["outcome"], row["error_code"],
            row["reason"], row["request_id"], row["source"], row["details"], prev, key,
        )
        chained.append({**row, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    if chained:
        # Every row has every key, so the rows go in one executemany.
        conn.execute(_INSERT_EVENTS, chained)
        conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})
    return seq


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
    return _write(conn, head, prev, [fields(r) for r in records], key)


def _chain_open() -> Any:
    """True where records may be written: a sound head, or a trail never started."""
    sound = exists().where(_HEAD.c.id == 1, _HEAD.c.seq >= 0, _HEAD.c.seq < _MAX_SEQ // 2,
                           func.length(_HEAD.c.hash) == 64)
    fresh = and_(~exists().where(_HEAD.c.id == 1), ~exists(select(_EVENTS.c.seq)))
    return or_(sound, fresh)


# Built once: every operation stages its record with it, and building the statement cost
# more than running it.
_STAGE = insert(_PENDING).from_select(
    list(FIELDS), select(*(bindparam(k, type_=_PENDING.c[k].type) for k in FIELDS))
    .where(_chain_open())).returning(_PENDING.c.id)


def stage(session: Session, records: Iterable[AuditRecord]) -> None:
    """Write records into the pending table in the caller's transaction (their operation's):
    committed with its effect or not at all, and chained by the sequencer right after the
    commit. No lock is taken. A trail whose head is damaged refuses them, as `append` does,
    so nothing is done that could not be chained."""
    conn = session.connection()
    for rec in records:
        done = conn.execute(_STAGE, fields(rec)).first()
        if done is None:
            raise Unavailable("the audit trail's head record is missing or was changed; "
                              "nothing can be recorded until it is restored",
                              code="audit_trail_damaged")


def chain_batch(session: Session, records: list[AuditRecord], *, key: bytes,
                limit: int = 2000) -> int:
    """One group commit: under the head lock, chain the oldest staged records (up to
    `limit`, in the order they were staged) and then `records`; returns how many staged
    records were chained (as many as `limit`: call again for the rest)."""
    conn = session.connection()
    head, prev = _lock_head(conn)
    staged: list[Any] = []
    if conn.dialect.name != "sqlite":  # SQLite chains in the operation's transaction
        # Taken after the lock is held, so every record another batch moved is gone; taken
        # out in the statement that reads them, so exactly the rows chained here leave
        # the table (one staged by a transaction that commits meanwhile, a lower id
        # committed later, waits for the next batch). Moved whole or not at all: the
        # delete commits with the inserts below.
        staged = sorted(conn.execute(_TAKE_STAGED, {"most": limit}).mappings(),
                        key=lambda row: row["id"])
    rows = [{k: s[k] for k in FIELDS} for s in staged] + [fields(r) for r in records]
    _write(conn, head, prev, rows, key)
    return len(staged)


__all__ = ["GENESIS", "LOG_ARCHIVE", "AuditRecord", "VerifyResult", "append", "chain_batch",
           "record_hash", "stage", "time_text", "verify"]
