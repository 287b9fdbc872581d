"""Identity tables: users, groups, memberships, assignments, tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.core.db import Base


class User(Base):
    __tablename__ = "identity_users"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime]


class Group(Base):
    __tablename__ = "identity_groups"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class Membership(Base):
    __tablename__ = "identity_memberships"

    user: Mapped[str] = mapped_column(ForeignKey("identity_users.name"), primary_key=True)
    group: Mapped[str] = mapped_column(ForeignKey("identity_groups.name"), primary_key=True)


class Assignment(Base):
    """A permission set given to a user or group in one account or a whole OU."""

    __tablename__ = "identity_assignments"
    __table_args__ = (
        UniqueConstraint("principal_type", "principal_name", "permission_set", "scope_type",
                         "scope", name="uq_identity_assignments_grant"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    principal_type: Mapped[str] = mapped_column(String(8))  # user | group
    principal_name: Mapped[str] = mapped_column(String(63), index=True)
    permission_set: Mapped[str] = mapped_column(String(63))
    scope_type: Mapped[str] = mapped_column(String(8))  # account | ou
    scope: Mapped[str] = mapped_column(String(255), index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Token(Base):
    """An API token. `parent_id` is the token it was created with (None when the platform
    minted it): a child never outlives its parent and is revoked with it."""

    __tablename__ = "identity_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("identity_users.name"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("identity_tokens.id"), index=True,
                                                  default=None)
