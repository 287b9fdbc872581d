"""Metadata store: SQLAlchemy 2 engine and sessions over SQLite (default) or PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event, exc, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from charter.core.clock import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores aware UTC datetimes and hands them back aware on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value) if value is not None else None


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class Database:
    """One engine and session factory per platform; no module-level state."""

    def __init__(self, url: str, *, echo: bool = False, connections: int = 30) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            # Sessions in UTC: timestamps come back with a zero offset on every server.
            # At most `connections` at once: a third kept open, the rest opened under load.
            kept = max(1, connections // 3)
            kwargs.update(pool_size=kept, max_overflow=connections - kept,
                          connect_args={"options": "-c timezone=UTC",
                                        # pg_stat_activity names the process of each
                                        "application_name": f"charter-{os.getpid()}"})
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine)
        self._writers = threading.RLock() if self.is_sqlite else None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads need no write lock: on SQLite they begin a deferred transaction.
        self._read_sessions = sessionmaker(self.engine.execution_options(charter_read=True),
                                           expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: commit on success, roll back on any error."""
        with self._writer_turn(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """SQLite: one writer at a time. The threads of this process queue here for it,
        woken as soon as it is free; left to SQLite's busy handler they would poll with
        sleeps of up to 100 ms, and under load a request could wait a second for a lock
        that was free most of that time. Other processes still meet the handler. Waited
        for as long as the handler would wait (30 s), then refused as it is."""
        if self._writers is None:
            yield
            return
        if not self._writers.acquire(timeout=30):
            raise exc.OperationalError("BEGIN IMMEDIATE", None,
                                       Exception("database is locked"))
        try:
            yield
        finally:
            self._writers.release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only: never takes SQLite's write lock."""
        with self._read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def kept(session: Session, obj: Any) -> Any:
    """`obj`, held by the session until it ends. The session's identity map holds objects
    weakly, so a row one helper looked up and dropped is read again by the next helper's
    `session.get`; one kept here is found in the map instead."""
    if obj is not None:
        session.info.setdefault("charter.kept", []).append(obj)
    return obj


def lock(session: Session, name: str) -> None:
    """Serialize transactions that take the same named lock until they end.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: every write transaction already
    holds the database write lock (BEGIN IMMEDIATE), so there is nothing more to take.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the write lock
    # up front; we issue BEGIN IMMEDIATE ourselves so concurrent writers queue on the
    # busy timeout instead of failing half-way with "database is locked".
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's lower() folds ASCII only; this one folds case as PostgreSQL's does.
        dbapi_conn.create_function("unicode_lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read = conn.get_execution_options().get("charter_read")
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """A connection that sat in the pool a while is tried before it is handed out (the
    server may have restarted or dropped it meanwhile); one handed back a moment ago is
    not, which spares a round trip per transaction under load (SQLAlchemy's pre_ping tries
    every one). A connection that fails its try is replaced at once."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["charter_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("charter_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as error:
            raise exc.DisconnectionError(f"a pooled connection failed its ping: {error}") \
                from error
        if not alive:
            raise exc.DisconnectionError("a pooled connection failed its ping")


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def migrate(url: str) -> None:
    """Bring the schema at `url` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "charter:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
