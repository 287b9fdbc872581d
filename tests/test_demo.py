"""`make demo` runs the whole walkthrough on a fresh home and ends with a verified trail."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(bool(os.environ.get("CHARTER_TEST_DATABASE_URL")),
                    reason="the demo runs on the embedded default (SQLite, local files)")
def test_demo_runs_end_to_end(tmp_path):
    home = tmp_path / "demo-home"
    done = subprocess.run([sys.executable, "-m", "charter.demo", "--home", str(home),
                           "--stop-server"], capture_output=True, text=True, timeout=880,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("CHARTER_")})
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "already initialised" in out
    assert "team-a-prod" in out and "/workloads/ml/prod" in out
    assert "forbidden by control:CHARTER-PREV-3" in out
    assert "[control_violation]: CHARTER-PRO-1" in out
    assert "CHARTER-DET-3" in out
    # the data-lake chapter: seeded bank data, a refused write, a masked share, refused reads
    assert (home / "data" / "customers.csv").exists()
    assert "create: 1000 rows into bank.customers" in out
    assert "create: 20000 rows into bank.transactions" in out
    assert "[quality_check_failed]" in out and "nothing was written" in out
    assert "the failed append left no trace" in out
    assert "[exceeds_share]" in out
    assert "****" in out  # name=constant: a masked cell in sam's query
    assert "may not lake:QueryTables on crn:retail-banking-data" in out  # the raw PII read
    assert "[query_refused]: function read_parquet is not allowed" in out
    _ml_chapter(out)
    assert "audit trail verified" in out
    assert "demo complete" in out
    assert (home / "config").exists()


def _ml_chapter(out: str) -> None:
    """Step 2 of the operations flow: three tracked runs on the lake's bank data, the best
    registered in team-a-dev's registry, approved by the team lead and not by the data
    scientist."""
    trained = re.findall(r"^(logistic-regression|random-forest|gradient-boosting) +run "
                         r"([0-9a-f]{32})  roc_auc ([\d.]+)", out, re.MULTILINE)
    assert [name for name, _, _ in trained] == ["logistic-regression", "random-forest",
                                                "gradient-boosting"], out[-3000:]
    best = re.search(r"^best: (\S+) \(run ([0-9a-f]{32})\); registered bank-segment "
                     r"version 1, PendingManualApproval, files (.*)$", out, re.MULTILINE)
    assert best, out[-3000:]
    name, run_id, _ = max(trained, key=lambda t: float(t[2]))
    assert (best.group(1), best.group(2)) == (name, run_id)
    assert sorted(f.strip() for f in best.group(3).split(",")) == ["model.onnx", "model.skops"]
    # the runs recorded what they read: both shared tables, at their snapshots
    shown = out.split(f"runs show team-a-dev {run_id}", 1)[1].split("11. The ML team lead")[0]
    assert "bank.transactions @ " in shown and "bank.customers @ " in shown
    assert "FINISHED" in shown and "roc_auc" in shown
    approval = out.split("11. The ML team lead", 1)[1]
    assert "PendingManualApproval" in approval
    assert "may not registry:ApproveModelVersion" in approval  # sam's attempt
    assert "bank-segment version 1: Approved" in approval


def test_bank_data_is_seeded_and_the_bad_file_breaks_each_rule(tmp_path):
    import csv

    from charter.demo.bank import REGIONS, write_bank_data

    files = write_bank_data(tmp_path / "a")
    again = write_bank_data(tmp_path / "b")
    for mine, other in zip((files.customers, files.transactions, files.bad_customers),
                           (again.customers, again.transactions, again.bad_customers),
                           strict=True):
        assert mine.read_bytes() == other.read_bytes()
    customers = list(csv.DictReader(files.customers.open(encoding="utf-8")))
    txns = list(csv.DictReader(files.transactions.open(encoding="utf-8")))
    bad = list(csv.DictReader(files.bad_customers.open(encoding="utf-8")))
    assert len(customers) == 1000 and len(txns) == 20000
    ids = {c["customer_id"] for c in customers}
    assert len(ids) == 1000 and {c["region"] for c in customers} == set(REGIONS)
    assert all(c["ssn"].startswith("9") for c in customers)  # never an issued SSN
    assert len({t["txn_id"] for t in txns}) == 20000
    assert all(t["customer_id"] in ids and 0 <= float(t["amount"]) <= 1_000_000 for t in txns)
    assert [b["customer_id"] == "" for b in bad].count(True) == 1
    assert sum(b["customer_id"] in ids for b in bad) == 1
    assert sum(b["region"] not in REGIONS for b in bad) == 1
    assert sum(not 1900 <= int(b["birth_year"]) <= 2010 for b in bad) == 1
