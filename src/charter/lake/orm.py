"""Lake tables: domains, databases, catalogued tables and their quality rules.

The table data and its snapshots live in Apache Iceberg (see `_iceberg.py`); these rows
are the central catalog's view of them: owner, descriptions, rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from charter.core.db import Base


class LakeDomain(Base):
    __tablename__ = "lake_domains"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    account: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class LakeDatabase(Base):
    __tablename__ = "lake_databases"

    account: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class LakeTable(Base):
    __tablename__ = "lake_tables"
    __table_args__ = (
        ForeignKeyConstraint(["account", "database"],
                             ["lake_databases.account", "lake_databases.name"]),
    )

    account: Mapped[str] = mapped_column(String(63), primary_key=True)
    database: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    rules: Mapped[dict[str, Any]]  # {"rules": [{"kind": ..., "column": ..., ...}]}
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
