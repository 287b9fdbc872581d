"""`charter lake ingest`: one idempotency key per command, given back when the answer is
lost, and taken again to finish that write without writing twice."""

from __future__ import annotations

import json

from tests.lake.conftest import retail  # noqa: F401
from tests.servers import free_port

ROWS = b"id,name\n1,Ann\n2,Bob\n"


def test_the_same_key_finishes_the_write_once(retail):  # noqa: F811
    platform, erin = retail
    path = platform.settings.home / "rows.csv"
    path.write_bytes(ROWS)
    args = ("lake", "ingest", "retail-data", "bank.customers", str(path), "--mode", "create",
            "--idempotency-key", "nightly-2026-11-26", "--json")
    code, first, err = platform.cli(*args)
    assert code == 0, err
    code, again, err = platform.cli(*args)
    assert code == 0, err
    assert json.loads(again) == json.loads(first)
    assert erin.lake.table("retail-data", "bank.customers")["total_records"] == 2
    code, _, err = platform.cli("lake", "ingest", "retail-data", "bank.customers", str(path),
                                "--mode", "create")  # a new command, a new key
    assert code == 1 and "[table_exists]" in err


def test_a_lost_answer_names_the_key(retail):  # noqa: F811
    platform, _erin = retail
    path = platform.settings.home / "rows.csv"
    path.write_bytes(ROWS)
    platform.monkeypatch.setenv("CHARTER_URL", f"http://127.0.0.1:{free_port()}")
    args = ("lake", "ingest", "retail-data", "bank.customers", str(path))
    code, out, _ = platform.cli(*args, "--json")
    error = json.loads(out)
    assert code == 1 and error["code"] == "unreachable"
    key = error["details"]["idempotency_key"]
    code, _, err = platform.cli(*args)
    assert code == 1 and "--idempotency-key" in err and key not in err  # a new command
