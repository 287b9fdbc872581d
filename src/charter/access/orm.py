"""Access tables: the version stamp of the policy and entity graph."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from charter.core.db import Base


class AuthzState(Base):
    """One row, bumped by every operation that changes policies or the entity graph, so
    each process knows when its cached Cedar sets are stale."""

    __tablename__ = "authz_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
