"""Named fault points: a testing aid that makes the process SIGKILL itself at one point."""

from __future__ import annotations

import os
import signal

from sqlalchemy import event
from sqlalchemy.orm import Session

# Points every write operation that arms them passes once its effect is in its session.
BEFORE_COMMIT = "operation.before_commit"  # audit record appended, transaction not committed
AFTER_COMMIT = "operation.after_commit"  # transaction committed, the answer not yet sent


def reach(chosen: str | None, name: str) -> None:
    """Die here, as `kill -9` would, if `name` is the chosen fault point
    (`CHARTER_FAULT_POINT`); otherwise nothing."""
    if chosen is not None and chosen == name:
        os.kill(os.getpid(), signal.SIGKILL)


def arm_commit(chosen: str | None, session: Session) -> None:
    """Make the session's commit reach BEFORE_COMMIT and AFTER_COMMIT: the last points of
    a write, past everything the operation itself runs."""
    if chosen == BEFORE_COMMIT:
        event.listen(session, "before_commit", lambda _s: reach(chosen, BEFORE_COMMIT))
    elif chosen == AFTER_COMMIT:
        event.listen(session, "after_commit", lambda _s: reach(chosen, AFTER_COMMIT))
