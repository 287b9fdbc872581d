"""The action catalogue: every governed operation declares its action here by decorating
its service function; permission sets select actions by pattern."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

READ, WRITE = "read", "write"


@dataclass(frozen=True)
class ActionDef:
    name: str  # "<module>:<Verb><Noun>", e.g. "org:CreateAccount"
    kind: str  # read | write
    description: str

    @property
    def module(self) -> str:
        return self.name.split(":", 1)[0]


ACTIONS: dict[str, ActionDef] = {}


def declare(name: str, kind: str, description: str) -> ActionDef:
    if kind not in (READ, WRITE):
        raise ValueError(f"action kind must be read or write, not {kind!r}")
    existing = ACTIONS.get(name)
    if existing and existing.kind != kind:
        raise ValueError(f"action {name} declared twice with different kinds")
    ACTIONS[name] = ActionDef(name, kind, description)
    return ACTIONS[name]


def expand(patterns: list[str]) -> list[str]:
    """Concrete action names matched by patterns (`org:*`, `*:List*`, or `@read`), less
    those matched by patterns starting with `!` (`!lake:ReadTable`)."""
    chosen: set[str] = set()
    dropped: set[str] = set()
    for pattern in patterns:
        into, pattern = (dropped, pattern[1:]) if pattern.startswith("!") else (chosen, pattern)
        if pattern in ("@read", "@write"):
            into.update(a.name for a in ACTIONS.values() if a.kind == pattern[1:])
        else:
            into.update(n for n in ACTIONS if fnmatch.fnmatchcase(n, pattern))
    return sorted(chosen - dropped)
