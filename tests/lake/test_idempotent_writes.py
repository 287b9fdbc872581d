"""Idempotency keys: a retried write returns its first result and writes nothing more."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from charter.access.orm import IdempotencyKey
from charter.audit.orm import AuditEvent
from charter.core.clock import now
from charter.errors import Conflict, Invalid

ROWS = b"id,name\n1,Ann\n2,Bob\n"
TABLE = "/v1/accounts/retail-data/lake/tables/bank/customers"


def _ingest(client, key: str | None, data: bytes = ROWS, mode: str = "create"):
    return client.request("POST", TABLE + "/ingest", params={"mode": mode, "format": "csv"},
                          content=data, idempotency_key=key)


def _records(platform, action: str = "lake:IngestTable") -> list[dict]:
    with platform.runtime.db.read() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.seq)).scalars().all()
    return [{"request_id": r.request_id, "outcome": r.outcome, "error_code": r.error_code,
             "details": json.loads(r.details) if r.details else {}} for r in rows]


def test_a_retry_with_the_key_returns_the_first_result_and_writes_nothing(retail):
    platform, erin = retail
    first = _ingest(erin, "load-1")
    again = _ingest(erin, "load-1")
    assert again == first
    snapshots = erin.lake.snapshots("retail-data", "bank.customers").items
    assert [s["total_records"] for s in snapshots] == [2]
    # An append retried after its answer was lost: still once.
    appended = _ingest(erin, "load-2", b"id,name\n3,Cy\n", mode="append")
    assert _ingest(erin, "load-2", b"id,name\n3,Cy\n", mode="append") == appended
    assert erin.lake.table("retail-data", "bank.customers")["total_records"] == 3
    # Every call is recorded; the replays name the request that wrote.
    records = [r for r in _records(platform) if r["outcome"] == "success"]
    assert len(records) == 4
    assert records[1]["details"]["idempotent_replay_of"] == records[0]["request_id"]
    assert records[3]["details"]["idempotent_replay_of"] == records[2]["request_id"]
    assert "idempotent_replay_of" not in records[0]["details"]


def test_the_key_with_another_request_is_refused(retail):
    platform, erin = retail
    _ingest(erin, "load-1")
    with pytest.raises(Conflict) as reused:
        _ingest(erin, "load-1", b"id,name\n9,Zed\n", mode="append")
    assert reused.value.code == "idempotency_key_reused"
    with pytest.raises(Conflict) as other_operation:
        erin.request("POST", "/v1/accounts/retail-data/lake/databases",
                     json={"name": "other"}, idempotency_key="load-1")
    assert other_operation.value.code == "idempotency_key_reused"
    assert erin.lake.table("retail-data", "bank.customers")["total_records"] == 2
    assert "other" not in [d["name"] for d in erin.lake.databases("retail-data").items]
    refused = _records(platform)[-1]
    assert (refused["error_code"], refused["details"]["idempotency_key"]) == \
        ("idempotency_key_reused", "load-1")


def test_keys_are_per_principal(retail):
    platform, erin = retail
    _ingest(erin, "load-1")
    fred, _ = platform.user("fred", "retail-data-data-engineers")
    # The same key from someone else is their own key: their write runs.
    fred.request("POST", TABLE + "/ingest", params={"mode": "append", "format": "csv"},
                 content=b"id,name\n3,Cy\n", idempotency_key="load-1")
    assert erin.lake.table("retail-data", "bank.customers")["total_records"] == 3


def test_a_failed_write_keeps_no_key_and_runs_again(retail):
    platform, erin = retail
    _ingest(erin, "load-1")
    erin.lake.add_rules("retail-data", "bank.customers", ["row_count(1, 2)"])
    for _ in range(2):  # refused both times: the refusal was not kept as a result
        with pytest.raises(Invalid) as refused:
            _ingest(erin, "load-2", b"id,name\n3,Cy\n", mode="append")
        assert refused.value.code == "quality_check_failed"
    with platform.runtime.db.read() as session:
        keys = set(session.scalars(select(IdempotencyKey.key)))
    assert "load-2" not in keys and "load-1" in keys


def test_an_expired_key_is_a_new_key(retail):
    platform, erin = retail
    _ingest(erin, "load-1", mode="create")
    hours = platform.settings.idempotency_key_hours
    with platform.runtime.db.transaction() as session:
        session.execute(update(IdempotencyKey).values(
            created_at=now() - timedelta(hours=hours + 1)))
    with pytest.raises(Conflict) as exists:  # ran again: the table is there already
        _ingest(erin, "load-1", mode="create")
    assert exists.value.code == "table_exists"


def test_a_malformed_key_is_refused(retail):
    _platform, erin = retail
    with pytest.raises(Invalid) as refused:
        _ingest(erin, "no spaces allowed")
    assert refused.value.code == "invalid_idempotency_key"
    with pytest.raises(Invalid):
        _ingest(erin, "k" * 129)


def test_other_lake_writes_take_keys(retail):
    _platform, erin = retail
    path = "/v1/accounts/retail-data/lake/databases"
    made = erin.request("POST", path, json={"name": "sales"}, idempotency_key="db-1")
    assert erin.request("POST", path, json={"name": "sales"}, idempotency_key="db-1") == made
    with pytest.raises(Conflict) as exists:  # without the key: a second create
        erin.request("POST", path, json={"name": "sales"})
    assert exists.value.code == "database_exists"


def test_every_kind_of_lake_write_answers_a_retry_with_its_first_result(retail):
    platform, erin = retail
    admin = platform.admin
    _ingest(erin, None)
    table = "/v1/accounts/retail-data/lake/tables/bank/customers"
    writes = [
        (admin, "POST", "/v1/lake/tags", {"key": "domain", "values": ["retail"]}),
        (erin, "POST", "/v1/accounts/retail-data/lake/tags",
         {"resource": "bank.customers", "key": "domain", "value": "retail"}),
        (erin, "POST", table + "/rules", {"rules": ["not_null(id)"]}),
        (erin, "POST", "/v1/accounts/retail-data/lake/grants",
         {"table": "bank.customers", "to": "group:retail-data-data-engineers",
          "columns": ["id"]}),
    ]
    for i, (client, method, path, body) in enumerate(writes):
        first = client.request(method, path, json=body, idempotency_key=f"w-{i}")
        assert client.request(method, path, json=body, idempotency_key=f"w-{i}") == first
    grant_id = erin.lake.grants("retail-data").items[0]["id"]
    path = f"/v1/accounts/retail-data/lake/grants/{grant_id}"
    revoked = erin.request("DELETE", path, idempotency_key="revoke-1")
    assert erin.request("DELETE", path, idempotency_key="revoke-1") == revoked
