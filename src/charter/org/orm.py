"""Organisation tables: OUs and accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from charter.core.db import Base


class OrgUnit(Base):
    __tablename__ = "org_units"

    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    parent: Mapped[str | None] = mapped_column(ForeignKey("org_units.path"))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class Account(Base):
    __tablename__ = "org_accounts"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    ou_path: Mapped[str] = mapped_column(ForeignKey("org_units.path"), index=True)
    blueprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    tags: Mapped[dict[str, Any]]
    budget_monthly: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    baseline: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
