"""Durable event outbox: events are written in the operation's transaction and delivered
at least once to every subscriber by a dispatcher that survives crashes.

Key contracts:
- `emit` writes the event and one pending delivery per interested subscriber in the
  caller's session, so an event exists if and only if its operation committed.
- `dispatch_pending` claims a delivery with a lease, runs the handler, then marks it
  delivered in a separate commit. A crash between handler and mark leaves the lease to
  expire and the delivery runs again: handlers must be idempotent.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from charter.core.clock import now
from charter.core.context import Runtime
from charter.core.db import Base
from charter.core.ids import new_id

log = logging.getLogger("charter.events")


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    account: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class OutboxDelivery(Base):
    __tablename__ = "outbox_deliveries"
    __table_args__ = (Index("ix_outbox_deliveries_pending", "delivered_at", "claimed_until"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    subscriber: Mapped[str] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    account: str
    payload: dict[str, Any]
    request_id: str
    created_at: datetime


Handler = Callable[[Runtime, Event], None]


@dataclass(frozen=True)
class Subscriber:
    name: str
    event_types: frozenset[str]
    handler: Handler


def subscribers(runtime: Runtime) -> dict[str, Subscriber]:
    return runtime.cache.setdefault("events.subscribers", {})


def subscribe(runtime: Runtime, name: str, event_types: set[str], handler: Handler) -> None:
    """Register a handler; only events emitted after this get deliveries for it."""
    subscribers(runtime)[name] = Subscriber(name, frozenset(event_types), handler)


def emit(
    runtime: Runtime, session: Session, type_: str, account: str, payload: dict[str, Any],
    request_id: str,
) -> str:
    """Write an event and its pending deliveries in the caller's transaction."""
    event_id = new_id("evt-")
    session.add(OutboxEvent(
        id=event_id, type=type_, account=account, payload=payload,
        request_id=request_id, created_at=now(),
    ))
    session.flush()
    for sub in subscribers(runtime).values():
        if type_ in sub.event_types or "*" in sub.event_types:
            session.add(OutboxDelivery(event_id=event_id, subscriber=sub.name))
    return event_id


def dispatch_pending(
    runtime: Runtime, *, limit: int = 500, lease: timedelta = timedelta(seconds=60),
    worker: str | None = None,
) -> int:
    """Deliver up to `limit` pending deliveries; returns how many were delivered."""
    worker = worker or f"{os.getpid()}-{threading.get_ident()}"
    known = subscribers(runtime)
    delivered = 0
    with runtime.db.transaction() as session:
        t = now()
        candidates = session.execute(
            select(OutboxDelivery.id)
            .where(OutboxDelivery.delivered_at.is_(None))
            .where(or_(OutboxDelivery.claimed_until.is_(None), OutboxDelivery.claimed_until < t))
            .where(OutboxDelivery.subscriber.in_(list(known)))
            .order_by(OutboxDelivery.id)
            .limit(limit)
        ).scalars().all()
    for delivery_id in candidates:
        claimed = _claim(runtime, delivery_id, worker, lease)
        if claimed is None:
            continue
        sub_name, event = claimed
        try:
            known[sub_name].handler(runtime, event)
        except Exception as exc:  # a failing handler is retried after its lease
            log.exception("event %s to %s failed", event.id, sub_name)
            _record_failure(runtime, delivery_id, repr(exc))
            continue
        with runtime.db.transaction() as session:
            session.execute(
                update(OutboxDelivery).where(OutboxDelivery.id == delivery_id)
                .values(delivered_at=now(), claimed_until=None)
            )
        delivered += 1
    return delivered


def _claim(
    runtime: Runtime, delivery_id: int, worker: str, lease: timedelta
) -> tuple[str, Event] | None:
    with runtime.db.transaction() as session:
        t = now()
        result = session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.id == delivery_id, OutboxDelivery.delivered_at.is_(None))
            .where(or_(OutboxDelivery.claimed_until.is_(None), OutboxDelivery.claimed_until < t))
            .values(claimed_by=worker, claimed_until=t + lease,
                    attempts=OutboxDelivery.attempts + 1)
        )
        if result.rowcount != 1:
            return None
        row = session.execute(
            select(OutboxDelivery.subscriber, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
            .where(OutboxDelivery.id == delivery_id)
        ).one()
        ev = row[1]
        return row[0], Event(ev.id, ev.type, ev.account, ev.payload, ev.request_id, ev.created_at)


def _record_failure(runtime: Runtime, delivery_id: int, error: str) -> None:
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxDelivery).where(OutboxDelivery.id == delivery_id)
            .values(last_error=error[:2000])
        )


def pending_count(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return len(session.execute(
            select(OutboxDelivery.id).where(OutboxDelivery.delivered_at.is_(None))
        ).all())


class Dispatcher:
    """Polls the outbox in a background thread until stopped (used by `charter server`)."""

    def __init__(self, runtime: Runtime, interval: float = 1.0) -> None:
        self.runtime = runtime
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="charter-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                dispatch_pending(self.runtime)
            except Exception:
                log.exception("outbox dispatch failed")
            self._stop.wait(self.interval)
