"""The SDK's writes: one idempotency key per call, reused when it sends the call again."""

from __future__ import annotations

import json
import threading

from sqlalchemy import select

from charter import Client
from charter.audit.orm import AuditEvent
from tests import servers

ROWS = b"id,name\n1,Ann\n2,Bob\n"


def test_a_lost_answer_is_retried_with_the_same_key_and_writes_once(retail):
    """The server dies after committing, before answering; the SDK sends the write again
    with its key to the restarted server, which answers with the first result."""
    platform, _erin = retail
    token = platform.admin.tokens.create(user="erin")["token"]
    home = platform.settings.home
    dying = servers.start(home, fault_point="operation.after_commit").ready()
    port = int(dying.url.rsplit(":", 1)[1])
    restarted: list[servers.Server] = []

    def restart() -> None:
        dying.proc.wait()
        restarted.append(servers.start(home, port=port).ready())

    restarter = threading.Thread(target=restart)
    restarter.start()
    try:
        with Client(dying.url, token, retries=6, backoff=0.5) as client:
            report = client.lake.ingest("retail-data", "bank.customers", ROWS, mode="create")
            assert dying.proc.returncode == -9  # the first attempt's answer was lost
            assert report["total_records"] == 2
            (snapshot,) = client.lake.snapshots("retail-data", "bank.customers").items
            assert snapshot["snapshot_id"] == report["snapshot_id"]
    finally:
        dying.proc.kill()  # if the test failed before it died
        restarter.join(timeout=90)
        for server in restarted:
            server.stop()
    with platform.runtime.db.read() as session:
        records = session.execute(select(AuditEvent.request_id, AuditEvent.details).where(
            AuditEvent.action == "lake:IngestTable").order_by(AuditEvent.seq)).all()
    first, replay = (json.loads(details) for _, details in records)
    assert first["idempotency_key"] == replay["idempotency_key"]
    assert replay["idempotent_replay_of"] == records[0].request_id


def test_each_call_sends_its_own_key(retail):
    platform, erin = retail
    erin.lake.create_database("retail-data", "sales")
    erin.lake.create_database("retail-data", "hr")
    with platform.runtime.db.read() as session:
        details = session.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "lake:CreateDatabase",
            AuditEvent.principal == "erin")).all()
    keys = [json.loads(d)["idempotency_key"] for d in details]
    assert len(keys) == 2 and len(set(keys)) == 2
