"""Resource names (`crn:<account>:<module>:<type>/<path>`), naming rules and id generation."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

from charter.errors import Invalid

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")
_CRN_RE = re.compile(r"^crn:([a-z][a-z0-9-]*):([a-z_]+):([a-z-]+)/(.+)$")


def check_name(value: str, what: str) -> str:
    """Lower-case letters, digits and dashes, 3-63 characters, starting with a letter."""
    if not NAME_RE.fullmatch(value or ""):
        raise Invalid(
            f"invalid {what} name {value!r}: use 3-63 lower-case letters, digits and dashes, "
            "starting with a letter and not ending with a dash",
            code=f"invalid_{what.replace(' ', '_')}_name",
        )
    return value


@dataclass(frozen=True, slots=True)
class Crn:
    """A Charter resource name: which account holds it, in which module, of what type."""

    account: str
    module: str
    type: str
    path: str

    def __str__(self) -> str:
        return f"crn:{self.account}:{self.module}:{self.type}/{self.path}"

    @classmethod
    def parse(cls, text: str) -> Crn:
        match = _CRN_RE.fullmatch(text)
        if not match:
            raise Invalid(f"invalid resource name {text!r}", code="invalid_crn")
        return cls(*match.groups())


def split_table_name(name: str, *, code: str = "invalid_table_name") -> tuple[str, str]:
    """A lake table's `DB.TABLE` name -> (database, table), lower-cased; Invalid `code`
    unless it is two names joined by one dot."""
    database, sep, table = name.lower().partition(".")
    if not sep or not database or not table or "." in table:
        raise Invalid(f"name the table as DB.TABLE, not {name!r}", code=code)
    return database, table


def crn(account: str, module: str, type_: str, path: str) -> str:
    return str(Crn(account, module, type_, path))


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def new_request_id() -> str:
    return f"req-{uuid.uuid4().hex}"


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
