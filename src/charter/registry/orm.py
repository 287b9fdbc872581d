"""Registry rows: model groups, their versions (with approval), and aliases.

A version keeps what it was registered from as it was then: the files with their sha256
(from the artifact table), the source run's latest metrics and its lake inputs. Tags are
small maps kept on the row they describe; aliases are rows, so one alias names one
version of a group and a version's aliases are one indexed query away.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from charter.core.db import Base


class ModelGroup(Base):
    __tablename__ = "registry_groups"

    account: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(5000))
    tags: Mapped[dict[str, Any]]
    latest_version: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ModelVersion(Base):
    __tablename__ = "registry_versions"
    __table_args__ = (
        ForeignKeyConstraint(["account", "group"],
                             ["registry_groups.account", "registry_groups.name"]),
    )

    account: Mapped[str] = mapped_column(String(63), primary_key=True)
    group: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20))
    approval_status: Mapped[str] = mapped_column(String(30))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    approval_reason: Mapped[str | None] = mapped_column(String(1000))
    source: Mapped[str] = mapped_column(String(1000))
    run_id: Mapped[str | None] = mapped_column(String(64))
    model_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(5000))
    flavor: Mapped[str] = mapped_column(String(20))
    files: Mapped[dict[str, Any]]  # {"files": [{"path", "size", "sha256"}]}
    signature: Mapped[dict[str, Any] | None]
    metrics: Mapped[dict[str, Any]]  # {"metrics": [{"key", "value", "timestamp", "step"}]}
    lake_inputs: Mapped[dict[str, Any]]  # {"inputs": [{"account", "table", "snapshot_id", ...}]}
    tags: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class ModelAlias(Base):
    __tablename__ = "registry_aliases"
    __table_args__ = (
        ForeignKeyConstraint(["account", "group"],
                             ["registry_groups.account", "registry_groups.name"]),
        Index("ix_registry_aliases_version", "account", "group", "version"),
    )

    account: Mapped[str] = mapped_column(String(63), primary_key=True)
    group: Mapped[str] = mapped_column(String(63), primary_key=True)
    alias: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int]
