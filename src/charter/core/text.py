"""Text the metadata store cannot hold: find it in input, escape it in records."""

from __future__ import annotations

import re
from typing import Any

from charter.errors import Invalid

# PostgreSQL refuses NUL in text; a lone surrogate has no UTF-8 form, so neither SQLite nor
# PostgreSQL can be sent one. Every other code point a Python str holds is storable.
_REFUSED = re.compile("[\x00\ud800-\udfff]")


def refused(value: str) -> bool:
    """True if `value` holds a character no metadata store accepts."""
    return _REFUSED.search(value) is not None


def escaped(value: str) -> str:
    """`value` with those characters written as escapes (`\\x00`, `\\udc80`): audit records
    keep what was sent, in a form that can be stored."""
    if not _REFUSED.search(value):
        return value
    return _REFUSED.sub(lambda m: f"\\u{ord(m.group()):04x}" if m.group() != "\x00"
                        else "\\x00", value)


def refused_in(value: Any) -> bool:
    """True if any key or string inside decoded JSON is refused (no recursion: JSON
    nested thousands deep is checked as well as flat JSON)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _REFUSED.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def invalid_text(where: str) -> Invalid:
    return Invalid(f"the {where} holds a NUL character or a lone surrogate, which Charter "
                   "does not store; remove it and send the request again",
                   code="invalid_text")
