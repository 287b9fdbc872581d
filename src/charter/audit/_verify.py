"""Verifying the hash chain: every record re-hashed and linked to its predecessor.

Key contracts:
- The walk covers records 1..H where H is the head read first. Appenders commit records
  together with the head (under the head lock), so every record up to H is committed.
- Records appended while the walk runs are walked afterwards, up to a second head read.
  The highest stored seq is read *before* that head: a record above the second head was
  not appended through the chain (forged), never a late commit.
- Long trails are cut into ranges walked in parallel processes; each range reports the
  link its first record claims, and the ranges are stitched in order, so the first bad
  record is named exactly as a serial walk would name it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, func, pool, select
from sqlalchemy.orm import Session

from charter.audit._records import GENESIS, record_hash
from charter.audit.orm import AuditEvent, AuditHead

PARALLEL_FROM = 200_000  # below this, starting worker processes costs more than it saves
MAX_WORKERS = 4
_COLUMNS = ("seq, time, principal, account, action, resource, decision, outcome, error_code, "
            "reason, request_id, source, details, prev_hash, hash")


@dataclass
class VerifyResult:
    ok: bool
    records: int
    head_seq: int
    first_bad_seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "head_seq": self.head_seq,
                "first_bad_seq": self.first_bad_seq, "problem": self.problem}


@dataclass
class _Range:
    lo: int
    hi: int
    count: int = 0
    first_prev: str | None = None  # the link the record at `lo` claims
    last_hash: str | None = None
    bad: tuple[int, str] | None = None


def _walk(rows: Iterable[Any], lo: int, hi: int, key: bytes) -> _Range:
    """Walk one range; `count` is how many records checked out before the first fault, so
    a failed verify still says how much of the trail held."""
    walked = _Range(lo, hi)
    expected, prev = lo, None
    for (seq, t, principal, account, action, resource, decision, outcome, error_code, reason,
         request_id, source, details, prev_hash, digest) in rows:
        if seq != expected:
            walked.bad = (expected, f"record {expected} is missing (removed or reordered)")
            break
        if prev is None:
            walked.first_prev = prev_hash
        elif prev_hash != prev:
            walked.bad = (seq, f"record {seq} does not link to record {seq - 1}")
            break
        if record_hash(seq, t, principal, account, action, resource, decision, outcome,
                       error_code, reason, request_id, source, details, prev_hash,
                       key) != digest:
            walked.bad = (seq, f"record {seq} does not verify: changed after it was "
                               "written, or not written by Charter")
            break
        prev, expected = digest, expected + 1
    else:
        if expected <= hi:
            walked.bad = (expected, f"record {expected} is missing (removed from the end)")
    walked.count, walked.last_hash = expected - lo, prev
    return walked


def _walk_in(session: Session, lo: int, hi: int, key: bytes) -> _Range:
    # The driver's own cursor, streamed in batches: a million rows through SQLAlchemy's
    # Row objects cost a second more than the hashing saved by walking in parallel.
    raw = session.connection().connection.driver_connection
    columns = _COLUMNS
    if session.get_bind().dialect.name == "postgresql":
        # The canonical time text made by the server: no datetime objects to build.
        columns = columns.replace(" time,", " to_char(time AT TIME ZONE 'UTC', "
                                  "'YYYY-MM-DD HH24:MI:SS.US'),", 1)
        cursor = raw.cursor(name=f"charter_verify_{lo}")  # server-side: streams
    else:
        cursor = raw.cursor()
    sql = (f"SELECT {columns} FROM audit_events WHERE seq BETWEEN {int(lo)} AND {int(hi)} "
           "ORDER BY seq")
    try:
        cursor.execute(sql)
        return _walk(_batches(cursor), lo, hi, key)
    finally:
        cursor.close()


def _batches(cursor: Any, size: int = 20_000) -> Iterable[Any]:
    while rows := cursor.fetchmany(size):
        yield from rows


def _walk_range_process(url: str, lo: int, hi: int, key: bytes) -> _Range:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            return _walk_in(session, lo, hi, key)
    finally:
        engine.dispose()


def _ranges(lo: int, hi: int, parts: int) -> list[tuple[int, int]]:
    size = -(-(hi - lo + 1) // parts)
    return [(a, min(a + size - 1, hi)) for a in range(lo, hi + 1, size)]


def _walk_all(session: Session, head: int, key: bytes) -> list[_Range]:
    if head == 0:
        return []
    workers = min(os.cpu_count() or 1, MAX_WORKERS) if head >= PARALLEL_FROM else 1
    url = session.get_bind().url
    if workers == 1 or url.database in (None, "", ":memory:"):
        return [_walk_in(session, 1, head, key)]
    spans = _ranges(1, head, workers)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        futures = [executor.submit(_walk_range_process,
                                   url.render_as_string(hide_password=False), lo, hi, key)
                   for lo, hi in spans]
        return [f.result() for f in futures]


def _stitch(walks: list[_Range], prev: str) -> tuple[int, str, tuple[int, str] | None]:
    """Check the ranges in order: (records, last hash, first bad record or None)."""
    count = 0
    for walked in walks:
        if walked.first_prev is not None and walked.first_prev != prev:
            return count, prev, (walked.lo, f"record {walked.lo} does not link to record "
                                            f"{walked.lo - 1}")
        if walked.bad is not None:
            return count + walked.count, prev, walked.bad
        count += walked.count
        prev = walked.last_hash or prev
    return count, prev, None


def read_head(session: Session) -> tuple[int, str] | None:
    """(seq, hash) of the chain head, seq -1 if it was changed by hand to a non-number."""
    row = session.execute(select(AuditHead.seq, AuditHead.hash)
                          .where(AuditHead.id == 1)).one_or_none()
    if row is None:
        return None
    seq = row[0] if isinstance(row[0], int) else -1  # a head changed by hand to text
    return seq, row[1]


def walk_from(session: Session, lo: int, hi: int, prev: str, key: bytes
              ) -> tuple[int, str, tuple[int, str] | None]:
    """Walk records lo..hi, the first linked to `prev`: (records that held, last hash,
    first bad record or None)."""
    if lo > hi:
        return 0, prev, None
    return _stitch([_walk_in(session, lo, hi, key)], prev)


def below(session: Session) -> tuple[Any, str] | None:
    """A stored row below seq 1, which no walk reaches: never appended through the chain."""
    low = session.scalar(select(AuditEvent.seq).where(AuditEvent.seq < 1)
                         .order_by(AuditEvent.seq).limit(1))
    if low is None:
        return None
    return low, (f"record {low} lies before the start of the chain: it was not appended "
                 "through the chain")


def _beyond(session: Session, head: int) -> Any:
    """The highest stored seq past `head`, if any."""
    return session.scalar(select(AuditEvent.seq).where(AuditEvent.seq > head)
                          .order_by(AuditEvent.seq.desc()).limit(1))


def _head_mismatch(seq: int) -> str:
    return (f"the chain head does not match record {seq}: records after it were removed "
            "and the head moved back, or the head was changed")


def verify_trail(session: Session, *, key: bytes = b"") -> VerifyResult:
    """Walk the whole trail and report the first record changed, removed or reordered.

    `key` is the platform's audit key the records were appended with (b"" for none).
    """
    head = read_head(session)
    if head is None:
        stored = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        if stored:
            return VerifyResult(False, 0, 0, 1, "the chain head is missing")
        return VerifyResult(True, 0, 0)
    first_seq, first_hash = head
    if first_seq < 0:
        return VerifyResult(False, 0, 0, 1, "the chain head was changed: its seq is not a "
                                            "number")
    count, prev, bad = _stitch(_walk_all(session, first_seq, key), GENESIS)
    if bad is not None:
        return VerifyResult(False, count, first_seq, *bad)
    if prev != first_hash:
        return VerifyResult(False, count, first_seq, first_seq + 1, _head_mismatch(first_seq))
    # Read before the second head: a row past that head was then not appended through
    # the chain (forged), never a late commit.
    past = _beyond(session, first_seq)
    last_seq, last_hash = read_head(session) or (first_seq, first_hash)
    if last_seq > first_seq:  # appended while we walked
        tail_count, prev, bad = _stitch([_walk_in(session, first_seq + 1, last_seq, key)], prev)
        count += tail_count
        if bad is not None:
            return VerifyResult(False, count, last_seq, *bad)
        if prev != last_hash:
            return VerifyResult(False, count, last_seq, last_seq + 1, _head_mismatch(last_seq))
    if past is not None and not (isinstance(past, int) and past <= last_seq):
        seq = past if isinstance(past, int) else last_seq + 1
        return VerifyResult(False, count, last_seq, seq,
                            f"record {past} lies beyond the chain head ({last_seq}): it was "
                            "not appended through the chain")
    low = below(session)
    if low is not None:
        return VerifyResult(False, count, last_seq, *low)
    return VerifyResult(True, count, last_seq)
