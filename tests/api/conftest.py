"""API fixtures: `charter server` as a real process on a free port, over the test's platform."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent

CHARTER = str(Path(sys.executable).parent / "charter")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_record(platform, response) -> AuditEvent:
    """The one audit record of the request `response` answers (by its `x-request-id`)."""
    with platform.runtime.db.transaction() as session:
        records = list(session.scalars(select(AuditEvent).where(
            AuditEvent.request_id == response.headers["x-request-id"])))
    assert len(records) == 1, [(r.action, r.outcome) for r in records]
    return records[0]


@pytest.fixture
def server(platform):
    """(platform, url, env): the server shares the platform's home and database; its
    output goes to a file, so a server that logs much never blocks on a full pipe."""
    port = free_port()
    env = {**os.environ}
    env.pop("CHARTER_TOKEN", None)
    log_path = platform.settings.home / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([CHARTER, "server", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"server did not start: {log_path.read_text()}")
        time.sleep(0.1)
    yield platform, url, env
    proc.terminate()
    proc.wait(timeout=10)
