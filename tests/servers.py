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


MOTO_SERVER = str(Path(sys.executable).parent / "moto_server")


@dataclass
class S3Server:
    """A real S3 API server (moto's standalone server) that checks signatures: requests
    must be signed with `access_key_id` and `secret_access_key`, its one IAM user's."""

    proc: subprocess.Popen
    endpoint: str
    access_key_id: str
    secret_access_key: str

    def client(self, service: str = "s3", **credentials: str):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=credentials.get("key", self.access_key_id),
                            aws_secret_access_key=credentials.get(
                                "secret", self.secret_access_key))

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=30)


def start_s3(log: Path, timeout: float = 60) -> S3Server:
    """moto's S3 server on a free port, with one IAM user allowed everything and
    signature checks on: a request signed with other credentials is refused."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"moto_server did not start: {log.read_text()}")
        time.sleep(0.05)
    server = S3Server(proc, endpoint, "unused", "unused")
    iam = server.client("iam")
    iam.create_user(UserName="charter")
    iam.put_user_policy(UserName="charter", PolicyName="everything", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'))
    key = iam.create_access_key(UserName="charter")["AccessKey"]
    server.access_key_id, server.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]
    # From now on every request is authenticated (moto counts from 0 to 0).
    httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0", timeout=10).raise_for_status()
    return server
