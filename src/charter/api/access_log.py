"""The request log: one line per request to the `charter.access` logger, as text or JSON.

Each record carries the request's facts in `record.access` (method, path, status,
duration_ms, request_id, principal), so a deployment's own logging setup can format them;
`charter server` installs `configure_access_log`'s handler, which writes them to stdout
as text or, with CHARTER_API_LOG_FORMAT=json, as one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from starlette.types import Scope

ACCESS_LOGGER = "charter.access"


def log_request(scope: Scope, status: int, duration_ms: float) -> None:
    """Write one request's line: what was asked, how it was answered, by whom, how fast."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not logger.isEnabledFor(logging.INFO):
        return
    state = scope.get("state", {})
    ctx = state.get("ctx")
    fields = {"method": scope["method"], "path": _path(scope), "status": status,
              "duration_ms": round(duration_ms, 1), "request_id": state.get("request_id", "-"),
              "principal": ctx.principal.name if ctx is not None else "-"}
    logger.info("%s %s %d %.1fms %s %s", fields["method"], fields["path"], status,
                duration_ms, fields["request_id"], fields["principal"],
                extra={"access": fields})


def _path(scope: Scope) -> str:
    """The path as sent (percent-encoded), with anything unprintable escaped: no path can
    forge a line of its own."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else scope["path"]
    return "".join(c if c.isprintable() and c != " " else f"\\x{ord(c):02x}" for c in path)


class AccessFormatter(logging.Formatter):
    """A request's line as `TIME METHOD PATH STATUS DURATION REQUEST-ID PRINCIPAL`, or as
    one JSON object with a `time` field."""

    def __init__(self, fmt: str = "text") -> None:
        super().__init__()
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        fields: dict[str, Any] | None = getattr(record, "access", None)
        if self.json:
            return json.dumps({"time": when, **(fields or {"message": record.getMessage()})})
        return f"{when} {record.getMessage()}"


def configure_access_log(fmt: str) -> None:
    """Send the request log to stdout in `fmt` (`text` or `json`), once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    for handler in [h for h in logger.handlers if getattr(h, "charter_access", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(AccessFormatter(fmt))
    handler.charter_access = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
