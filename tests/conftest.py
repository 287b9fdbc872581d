"""Shared fixtures: a real platform per test, copied from a migrated, initialised template.

Set CHARTER_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to
run the whole suite on PostgreSQL: each test then gets a fresh database cloned from a
template database.

Fixtures that set up the same accounts and users for many tests (a vended team and its
people) build them once per test process into a template of their own, with
`platform_from(build)`; each test still gets its own copy: its own home, database and
object store.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
        # A commit need not wait for the disk: only a crash of the PostgreSQL server could
        # lose it, and no test crashes that server (they kill Charter's, never PostgreSQL).
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    engine.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    engine = pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class Dropper:
    """Drops the tests' databases in a background thread. DROP DATABASE waits for a
    checkpoint (a second or more: a flush of every database to disk) that drops running
    at the same time share; so teardown only queues the database, and the drops queued
    while a checkpoint runs wait for the next one together."""

    MAX_AT_ONCE = 4  # connections: well under PostgreSQL's max_connections, per process

    def __init__(self) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._failures: list[str] = []
        self._thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
        self._thread.start()

    def drop(self, url: str) -> None:
        self._queue.put(url)

    def close(self) -> None:
        """Wait until every queued database is dropped; fail if one could not be."""
        self._queue.put(None)
        self._thread.join()
        assert not self._failures, f"test databases not dropped: {self._failures}"

    def _run(self) -> None:
        with ThreadPoolExecutor(self.MAX_AT_ONCE, thread_name_prefix="drop") as pool:
            while True:
                batch = [self._queue.get()]
                while not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                urls = [url for url in batch if url is not None]
                for url, failed in zip(urls, pool.map(self._drop, urls), strict=True):
                    if failed:
                        self._failures.append(f"{make_url(url).database}: {failed}")
                if len(urls) < len(batch):
                    return

    @staticmethod
    def _drop(url: str) -> str | None:
        try:
            drop_pg_database(url)
        except Exception as error:  # reported by close(), at the end of the session
            return repr(error)
        return None


@pytest.fixture(scope="session")
def dropper() -> Iterator[Dropper | None]:
    """Drops the databases of the tests' platforms (PostgreSQL); None on SQLite."""
    if not PG_URL:
        yield None
        return
    made = Dropper()
    yield made
    made.close()


@dataclass
class Template:
    """A platform to copy: its home, its database (PostgreSQL; else in the home), and the
    tokens made in it: the admin's, and those of the users a build made."""

    home: Path
    database_url: str | None
    admin_token: str
    tokens: dict[str, str] = field(default_factory=dict)


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
    tokens: dict[str, str] = field(default_factory=dict)  # user -> the token `user` made
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
        token = self.tokens[name] = self.admin.tokens.create(user=name)["token"]
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
def platform(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             dropper: Dropper | None) -> Iterator[Platform]:
    p = open_platform(template, tmp_path / "home", monkeypatch)
    yield p
    close_platform(p, dropper)


@pytest.fixture
def s3_platform(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                dropper: Dropper | None, s3_storage: S3Storage) -> Iterator[Platform]:
    """`platform` with its objects (the lake's tables) on the S3 server."""
    p = open_platform(template, tmp_path / "home", monkeypatch, s3_storage.env)
    yield p
    close_platform(p, dropper)


Build = Callable[[Platform], None]


class Templates:
    """Templates made from the base one by a build (vend accounts, create users, through
    the same API calls a test would make), each once per test process and on first use.

    A build must leave nothing that names its own home (the copies live elsewhere): no
    lake tables (Iceberg keeps absolute file locations), no objects on S3."""

    def __init__(self, base: Template, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.base = base
        self._tmp = tmp_path_factory
        self._made: dict[Build, Template] = {}

    def of(self, build: Build) -> Template:
        if build not in self._made:
            self._made[build] = self._make(build)
        return self._made[build]

    def _make(self, build: Build) -> Template:
        home = self._tmp.mktemp(f"template-{build.__name__.strip('_')}") / "home"
        with pytest.MonkeyPatch.context() as monkeypatch:
            p = open_platform(self.base, home, monkeypatch)
            try:
                build(p)
            finally:
                p.close()  # PostgreSQL copies a template database only with no one on it
        made = Template(home, p.settings.database_url, self.base.admin_token, dict(p.tokens))
        if made.database_url is None:
            database = (home / "charter.db").read_bytes()
            assert str(home).encode() not in database, (
                f"the build {build.__name__} stored paths of its own home, which copies of "
                "it would share: set this up in the test instead")
        return made

    def drop(self) -> None:
        for made in self._made.values():
            if made.database_url:
                drop_pg_database(made.database_url)


@pytest.fixture(scope="session")
def templates(template: Template, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Templates]:
    made = Templates(template, tmp_path_factory)
    yield made
    made.drop()


@pytest.fixture
def platform_from(templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  dropper: Dropper | None) -> Iterator[Callable[[Build], Platform]]:
    """`platform_from(build)`: the test's platform, a copy of what `build` makes on a new
    platform, built once per test process. The test's `platform` fixture is another
    platform: a test takes one of the two (asking for both fails, on the home)."""
    opened: list[Platform] = []

    def make(build: Build) -> Platform:
        p = open_platform(templates.of(build), tmp_path / "home", monkeypatch)
        opened.append(p)
        return p

    yield make
    for p in opened:
        close_platform(p, dropper)


def open_platform(template: Template, home: Path, monkeypatch: pytest.MonkeyPatch,
                  storage_env: dict[str, str] | None = None) -> Platform:
    """A platform in `home`, copied from `template`, with the environment (through
    `monkeypatch`) that names it to the CLI and to `charter server`."""
    if home.exists():
        raise AssertionError(f"{home} is taken: a test has one platform (`platform`, "
                             "`s3_platform` or one from `platform_from`)")
    shutil.copytree(template.home, home)
    url = None
    if template.database_url:
        url = create_pg_database(template=make_url(template.database_url).database)
    for key in ("CHARTER_URL", "CHARTER_PROFILE", "CHARTER_TOKEN", *STORAGE_ENV):
        monkeypatch.delenv(key, raising=False)
    for key, value in (storage_env or {}).items():  # read by Settings, and by CLI runs
        monkeypatch.setenv(key, value)
    settings = Settings(home=home, database_url=url)
    monkeypatch.setenv("CHARTER_HOME", str(home))
    if url:
        monkeypatch.setenv("CHARTER_DATABASE_URL", url)
    else:
        monkeypatch.delenv("CHARTER_DATABASE_URL", raising=False)
    runtime = build_runtime(settings)
    return Platform(settings, runtime, create_app(runtime=runtime), template.admin_token,
                    monkeypatch, tokens=dict(template.tokens))


def close_platform(p: Platform, dropper: Dropper | None) -> None:
    """Close the platform, and drop its own database if it has one (PostgreSQL)."""
    p.close()
    if p.settings.database_url:
        assert dropper is not None  # there is one whenever the tests run on PostgreSQL
        dropper.drop(p.settings.database_url)
