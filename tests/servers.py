"""Real `charter server` processes for tests: started on a free port, stopped or killed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CHARTER = str(Path(sys.executable).parent / "charter")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    log: Path

    def ready(self, timeout: float = 60) -> Server:
        """Wait until it answers /healthz."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"server did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=30)


def start(home: Path, *, port: int | None = None, fault_point: str | None = None) -> Server:
    """`charter server` on the platform the environment names (CHARTER_HOME and
    CHARTER_DATABASE_URL, as the `platform` fixture sets them), optionally with a fault
    point; does not wait for it (`ready`)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("CHARTER_TOKEN", "CHARTER_URL", "CHARTER_FAULT_POINT")}
    if fault_point:
        env["CHARTER_FAULT_POINT"] = fault_point
    log = home / f"server-{port}-{fault_point or 'clean'}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([CHARTER, "server", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    return Server(proc, f"http://127.0.0.1:{port}", log)
