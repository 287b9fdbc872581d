"""The metadata store's connection pool on PostgreSQL: bounded by the setting, and a
connection the server dropped while it sat idle in the pool is replaced before use."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from charter.core import db as db_module
from charter.core.db import Database

pg_only = pytest.mark.postgres


def _pg(platform) -> None:
    if platform.runtime.db.is_sqlite:
        pytest.skip("PostgreSQL's connections only")


def _terminate_ours(url: str) -> int:
    """Drop, from the server's side, every connection this process holds."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"),
                {"name": f"charter-{os.getpid()}"}).scalar()
            conn.commit()
    finally:
        engine.dispose()
    return killed


@pg_only
def test_a_connection_dropped_while_idle_is_replaced_before_use(platform, monkeypatch):
    _pg(platform)
    assert platform.admin.whoami()["name"] == "admin"
    assert _terminate_ours(platform.settings.resolved_database_url) >= 1
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)  # idle long enough now
    assert platform.admin.whoami()["name"] == "admin"
    platform.admin.groups.create("after-the-drop")
    assert platform.admin.audit.verify()["ok"]


@pg_only
def test_a_process_opens_no_more_connections_than_its_setting(platform):
    _pg(platform)
    database = Database(platform.settings.resolved_database_url, connections=6)
    try:
        pool = database.engine.pool
        assert (pool.size(), pool._max_overflow) == (2, 4)  # a third kept, the rest on demand
    finally:
        database.dispose()


def test_sqlite_writers_of_one_process_queue_without_the_busy_handler(tmp_path):
    """The threads of one process take SQLite's write lock in turn (a lock of the
    process): none waits in SQLite's busy handler, which polls with sleeps. Shown with
    the handler off: any writer that met a held lock would fail at once."""
    import threading

    from sqlalchemy import event

    database = Database(f"sqlite:///{tmp_path / 'queue.db'}")

    @event.listens_for(database.engine, "connect")
    def _no_busy_handler(dbapi_conn, _record) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    try:
        with database.transaction() as session:
            session.execute(text("CREATE TABLE t (n INTEGER)"))
        failures: list[BaseException] = []
        start = threading.Barrier(8)

        def write(i: int) -> None:
            try:
                start.wait(timeout=30)
                for j in range(25):
                    with database.transaction() as session:
                        session.execute(text("INSERT INTO t VALUES (:n)"), {"n": i * 100 + j})
                        session.execute(text("SELECT count(*) FROM t")).scalar()
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        with database.read() as session:
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 200
    finally:
        database.dispose()
