"""`charter server`: a real HTTP server; the CLI and SDK talk to it remotely."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from charter import Client
from charter.errors import CharterError, Denied

from .conftest import CHARTER, free_port


def _charter(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHARTER, *args], env=env, capture_output=True, text=True, timeout=60)


def test_remote_sdk_and_cli(server):
    platform, url, env = server
    admin = Client(url, platform.admin_token)
    assert admin.healthz()["status"] == "ok"
    assert httpx.get(f"{url}/docs").status_code == 200
    admin.accounts.create("team-a-dev", ou="/workloads/ml/nonprod", blueprint="ml-team-dev",
                          tags={"owner": "team-a", "cost-center": "c1"})
    admin.accounts.create("team-b-dev", ou="/workloads/ml/nonprod", blueprint="ml-team-dev",
                          tags={"owner": "team-b", "cost-center": "c2"})
    admin.users.create("rita", groups=["team-a-leads"])
    token = admin.tokens.create(user="rita")["token"]

    login = _charter(env, "--profile", "remote", "login", "--url", url, "--token", token)
    assert login.returncode == 0, login.stderr
    shown = _charter(env, "--profile", "remote", "accounts", "list", "--json")
    assert [a["name"] for a in json.loads(shown.stdout)["items"]] == ["team-a-dev"]
    refused = _charter(env, "--profile", "remote", "accounts", "show", "team-b-dev")
    assert refused.returncode == 1 and "[access_denied]" in refused.stderr
    with pytest.raises(Denied):
        Client(url, token).accounts.get("team-b-dev")
    # CHARTER_URL / CHARTER_TOKEN override any profile.
    as_env = _charter({**env, "CHARTER_URL": url, "CHARTER_TOKEN": token}, "whoami", "--json")
    assert json.loads(as_env.stdout)["name"] == "rita"
    events = admin.audit.events(principal="rita", decision="deny")["items"]
    assert {e["account"] for e in events} == {"team-b-dev"}
    assert {e["source"] for e in events} == {"cli", "sdk"}


def test_unreachable_server_is_a_clear_error(platform):
    port = free_port()
    with pytest.raises(CharterError) as failed:
        Client(f"http://127.0.0.1:{port}", platform.admin_token).whoami()
    assert failed.value.code == "unreachable"


def test_sdk_encodes_names_in_paths(platform):
    platform.vend("team-a-dev")
    alice, _ = platform.user("alice", "team-a-leads")
    victim = platform.admin.tokens.create(user="alice", expires_in="1h")
    with pytest.raises(CharterError):
        alice.accounts.close(f"../identity/tokens/{victim['id']}/revoke#")
    assert platform.admin.tokens.list(user="alice", limit=10)["items"][-1]["status"] == "active"
    with pytest.raises(CharterError):
        alice.accounts.get("team-b-dev/../team-a-dev")
