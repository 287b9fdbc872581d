"""Audit records' hash: the canonical form every record is hashed in.

Kept apart from the chain so that verification (which also runs in worker processes)
imports it without importing the chain.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from functools import lru_cache
from hashlib import sha256

GENESIS = "0" * 64


def time_text(value: datetime | str) -> str:
    """The canonical text of a record's time: UTC, `YYYY-MM-DD HH:MM:SS.ffffff`.

    It is also how SQLite stores the column, so a verify on SQLite hashes the stored text
    as it comes, without parsing it.
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):  # stored by hand as another type: hashes unequal
        return repr(value)
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
