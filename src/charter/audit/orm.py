"""Audit tables: the append-only trail and its chain head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from charter.access.records import TEXT_LENGTHS as _W
from charter.core.db import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_account_time", "account", "time"),
        Index("ix_audit_events_principal", "principal"),
        Index("ix_audit_events_action", "action"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime]
    principal: Mapped[str] = mapped_column(String(_W['principal']))
    account: Mapped[str] = mapped_column(String(_W['account']))
    action: Mapped[str] = mapped_column(String(_W['action']))
    resource: Mapped[str] = mapped_column(String(_W['resource']))
    decision: Mapped[str] = mapped_column(String(_W['decision']))
    outcome: Mapped[str] = mapped_column(String(_W['outcome']))
    error_code: Mapped[str | None] = mapped_column(String(_W['error_code']))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(_W['request_id']), index=True)
    source: Mapped[str] = mapped_column(String(_W['source']))
    details: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the newest sequence number and hash. Appenders lock it, so the chain
    stays one line however many writers there are."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditPending(Base):
    """Records written with their operation's effect, not yet chained (PostgreSQL): the
    sequencer moves them into `audit_events` in id order, under the head lock, in one
    transaction with many others (docs/design.md, "Group-committed appends")."""

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    time: Mapped[datetime]
    principal: Mapped[str] = mapped_column(String(_W['principal']))
    account: Mapped[str] = mapped_column(String(_W['account']))
    action: Mapped[str] = mapped_column(String(_W['action']))
    resource: Mapped[str] = mapped_column(String(_W['resource']))
    decision: Mapped[str] = mapped_column(String(_W['decision']))
    outcome: Mapped[str] = mapped_column(String(_W['outcome']))
    error_code: Mapped[str | None] = mapped_column(String(_W['error_code']))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(_W['request_id']))
    source: Mapped[str] = mapped_column(String(_W['source']))
    details: Mapped[str | None] = mapped_column(Text)
