"""Access tables: the version stamps of policies and data, and the idempotency keys of writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from charter.core.db import Base


class AuthzState(Base):
    """One row. `version` is bumped by every operation that changes policies or the
    entity graph, so each process knows when its cached Cedar sets are stale;
    `data_version` by every write operation, so caches of what a principal may read
    (lake policies and table plans) know when theirs are."""

    __tablename__ = "authz_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    data_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class IdempotencyKey(Base):
    """A write's idempotency key and its first result, per principal: a retry with the
    key returns the result instead of running again (`access.idempotency`)."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    operation: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the request
    result: Mapped[dict[str, Any]]  # {"value": the first result as JSON}
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(index=True)
