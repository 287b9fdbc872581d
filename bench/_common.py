"""Shared benchmark helpers: arguments, timing, side-by-side tables, a temporary platform
with a realistic organisation, fresh metadata databases (SQLite or PostgreSQL) and
`charter server` in a subprocess."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from charter.api.app import create_app
from charter.core.context import Runtime
from charter.core.db import Database, migrate
from charter.platform.bootstrap import initialize
from charter.platform.runtime import build_runtime
from charter.sdk import Client
from charter.settings import Settings

CHARTER_BIN = os.path.join(os.path.dirname(sys.executable), "charter")
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAGES = (("dev", "/workloads/ml/nonprod"), ("test", "/workloads/ml/nonprod"),
          ("prod", "/workloads/ml/prod"))
TEAM_GROUPS = ("leads", "data-scientists", "data-scientists", "ml-engineers", "ml-engineers")
CENTRAL_GROUPS = ("security-auditors", "governance-officers", "cloud-engineering")


def parse_quick(argv: list[str] | None = None) -> bool:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    return parser.parse_args(argv).quick


# -- timing and tables -----------------------------------------------------------------

def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p90 and p99 of `samples`."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98]}


@dataclass
class Row:
    """One measured quantity, Charter against its peer; `met` is None without a target."""

    metric: str
    charter: float
    peer: float | None
    unit: str
    target: str = "-"
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.charter / self.peer if self.peer else None


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    digits = 0 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    return f"{value:,.{digits}f}{' ' + unit if unit else ''}"


def print_table(title: str, charter: str, peer: str, rows: list[Row], *,
                speedup: bool = False) -> None:
    """Print rows side by side: metric, Charter, peer, ratio (Charter / peer), with
    `speedup` the speedup (peer / Charter), target, met."""
    header = ("metric", "Charter", "peer", "ratio", *(("speedup",) if speedup else ()),
              "target", "met")
    cells = [(r.metric, _num(r.charter, r.unit), _num(r.peer, r.unit),
              _num(r.ratio) + "x" if r.ratio is not None else "-",
              *((_num(1 / r.ratio) + "x" if r.ratio else "-",) if speedup else ()),
              r.target, {True: "yes", False: "NO", None: "-"}[r.met]) for r in rows]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(f"\n== {title}\n   Charter: {charter}\n   peer:    {peer}")
    for i, cell in enumerate([header, *cells]):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(cell, widths, strict=True))))
        if i == 0:
            print(line)
    print(line, flush=True)


# -- a temporary platform with a realistic organisation ---------------------------------

@dataclass
class Platform:
    home: Path
    runtime: Runtime
    admin_token: str
    client: Client
    accounts: list[str]
    users: dict[str, str | None]  # user -> team (None: central)


def _vend_teams(client: Client, teams: int) -> list[str]:
    accounts = []
    for t in range(teams):
        team = f"team-{t:02d}"
        for stage, ou in STAGES:
            name = f"{team}-{stage}"
            client.accounts.create(name, ou=ou, blueprint=f"ml-team-{stage}",
                                   tags={"owner": team, "cost-center": f"cc-{100 + t % 7}"})
            accounts.append(name)
    return accounts


def _add_users(client: Client, teams: int, users: int) -> dict[str, str | None]:
    """Team members round-robin over the teams; every 25th user is in a central group.
    Returns each user's team (None for central users)."""
    out: dict[str, str | None] = {}
    for i in range(users):
        name, team = f"user-{i:04d}", f"team-{i % teams:02d}"
        if i % 25 == 24:
            group, team = CENTRAL_GROUPS[(i // 25) % len(CENTRAL_GROUPS)], None
        else:
            group = f"{team}-{TEAM_GROUPS[(i // teams) % len(TEAM_GROUPS)]}"
        client.users.create(name, groups=[group])
        out[name] = team
    return out


@contextmanager
def platform(teams: int, users: int) -> Iterator[Platform]:
    """A platform in a temporary home with `teams` x (dev, test, prod) accounts and
    `users` users, all created through the REST API as the administrator."""
    with tempfile.TemporaryDirectory(prefix="charter-bench-") as tmp:
        home = Path(tmp)
        runtime = build_runtime(Settings(home=home, database_url=None))
        try:
            token = initialize(runtime).admin_token
            assert token
            with Client(token=token, app=create_app(runtime=runtime)) as client:
                start = time.perf_counter()
                accounts = _vend_teams(client, teams)
                members = _add_users(client, teams, users)
                print(f"   (organisation: {len(accounts)} accounts, {len(members)} users, built in "
                      f"{time.perf_counter() - start:.1f} s)", flush=True)
                yield Platform(home, runtime, token, client, accounts, members)
        finally:
            runtime.close()


# -- fresh metadata databases ------------------------------------------------------------

def postgres_available() -> bool:
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect():
            return True
    except Exception as error:  # any connection failure means "skip PostgreSQL"
        print(f"   PostgreSQL at {PG_ADMIN_URL} is unreachable ({type(error).__name__}): "
              "skipping the PostgreSQL part", flush=True)
        return False
    finally:
        engine.dispose()


def _pg_admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def fresh_database(backend: str) -> Iterator[Database]:
    """A migrated, empty metadata store on `backend` (sqlite | postgresql), removed after."""
    with tempfile.TemporaryDirectory(prefix="charter-bench-db-") as tmp:
        name = f"charter_bench_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'charter.db'}"
        else:
            _pg_admin(f'CREATE DATABASE "{name}"')
            url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(
                hide_password=False)
        db = None
        try:
            migrate(url)
            db = Database(url)
            yield db
        finally:
            if db is not None:
                db.dispose()
            if backend != "sqlite":
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- a real server ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(home: str, log: Path | None = None) -> Iterator[str]:
    """`charter server` on a free port as a subprocess; stopped on exit, whatever happens.
    With `log`, its request log (stdout) goes to that file."""
    port = _free_port()
    env = {**os.environ, "CHARTER_HOME": home}
    for key in ("CHARTER_DATABASE_URL", "CHARTER_URL", "CHARTER_PROFILE", "CHARTER_TOKEN"):
        env.pop(key, None)
    stdout = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen([CHARTER_BIN, "server", "--port", str(port)], env=env,
                            stdout=stdout, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"charter server exited: {proc.stderr.read().decode()}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            stdout.close()


@contextmanager
def serving(args: list[str], health_url: str, *, env: dict[str, str] | None = None,
            log: Path | None = None, cwd: Path | None = None,
            timeout: float = 300) -> Iterator[subprocess.Popen]:
    """`args` as a server process, ready once `health_url` answers 200; stopped on exit,
    whatever happens. Its stdout goes to `log` (or nowhere), its stderr to a file beside it:
    a pipe nobody reads would stall a server that writes much to it."""
    with tempfile.TemporaryDirectory(prefix="charter-bench-proc-") as tmp:
        err_path = (log.with_suffix(".err") if log else Path(tmp) / "stderr")
        with (log.open("wb") if log else open(os.devnull, "wb")) as out, \
                err_path.open("wb") as err:
            proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=err)
            try:
                deadline = time.monotonic() + timeout
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(f"{Path(args[0]).name} exited: "
                                           f"{err_path.read_text(errors='replace')[-3000:]}")
                    try:
                        if httpx.get(health_url, timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError as error:
                        if time.monotonic() > deadline:
                            raise RuntimeError(
                                f"{Path(args[0]).name} did not answer {health_url} within "
                                f"{timeout:g} s: {err_path.read_text(errors='replace')[-3000:]}"
                            ) from error
                    time.sleep(0.1)
                yield proc
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@contextmanager
def charter_server(home: Path, *, database_url: str | None = None, workers: int = 1,
                   log: Path | None = None) -> Iterator[tuple[str, int]]:
    """`charter server --workers N` over `home` (and `database_url`, else the home's
    SQLite) on a free port; its URL and process id. With `log`, its request log goes to
    that file, as text."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("CHARTER_URL", "CHARTER_PROFILE", "CHARTER_TOKEN")}
    env |= {"CHARTER_HOME": str(home), "CHARTER_API_LOG_FORMAT": "text"}
    env.pop("CHARTER_DATABASE_URL", None)
    if database_url:
        env["CHARTER_DATABASE_URL"] = database_url
    url = f"http://127.0.0.1:{port}"
    with serving([CHARTER_BIN, "server", "--port", str(port), "--workers", str(workers)],
                 url + "/healthz", env=env, log=log) as proc:
        yield url, proc.pid
