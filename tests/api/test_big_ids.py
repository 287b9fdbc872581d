"""Iceberg snapshot ids (random 63-bit integers) travel in JSON as decimal strings, which
JavaScript reads exactly; a request may send one as a string or as a number."""

from __future__ import annotations

import json
import re

from charter.lake import _iceberg

CUSTOMERS = b"id,name\n1,Ann\n2,Bob\n"
MORE = b"id,name\n3,Cy\n"
TABLE = "/v1/accounts/retail-data/lake/tables/bank/customers"
DIGITS = re.compile(r"-?[0-9]{1,19}")


def test_snapshot_ids_are_strings_in_json_and_read_back_either_way(platform):
    admin = platform.admin
    admin.accounts.create("retail-data", ou="/workloads/data/prod", blueprint="data-domain",
                          tags={"owner": "retail", "cost-center": "cc-9"})
    admin.lake.create_domain("retail", account="retail-data")
    admin.lake.create_database("retail-data", "bank")
    first = admin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    admin.lake.ingest("retail-data", "bank.customers", MORE)
    http = admin._http
    raw = json.loads(http.get(TABLE + "/snapshots").text)["items"]  # as any JSON reader sees it
    assert len(raw) == 2
    for snapshot in raw:
        assert isinstance(snapshot["snapshot_id"], str) and DIGITS.fullmatch(
            snapshot["snapshot_id"])
    assert raw[0]["parent_id"] is None and raw[1]["parent_id"] == raw[0]["snapshot_id"]
    sent = first.model_dump(mode="json")["snapshot_id"]  # the SDK's typed answer, as JSON
    assert isinstance(sent, str) and sent == raw[0]["snapshot_id"]
    table = json.loads(http.get(TABLE).text)
    assert table["current_snapshot"] == raw[1]["snapshot_id"]
    iceberg = _iceberg.load(platform.runtime, "retail-data", "bank", "customers")
    assert [str(s.snapshot_id) for s in iceberg.snapshots()] == [s["snapshot_id"] for s in raw]
    for pin in (raw[0]["snapshot_id"], int(raw[0]["snapshot_id"])):
        result = admin.lake.query("retail-data", "SELECT count(*) AS n FROM bank.customers",
                                  snapshots={"bank.customers": pin})
        assert result.column("n").to_pylist() == [2]
    document = http.get("/openapi.json").json()["components"]["schemas"]
    assert document["SnapshotRead"]["properties"]["snapshot_id"]["type"] == "string"
    pinned = document["QueryRequest"]["properties"]["snapshots"]["additionalProperties"]
    assert {kind["type"] for kind in pinned["anyOf"]} == {"string", "integer"}
