"""Control tables: where each control is enabled, and detective findings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from charter.core.db import Base


class ControlEnablement(Base):
    __tablename__ = "control_enablements"

    control_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    scope: Mapped[str] = mapped_column(String(255), primary_key=True)  # OU path or account
    enabled_by: Mapped[str] = mapped_column(String(100))
    enabled_at: Mapped[datetime]


class Finding(Base):
    """A detective control's verdict on one resource; kept in the security-tooling account."""

    __tablename__ = "control_findings"
    __table_args__ = (Index("ix_control_findings_key", "control_id", "resource", unique=True),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    control_id: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(63), index=True)  # account the resource is in
    resource: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))  # open | resolved
    message: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
