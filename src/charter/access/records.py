"""The audit record every operation leaves, and the hook that writes it.

The pipeline builds records; the audit domain writes them into its hash chain. The audit
domain installs its writer with `register_recorder` when it is imported, so the pipeline
never imports the audit domain. Without a writer nothing can be recorded, and an operation
fails rather than run unrecorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


Recorder = Callable[[Session, Sequence[AuditRecord], bytes], Any]
_RECORDER: list[Recorder] = []


def register_recorder(recorder: Recorder) -> None:
    """Install the writer of audit records (the audit domain's chain); one per process."""
    _RECORDER[:] = [recorder]


def record(session: Session, records: Sequence[AuditRecord], *, key: bytes) -> None:
    """Write `records` in `session`'s transaction with the installed recorder."""
    if not _RECORDER:
        raise RuntimeError("no audit recorder is installed: import charter.audit.service "
                           "(building a runtime loads every domain)")
    _RECORDER[0](session, records, key)
