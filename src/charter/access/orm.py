"""Access tables: the version stamps of the policy and entity graph and of the data."""

from __future__ import annotations

from sqlalchemy import BigInteger
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
