"""MLflow fixtures: a real `charter server`, team-a-dev with its data scientist sam, and
the real MLflow client (its own environment, `make mlflow-client`) run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Build, Platform
from tests.servers import Server, start

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_PYTHON = ROOT / ".venv-mlflow" / "bin" / "python"
CLIENTS = Path(__file__).parent / "clients"
ACCOUNT = "team-a-dev"


@dataclass
class MlflowSetup:
    platform: Platform
    server: Server
    sam_token: str
    bea_token: str  # a data scientist of team-b-dev: another account

    @property
    def tracking_uri(self) -> str:
        return f"{self.server.url}/mlflow/{ACCOUNT}"

    def http(self, token: str | None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.tracking_uri, headers=headers, timeout=60)

    def run_client(self, script: str, *args: str, token: str | None = None,
                   timeout: float = 300) -> dict[str, Any]:
        """Run clients/<script> with the MLflow client's interpreter as sam (or `token`);
        returns the JSON object it prints last."""
        if not MLFLOW_PYTHON.exists():
            pytest.fail(f"the MLflow client's environment is missing ({MLFLOW_PYTHON}): "
                        "build it with `make mlflow-client`")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CHARTER_"))}
        env.update(MLFLOW_TRACKING_URI=self.tracking_uri,
                   MLFLOW_TRACKING_TOKEN=token or self.sam_token,
                   MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true",
                   MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", GIT_PYTHON_REFRESH="quiet")
        done = subprocess.run([str(MLFLOW_PYTHON), str(CLIENTS / script), *args], env=env,
                              cwd=self.platform.settings.home, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, (f"{script} failed:\n{done.stderr[-6000:]}\n"
                                      f"server log:\n{self.server.log.read_text()[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def scientists_of_two_teams(platform: Platform) -> None:
    """team-a-dev and team-b-dev are vended; sam is a data scientist of team a, bea of
    team b."""
    platform.vend(ACCOUNT)
    platform.vend("team-b-dev")
    platform.user("sam", "team-a-data-scientists")
    platform.user("bea", "team-b-data-scientists")


@pytest.fixture
def mlflow_setup(platform_from: Callable[[Build], Platform]) -> Iterator[MlflowSetup]:
    platform = platform_from(scientists_of_two_teams)
    server = start(platform.settings.home).ready()
    yield MlflowSetup(platform, server, platform.tokens["sam"], platform.tokens["bea"])
    server.stop()
