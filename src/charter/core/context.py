"""Who is acting, on which platform, in which request: passed first to every service call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from charter.core.db import Database
from charter.core.storage import ObjectStore
from charter.errors import CharterError
from charter.settings import Settings

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user (by name) or the platform itself (`system`)."""

    name: str
    kind: str = "user"
    token_id: str | None = None

    @property
    def is_system(self) -> bool:
        return self.kind == SYSTEM


SYSTEM_PRINCIPAL = Principal(name=SYSTEM, kind=SYSTEM)


@dataclass
class Runtime:
    """One platform: settings, metadata store, object store and per-platform caches."""

    settings: Settings
    db: Database
    storage: ObjectStore
    audit_key: bytes = b""
    cache: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Release what the platform holds: resources registered in `closers` (newest
        first), then the metadata store's connections."""
        while self.closers:
            self.closers.pop()()
        self.db.dispose()


@dataclass
class Context:
    """The request context: every governed operation takes it first.

    `session` is set by the operation pipeline while an operation runs; nested
    operations join the open transaction.
    """

    runtime: Runtime
    principal: Principal
    request_id: str
    source: str = "api"
    session: Session | None = None
    emitted: int = 0
    client_request_id: str | None = None
    idempotency_key: str | None = None  # the caller's, for writes that take one
    audited: bool = False
    audit_details: dict[str, Any] = field(default_factory=dict)  # added to the record
    # The data version at which the principal's token was last found valid (None: not
    # signed in with a token): operations confirm it again once a write has committed.
    credentials_at: int | None = None
    route: str = ""  # "METHOD /path" of the request, for records made outside an operation

    @property
    def db(self) -> Session:
        if self.session is None:
            raise CharterError("no open transaction: call services through an operation")
        return self.session

    @property
    def settings(self) -> Settings:
        return self.runtime.settings
