"""`make demo` runs the whole walkthrough on a fresh home and ends with a verified trail."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(bool(os.environ.get("CHARTER_TEST_DATABASE_URL")),
                    reason="the demo runs on the embedded default (SQLite, local files)")
def test_demo_runs_end_to_end(tmp_path):
    home = tmp_path / "demo-home"
    done = subprocess.run([sys.executable, "-m", "charter.demo", "--home", str(home),
                           "--stop-server"], capture_output=True, text=True, timeout=280,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("CHARTER_")})
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "already initialised" in out
    assert "team-a-prod" in out and "/workloads/ml/prod" in out
    assert "forbidden by control:CHARTER-PREV-3" in out
    assert "[control_violation]: CHARTER-PRO-1" in out
    assert "CHARTER-DET-3" in out
    assert "audit trail verified" in out
    assert "demo complete" in out
    assert (home / "config").exists()
