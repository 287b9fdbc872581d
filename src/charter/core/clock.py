"""Time in one place: timezone-aware UTC, so tests and records agree."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from charter.errors import Invalid


def now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ASCII digits only: `\d` also matches other scripts' digits (Arabic-Indic, full-width),
# which int() accepts, so "٣d" would pass for 3 days.
_DURATION = re.compile(r"^([0-9]+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse `30d`, `12h`, `90m`, `2w` or `45s` into a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    error = Invalid(
        f"invalid duration {text!r}: use a positive number in digits 0-9 and a unit, "
        "e.g. 30d, 12h, 90m",
        code="invalid_duration",
    )
    if not match or int(match.group(1)) == 0:
        raise error
    try:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise error from None


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 time, or a duration meaning that long ago (`1h`, `7d`)."""
    try:
        return now() - parse_duration(text)
    except (Invalid, OverflowError):
        pass
    try:
        return as_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError):  # OverflowError: in range locally, not in UTC
        raise Invalid(
            f"invalid time {text!r}: use ISO-8601 (2026-01-31T12:00) or a duration ago (7d)",
            code="invalid_time",
        ) from None
