"""Shared fixtures: a real platform per test, copied from a migrated, initialised template.

Set CHARTER_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to
run the whole suite on PostgreSQL: each test then gets a fresh database cloned from a
template database.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from charter.api.app import create_app
from charter.core.context import Runtime
from charter.platform.runtime import build_runtime
from charter.sdk import Client
from charter.settings import Settings
from tests.servers import S3Server, start_s3

PG_URL = os.environ.get("CHARTER_TEST_DATABASE_URL")


def pytest_configure(config: pytest.Config) -> None:
    # An S3 client made without keys asks the AWS default credential chain, whose last
    # link is the instance metadata service at 169.254.169.254: never from a test run.
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def pg_admin_engine():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def create_pg_database(template: str | None = None) -> str:
    name = f"charter_t_{uuid.uuid4().hex[:12]}"
    engine = pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'
                          + (f' TEMPLATE "{template}"' if template else "")))
    engine.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    engine = pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@dataclass
class Template:
    home: Path
    database_url: str | None
    admin_token: str


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """Initialised by `charter init`, as a user would: database, organisation, profile."""
    from charter.cli.config import load_profile
    from charter.cli.main import run

    home = tmp_path_factory.mktemp("template-home")
    url = create_pg_database() if PG_URL else None
    saved = {k: os.environ.pop(k, None) for k in ("CHARTER_DATABASE_URL", "CHARTER_TOKEN",
                                                   "CHARTER_URL", "CHARTER_PROFILE")}
    try:
        if url:
            os.environ["CHARTER_DATABASE_URL"] = url
        with contextlib.redirect_stdout(io.StringIO()):
            assert run(["init", "--home", str(home)]) == 0
    finally:
        os.environ.pop("CHARTER_DATABASE_URL", None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    token = load_profile(home, "default").token
    assert token
    yield Template(home, url, token)
    if url:
        drop_pg_database(url)


@dataclass
class Platform:
    """A running platform for one test: settings, runtime, app and helpers."""

    settings: Settings
    runtime: Runtime
    app: Any
    admin_token: str
    monkeypatch: pytest.MonkeyPatch
    _clients: list[Client] = field(default_factory=list)

    @property
    def admin(self) -> Client:
        return self.client(self.admin_token)

    def client(self, token: str | None) -> Client:
        client = Client(token=token, app=self.app)
        self._clients.append(client)
        return client

    def vend(self, name: str, blueprint: str | None = None, **tags: str) -> dict[str, Any]:
        """Vend `name` (e.g. team-a-dev) with its blueprint and the required tags."""
        stage = name.rsplit("-", 1)[-1]
        blueprint = blueprint or f"ml-team-{stage}"
        ou = "/workloads/ml/prod" if stage == "prod" else "/workloads/ml/nonprod"
        all_tags = {"owner": name.rsplit("-", 1)[0], "cost-center": "cc-100", **tags}
        return self.admin.accounts.create(name, ou=ou, blueprint=blueprint, tags=all_tags)

    def user(self, name: str, *groups: str) -> tuple[Client, str]:
        """Create a user in `groups` and return (client acting as them, their token)."""
        self.admin.users.create(name, groups=list(groups))
        token = self.admin.tokens.create(user=name)["token"]
        return self.client(token), token

    def cli(self, *args: str, token: str | None = None,
            use_profile: bool = False) -> tuple[int, str, str]:
        """Run `charter ARGS` in-process as the admin (or `token`, or with `use_profile`
        the token of the chosen profile); returns (exit code, stdout, stderr)."""
        from charter.cli.main import run

        if use_profile:
            self.monkeypatch.delenv("CHARTER_TOKEN", raising=False)
        else:
            self.monkeypatch.setenv("CHARTER_TOKEN", token or self.admin_token)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(args))
        return code, out.getvalue(), err.getvalue()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.runtime.close()


STORAGE_ENV = ("CHARTER_STORAGE_URL", "CHARTER_STORAGE_ENDPOINT_URL", "CHARTER_STORAGE_REGION",
               "CHARTER_STORAGE_ACCESS_KEY_ID", "CHARTER_STORAGE_SECRET_ACCESS_KEY")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 API server for this test process (moto's standalone server)."""
    server = start_s3(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    server.stop()


@dataclass
class S3Storage:
    """A fresh bucket on the S3 server, and the settings that put objects under
    `s3://<bucket>/objects`."""

    server: S3Server
    bucket: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/objects"

    @property
    def env(self) -> dict[str, str]:
        return {"CHARTER_STORAGE_URL": self.url,
                "CHARTER_STORAGE_ENDPOINT_URL": self.server.endpoint,
                "CHARTER_STORAGE_REGION": "us-east-1",
                "CHARTER_STORAGE_ACCESS_KEY_ID": self.server.access_key_id,
                "CHARTER_STORAGE_SECRET_ACCESS_KEY": self.server.secret_access_key}

    def settings(self, home: Path, **changes: Any) -> Settings:
        """Settings of a platform in `home` with its objects in this bucket."""
        return Settings(home=home, **grouped({
            "storage_url": self.url, "storage_endpoint_url": self.server.endpoint,
            "storage_region": "us-east-1", "storage_access_key_id": self.server.access_key_id,
            "storage_secret_access_key": self.server.secret_access_key, **changes}))


def grouped(values: dict[str, Any]) -> dict[str, Any]:
    """Settings keywords with `storage_x=...` gathered into the storage group."""
    storage = {k.removeprefix("storage_"): v for k, v in values.items()
               if k.startswith("storage_")}
    rest = {k: v for k, v in values.items() if not k.startswith("storage_")}
    return {**rest, "storage": storage} if storage else rest


@pytest.fixture
def s3_storage(s3_server: S3Server) -> S3Storage:
    return S3Storage(s3_server, s3_server.create_bucket(f"charter-{uuid.uuid4().hex[:16]}"))


@pytest.fixture
def platform(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[Platform]:
    yield from _platform(template, tmp_path, monkeypatch, {})


@pytest.fixture
def s3_platform(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                s3_storage: S3Storage) -> Iterator[Platform]:
    """`platform` with its objects (the lake's tables) on the S3 server."""
    yield from _platform(template, tmp_path, monkeypatch, s3_storage.env)


def _platform(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              storage_env: dict[str, str]) -> Iterator[Platform]:
    home = tmp_path / "home"
    shutil.copytree(template.home, home)
    url = None
    if template.database_url:
        url = create_pg_database(template=make_url(template.database_url).database)
    for key in ("CHARTER_URL", "CHARTER_PROFILE", "CHARTER_TOKEN", *STORAGE_ENV):
        monkeypatch.delenv(key, raising=False)
    for key, value in storage_env.items():  # read by Settings, and by in-process CLI runs
        monkeypatch.setenv(key, value)
    settings = Settings(home=home, database_url=url)
    monkeypatch.setenv("CHARTER_HOME", str(home))
    if url:
        monkeypatch.setenv("CHARTER_DATABASE_URL", url)
    else:
        monkeypatch.delenv("CHARTER_DATABASE_URL", raising=False)
    runtime = build_runtime(settings)
    p = Platform(settings, runtime, create_app(runtime=runtime), template.admin_token,
                 monkeypatch)
    yield p
    p.close()
    if url:
        drop_pg_database(url)
