"""The audit record every operation leaves, and the hook that writes it.

The pipeline builds records; the audit domain writes them into its hash chain. The audit
domain installs its writer with `register_recorder` when it is imported, so the pipeline
never imports the audit domain. Without a writer nothing can be recorded, and an operation
fails rather than run unrecorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from charter.core.clock import now
from charter.core.text import escaped

# Widths of the trail's text columns: the audit tables are declared with these.
TEXT_LENGTHS: dict[str, int | None] = {
    "principal": 100, "account": 64, "action": 100, "resource": 500, "decision": 8,
    "outcome": 16, "request_id": 64, "source": 64, "error_code": 100, "reason": None,
}


@dataclass
class AuditRecord:
    principal: str
    account: str
    action: str
    resource: str
    decision: str  # allow | deny
    outcome: str  # success | denied | rejected | refused | error
    request_id: str
    source: str
    error_code: str | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None
    time: datetime = field(default_factory=now)

    def __post_init__(self) -> None:
        # A record is written whatever text its request carried: characters the store
        # refuses are escaped and text longer than its column is cut (a 600-character id
        # in a refused request still leaves its record), so the insert cannot fail on them.
        for name, length in TEXT_LENGTHS.items():
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, escaped(value)[:length])


class Recorder(Protocol):
    """Writes records into the trail (the audit domain's chain and sequencer)."""

    def write(self, session: Session, records: Sequence[AuditRecord], key: bytes) -> None:
        """In the operation's transaction: committed with its effect or not at all."""

    def write_alone(self, runtime: Any, records: Sequence[AuditRecord]) -> None:
        """Records with no effect to be atomic with: stored before this returns."""

    def settle(self, runtime: Any) -> None:
        """After a transaction that wrote records commits: they are in the chain."""


_RECORDER: list[Recorder] = []


def register_recorder(recorder: Recorder) -> None:
    """Install the writer of audit records (the audit domain's chain); one per process."""
    _RECORDER[:] = [recorder]


def _recorder() -> Recorder:
    if not _RECORDER:
        raise RuntimeError("no audit recorder is installed: import charter.audit.service "
                           "(building a runtime loads every domain)")
    return _RECORDER[0]


def record(session: Session, records: Sequence[AuditRecord], *, key: bytes) -> None:
    """Write `records` in `session`'s transaction with the installed recorder."""
    _recorder().write(session, records, key)


def record_alone(runtime: Any, records: Sequence[AuditRecord]) -> None:
    """Write `records` that belong to no transaction; return once they are stored."""
    _recorder().write_alone(runtime, records)


def settle(runtime: Any) -> None:
    """Wait until the records of a committed transaction are chained."""
    _recorder().settle(runtime)
