"""Group commit of the audit chain: many records chained in one short critical section.

Every record needs the hash of the one before, so appends to the chain are serialized by
the head row's lock; a commit costs a WAL flush (milliseconds on PostgreSQL), and a lock
held through one per record caps the whole platform at a few hundred records a second.
The sequencer lets the lock be taken once for many records (docs/design.md, "Group-committed
appends"):

- Records of an operation with an effect are staged (`chain.stage`) in the pending table
  by the operation's own transaction, which takes no audit lock; after its commit the
  caller `settle`s: it waits for a batch that starts after that commit, which chains every
  staged record in id order. On SQLite the operation's transaction chains its record
  itself (SQLite has one writer anyway, and its commit costs no flush), so there is nothing
  to settle.
- Records that have no effect to be atomic with (a read's, a refusal's, a request's
  refused before any operation) are handed over in memory (`submit`) and chained in the
  next batch, which returns once they are committed: a caller is answered only after its
  record is stored.

Within a process one caller at a time runs a batch (the leader) for everyone who queued
before it started; the others wait on a condition and are done when a batch that took
their entry commits. Across processes the head lock orders the batches. A process killed
between its commit and its batch leaves its records staged; the next batch of any process
chains them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from charter.access.records import AuditRecord
from charter.audit import chain
from charter.core.context import Runtime
from charter.errors import CharterError, Unavailable

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Entry:
    records: list[AuditRecord]
    done: bool = False
    error: BaseException | None = field(default=None)


class Sequencer:
    """One per platform (runtime): the batches of this process."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._cond = threading.Condition()
        self._queue: list[_Entry] = []
        self._busy = False

    def submit(self, records: Sequence[AuditRecord]) -> None:
        """Chain `records` and every record staged before this call; return once they are
        committed (or raise what stopped them)."""
        entry = _Entry(list(records))
        with self._cond:
            self._queue.append(entry)
            while self._busy and not entry.done:
                self._cond.wait()
            if not entry.done:  # no batch running, and ours not taken: lead the next
                self._busy = True
                batch, self._queue = self._queue, []
        if entry.done:
            if isinstance(entry.error, CharterError):
                raise entry.error  # the batch's refusal, the same for each of its callers
            if entry.error is not None:
                raise Unavailable("the audit record could not be written "
                                  f"({type(entry.error).__name__})",
                                  code="audit_unavailable") from entry.error
            return
        error: BaseException | None = None
        try:
            self._chain([r for e in batch for r in e.records])
        except BaseException as failed:  # handed to every waiter of this batch, then raised
            error = failed
        with self._cond:
            for e in batch:
                e.done, e.error = True, error
            self._busy = False
            self._cond.notify_all()
        if error is not None:
            raise error

    def settle(self) -> None:
        """Return once every record staged before this call is chained."""
        self.submit(())

    def _chain(self, records: list[AuditRecord]) -> None:
        db, key = self._runtime.db, self._runtime.audit_key
        limit = 2000
        while True:
            with db.transaction() as session:
                moved = chain.chain_batch(session, records, key=key, limit=limit)
            records = []
            if moved < limit:
                return


def of(runtime: Runtime) -> Sequencer:
    found = runtime.cache.get("audit.sequencer")
    if found is None:
        found = runtime.cache.setdefault("audit.sequencer", Sequencer(runtime))
    return found


class Recorder:
    """The writer the pipeline calls (installed with `register_recorder`)."""

    @staticmethod
    def write(session: object, records: Sequence[AuditRecord], key: bytes) -> None:
        if session.get_bind().dialect.name == "sqlite":  # type: ignore[attr-defined]
            chain.append(session, records, key=key)  # type: ignore[arg-type]
        else:
            chain.stage(session, records)  # type: ignore[arg-type]

    @staticmethod
    def write_alone(runtime: Runtime, records: Sequence[AuditRecord]) -> None:
        of(runtime).submit(records)

    @staticmethod
    def settle(runtime: Runtime) -> None:
        if runtime.db.is_sqlite:
            return
        try:
            of(runtime).settle()
        except Exception as error:  # the effect and its record are committed
            # The record is stored (staged) with its effect; the next batch of any process
            # chains it. Answering an error for a change that was made would mislead.
            log.warning("audit records staged but not yet chained: %s", error)
