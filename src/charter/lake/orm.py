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


class LakeGrant(Base):
    """Access to one table for a group or a whole account, with optional column list,
    row filter and column masks. A grant to an account is a share; the consumer account
    grants onward to its groups (`account` = the consumer, `owner` = the producer)."""

    __tablename__ = "lake_grants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account: Mapped[str] = mapped_column(String(63), index=True)  # the granting account
    owner: Mapped[str] = mapped_column(String(63))  # the producer account of the table
    database: Mapped[str] = mapped_column(String(63))
    table: Mapped[str] = mapped_column(String(63))
    grantee_type: Mapped[str] = mapped_column(String(8))  # group | account
    grantee: Mapped[str] = mapped_column(String(63))
    policy: Mapped[dict[str, Any]]  # {"columns": [...] | None, "row_filter": str | None,
    #                                  "masks": {column: kind}}
    grant_option: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class LakeTagKey(Base):
    """A central tag key with its allowed values (tag-based access control)."""

    __tablename__ = "lake_tag_keys"

    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    values: Mapped[dict[str, Any]]  # {"values": [...]}
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class LakeTagAssignment(Base):
    """A tag on a database, table or column ("" for the levels below what is tagged)."""

    __tablename__ = "lake_tag_assignments"

    account: Mapped[str] = mapped_column(String(63), primary_key=True)
    database: Mapped[str] = mapped_column(String(63), primary_key=True)
    table: Mapped[str] = mapped_column(String(63), primary_key=True, default="")
    column: Mapped[str] = mapped_column(String(63), primary_key=True, default="")
    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))
