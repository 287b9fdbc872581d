"""Lake writes across `kill -9`: a real `charter server` killed at named points of an
ingest, then restarted: the write stands whole with its audit record, or not at all, and
its retry with the same idempotency key writes it exactly once."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import create_engine, select, text

from charter import Client
from charter.audit.orm import AuditEvent, AuditHead
from charter.errors import CharterError
from charter.lake.orm import LakeTable
from tests import servers

ROWS = b"id,name\n1,Ann\n2,Bob\n"  # what each crashed write sends
BASE = b"id,name\n0,Zed\n"  # the rows an append's table holds before it
# Before, inside and after the Iceberg commit; before and after the audit record and the
# transaction's commit.
COMMON = ["lake.ingest.start", "lake.ingest.checked", "lake.iceberg.files_written",
          "lake.iceberg.metadata_written", "lake.iceberg.committed", "lake.ingest.written",
          "operation.result_stored", "operation.before_commit", "operation.after_commit"]
CREATE_POINTS = [*COMMON[:2], "lake.iceberg.table_created", *COMMON[2:]]
APPEND_POINTS = [COMMON[0], "lake.ingest.read", *COMMON[1:]]
STANDS = {"operation.after_commit"}  # committed: only the answer was lost


@pytest.mark.timeout(300)  # 11 server starts, about 3 s each on an idle machine
@pytest.mark.parametrize("mode", ["create", "append"])
def test_kill_at_each_point_then_retry_writes_once(retail, mode):
    platform, erin = retail
    points = CREATE_POINTS if mode == "create" else APPEND_POINTS
    tables = [f"bank.{mode}_{i}" for i in range(len(points))]
    if mode == "append":
        for name in tables:
            erin.lake.ingest("retail-data", name, BASE, mode="create")
    token = platform.admin.tokens.create(user="erin")["token"]
    keys = [f"crash-{mode}-{i}" for i in range(len(points))]
    clean = _crash_at_each(platform.settings.home, token, points, tables, keys, mode)
    base = 1 if mode == "append" else 0
    try:  # restarted: startup recovery has run
        with Client(clean.url, token) as client:
            for point, (rows, records) in zip(points, _state(platform, client, tables),
                                              strict=True):
                written = point in STANDS  # the whole write with its record, or nothing
                assert (rows, records) == (base + 2 * written, int(written)), point
            first = [client.lake.ingest("retail-data", t, ROWS, mode=mode, idempotency_key=k)
                     for t, k in zip(tables, keys, strict=True)]
            again = [client.lake.ingest("retail-data", t, ROWS, mode=mode, idempotency_key=k)
                     for t, k in zip(tables, keys, strict=True)]
            assert again == first  # a retry returns the first result
            assert [r["total_records"] for r in first] == [base + 2] * len(tables)
            assert [rows for rows, _ in _state(platform, client, tables)] == \
                [base + 2] * len(tables)
        platform.monkeypatch.setenv("CHARTER_URL", clean.url)  # the CLI, remote, as admin
        code, out, err = platform.cli("audit", "verify", "--json")
        assert code == 0 and json.loads(out)["ok"], err
        assert _orphan_entries(platform) == []
    finally:
        clean.stop()


def _crash_at_each(home, token: str, points: list[str], tables: list[str], keys: list[str],
                   mode: str) -> servers.Server:
    """Send write i to a server that dies at point i; returns the clean server started
    after the last one died. Each server starts while the one before it works (its start
    is the restart after that one's crash)."""
    upcoming = servers.start(home, fault_point=points[0])
    for i, point in enumerate(points):
        server = upcoming.ready()
        upcoming = servers.start(home, fault_point=points[i + 1] if i + 1 < len(points)
                                 else None)
        try:
            with Client(server.url, token, retries=0) as client, \
                    pytest.raises(CharterError) as lost:
                client.lake.ingest("retail-data", tables[i], ROWS, mode=mode,
                                   idempotency_key=keys[i])
            assert lost.value.code == "unreachable", point
            assert server.proc.wait(timeout=30) == -9, point  # SIGKILL, at that point
        except BaseException:
            server.proc.kill()
            upcoming.proc.kill()
            raise
    return upcoming.ready()


def _state(platform, client, tables, key: str = "crash-") -> list[tuple[int, int]]:
    """(rows, successful ingest records of the crashed request, known by its idempotency
    key) of each table; a table that was never created has neither."""
    existing = {t["name"]: t for t in client.lake.tables("retail-data", database="bank").items}
    with platform.runtime.db.read() as session:
        records = session.execute(select(AuditEvent.resource, AuditEvent.details).where(
            AuditEvent.action == "lake:IngestTable", AuditEvent.decision == "allow")).all()
    out = []
    for name in tables:
        table = name.split(".")[1]
        crn = f"crn:retail-data:lake:table/bank/{table}"
        mine = [r for r in records if r.resource == crn and f'"{key}' in (r.details or "")]
        rows = existing[table]["total_records"] if table in existing else 0
        out.append((rows, len(mine)))
    return out


def _orphan_entries(platform) -> list[tuple[str, str]]:
    """Iceberg catalog entries with no Charter table."""
    from pyiceberg.catalog.sql import IcebergTables

    engine = create_engine(platform.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            entries = conn.execute(select(IcebergTables.table_namespace,
                                          IcebergTables.table_name)).all()
            known = {(f"{r.account}.{r.database}", r.name) for r in conn.execute(
                select(LakeTable.account, LakeTable.database, LakeTable.name))}
    finally:
        engine.dispose()
    return [tuple(e) for e in entries if tuple(e) not in known]


def test_a_write_killed_waiting_for_the_audit_trail_writes_once(retail):
    """Under load a write waits for the audit trail's head lock, which another writer
    holds, and is killed there, after its Iceberg commit. On SQLite the record is chained
    inside the write's transaction, so the write leaves nothing. On PostgreSQL the record
    is staged in the write's transaction and chained by a batch after its commit, so the
    write stands with its record (chained by the next batch), and only the answer was lost.
    Either way the client's retry with the same key writes it once."""
    platform, erin = retail
    stands = platform.runtime.db.engine.dialect.name == "postgresql"
    erin.lake.ingest("retail-data", "bank.customers", BASE, mode="create")
    token = platform.admin.tokens.create(user="erin")["token"]
    home = platform.settings.home
    server = servers.start(home).ready()
    engine = create_engine(platform.settings.resolved_database_url)
    try:
        with engine.connect() as holder:
            _hold_audit_head(holder)
            outcome: list[BaseException] = []
            sender = threading.Thread(target=_send, args=(server.url, token, outcome))
            sender.start()
            _wait_until_blocked(engine, server)
            server.proc.kill()  # kill -9
            assert server.proc.wait(timeout=30) == -9
            holder.rollback()
        sender.join(timeout=30)
        assert [e.code for e in outcome] == ["unreachable"]  # type: ignore[attr-defined]
    finally:
        server.proc.kill()  # if the test failed before
        engine.dispose()
    restarted = servers.start(home).ready()
    try:
        with Client(restarted.url, token) as client:
            assert _state(platform, client, ["bank.customers"], key="under-load") == \
                [(3, 1) if stands else (1, 0)]
            for _ in range(2):
                client.lake.ingest("retail-data", "bank.customers", ROWS, mode="append",
                                   idempotency_key="under-load")
            # Each answered request has its record: the write's and its replays'.
            assert _state(platform, client, ["bank.customers"], key="under-load") == \
                [(3, 3 if stands else 2)]
            assert len(client.lake.snapshots("retail-data", "bank.customers").items) == 2
    finally:
        restarted.stop()
    assert platform.admin.audit.verify()["ok"]


def _hold_audit_head(conn) -> None:
    """Take the audit head lock as a writer appending its record does."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    else:  # one write lock for the whole database
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _send(url: str, token: str, outcome: list[BaseException]) -> None:
    try:
        with Client(url, token, retries=0) as client:
            client.lake.ingest("retail-data", "bank.customers", ROWS, mode="append",
                               idempotency_key="under-load")
    except CharterError as error:
        outcome.append(error)


def _wait_until_blocked(engine, server) -> None:
    """Until the server's write waits for the lock (on SQLite, a moment: nothing shows)."""
    if engine.dialect.name != "postgresql":
        time.sleep(1.5)
        return
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%audit_head%'")).scalar()
            conn.rollback()  # the statistics are a snapshot per transaction
            if waiting:
                return
            assert server.proc.poll() is None
            time.sleep(0.05)
    raise AssertionError("the server's write never waited for the audit head")
