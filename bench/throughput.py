"""Throughput of the governed pipeline: `charter server` under many concurrent keep-alive
clients on this machine, driven by wrk (bench/_wrk.py), beside `/healthz` on the same
server and beside `mlflow server` under the same tracking workload.

Configurations: PostgreSQL with 1 and 2 workers (`charter server --workers N`), SQLite with
1 (it refuses more). Each gets a fresh database, a platform with team-bench's dev account,
a data scientist and 20 more team members (data scientists and leads), and one server that
all its loads run against, one after the other; the generator shares the two cores.

Loads, each a table row with requests/s, p50, p99, socket errors and answers not 2xx:
1. `GET /healthz` (no token, no audit) at 10 clients: the floor;
2. `GET /v1/identity/whoami` (authenticated, authorized, audited) at 1, 10 and 50 clients,
   and its throughput at 10 clients as a share of /healthz's;
3. `POST /v1/identity/groups` (a write that changes the entity graph; a new name each
   request) at 1, 10 and 50 clients;
4. the tracking workload: 200 keep-alive writers sending `log-batch` of 10 metrics (one
   step further each time, so no point repeats) to MLflow's REST path on Charter,
   `POST /mlflow/<account>/api/2.0/mlflow/runs/log-batch`, as the data scientist who made
   the 200 runs first through the same API; at the same time, from a second wrk, 20 team
   members each with a token of their own asking for the first page (50) of the runs of
   the writers' experiment, of the account's experiments and of its audit events (`/v1`).
   wrk has no hook per connection: each of its threads sends to its share of the runs in
   turn, so with one request in flight per connection the runs written at once are
   (nearly always) all different, one per writer.
   The same writers against `mlflow server` (SQLite backend, the same worker count), with
   20 readers sending MLflow's searches of the runs and the experiments (MLflow has no
   audit trail): its figures beside Charter's, with the ratio.

After each load on Charter, once the server is idle again: the records the audit trail
gained (chained, or staged with their effect for the next group commit), beside the
requests the server answered (its request log: one line per request, written however the
request ended) and wrk's own count. They must match exactly, every request but /healthz
being audited. wrk stops at the end of its duration with a request in
flight on any connection: the server still answers those (and audits them) but wrk does not
count them, so wrk's count may fall short of the server's by up to the number of
connections, and no more. Then a checkpoint is signed and `charter audit verify` runs
over the whole trail. A worker process that uvicorn replaced during a load (one that missed
its health check) is named under the table, with the exceptions the server wrote to its
stderr, counted, and a body of each status that was not 2xx.

wrk's requests/s counts the answers it received; the requests cut off at the end are left
out, which at 200 connections and a slow server is a visible share of a short load. Beside
it, `served/s`: the requests of the row the server answered (its log), over the same
duration, those cut off included; the truth lies between the two.

Durations: 12 s a load (3 s with `--quick`). Times are printed, never asserted; the machine
runs other work at the same time, so the load average is printed before and after.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

import _wrk
from _common import (
    CHARTER_BIN,
    _free_port,
    charter_server,
    fresh_database,
    parse_quick,
    postgres_available,
    serving,
)
from _throughput_report import (
    Check,
    Configuration,
    Measured,
    print_configuration,
    print_tracking,
)
from _wrk import Call, Load, Script
from charter.api.app import create_app
from charter.core.db import Database
from charter.platform.bootstrap import initialize
from charter.platform.runtime import build_runtime
from charter.sdk import Client
from charter.settings import Settings
from tracking import _clean_env, mlflow_python

ACCOUNT, TEAM, SCIENTIST = "team-bench-dev", "team-bench", "sam"
CLIENTS = (1, 10, 50)
WRITERS, READERS, METRICS = 200, 20, 10
FULL_SECONDS, QUICK_SECONDS = 12, 3
MLFLOW = "/api/2.0/mlflow"


@dataclass(frozen=True)
class Team:
    """Tokens of the platform's administrator, the data scientist and the readers."""

    admin: str
    scientist: str
    readers: list[str]


@dataclass(frozen=True)
class Snapshot:
    answered: int  # lines in the server's request log
    audited: int  # of them, requests on audited paths (all but /healthz)
    batches: int  # of them, log-batch requests
    server_errors: int  # of them, answered 5xx
    records: int  # audit records in the chain
    staged: int  # audit records stored with their effect, waiting for the next batch


# -- the platform and the server's side of each load -----------------------------------

def setup_platform(home: Path, database_url: str) -> Team:
    """team-bench's dev account, its data scientist and READERS more members, and their
    tokens, made through the REST API as the administrator."""
    runtime = build_runtime(Settings(home=home, database_url=database_url))
    try:
        admin_token = initialize(runtime).admin_token
        assert admin_token
        with Client(token=admin_token, app=create_app(runtime=runtime)) as admin:
            admin.accounts.create(ACCOUNT, ou="/workloads/ml/nonprod", blueprint="ml-team-dev",
                                  tags={"owner": TEAM, "cost-center": "cc-4711"})
            admin.users.create(SCIENTIST, groups=[f"{TEAM}-data-scientists"])
            readers = []
            for i in range(READERS):
                name = f"reader-{i:02d}"
                group = "leads" if i % 4 == 0 else "data-scientists"
                admin.users.create(name, groups=[f"{TEAM}-{group}"])
                readers.append(admin.tokens.create(user=name)["token"])
            return Team(admin_token, admin.tokens.create(user=SCIENTIST)["token"], readers)
    finally:
        runtime.close()


_LINE = re.compile(r" (?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) (\d{3}) [\d.]+ms ")
LOG_BATCH = "/runs/log-batch"


class Trail:
    """The server's answered requests (its request log) and its audit records (its
    database), read as they grow."""

    def __init__(self, db: Database, log: Path) -> None:
        self.db, self.log = db, log
        self._offset, self._rest = 0, b""
        self._answered = self._audited = self._batches = self._5xx = 0

    def snapshot(self) -> Snapshot:
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        *lines, self._rest = (self._rest + chunk).split(b"\n")
        for line in lines:
            match = _LINE.search(line.decode(errors="replace"))
            if match:
                self._answered += 1
                self._audited += match.group(1) != "/healthz"
                self._batches += match.group(1).endswith(LOG_BATCH)
                self._5xx += match.group(2).startswith("5")
        with self.db.engine.connect() as conn:
            records = conn.scalar(text("SELECT count(*) FROM audit_events"))
            staged = conn.scalar(text("SELECT count(*) FROM audit_pending"))
        return Snapshot(self._answered, self._audited, self._batches, self._5xx,
                        int(records or 0), int(staged or 0))

    def settled(self, quiet: float = 1.0, limit: float = 60.0) -> Snapshot:
        """A snapshot once nothing has changed for `quiet` seconds: requests in flight when
        wrk stopped are answered and audited by then."""
        last, since, deadline = self.snapshot(), time.monotonic(), time.monotonic() + limit
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.snapshot()
            if now != last:
                last, since = now, time.monotonic()
        return last


def verify(url: str, home: Path, admin: str) -> tuple[bool, str]:
    """Sign a checkpoint of the trail, then `charter audit verify` against the server."""
    httpx.post(f"{url}/v1/audit/checkpoints", headers={"Authorization": f"Bearer {admin}"},
               timeout=600).raise_for_status()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    env |= {"CHARTER_HOME": str(home), "CHARTER_URL": url, "CHARTER_TOKEN": admin}
    done = subprocess.run([CHARTER_BIN, "audit", "verify", "--json"], env=env,
                          capture_output=True, text=True, timeout=1800)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return False, f"charter audit verify failed: {(done.stderr or done.stdout)[-500:]}"
    if report.get("ok") and done.returncode == 0:
        return True, f"{report['records']:,} records"
    return False, f"{report.get('problem')} (first bad record {report.get('first_bad_seq')})"


# -- loads ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """One load: wrk processes run at once on `url`."""

    label: str
    url: str
    scripts: list[Script]

    @property
    def connections(self) -> int:
        return sum(s.clients for s in self.scripts)


@dataclass
class Bench:
    """What every load of one run shares: wrk, the scripts' directory, the duration."""

    wrk: str
    workdir: Path
    seconds: float

    def run(self, plan: Plan) -> list[Load]:
        procs = [_wrk.start(self.wrk, plan.url, s, self.workdir, self.seconds)
                 for s in plan.scripts]
        return [_wrk.finish(proc, s.clients)
                for proc, s in zip(procs, plan.scripts, strict=True)]


def make_runs(base: str, token: str | None, runs: int) -> tuple[str, list[str]]:
    """An experiment and `runs` runs in it, made through MLflow's REST API at `base`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=base + MLFLOW, headers=headers, timeout=60) as http:
        def post(path: str, body: dict) -> dict:
            # A dropped connection is tried again (a worker that uvicorn replaced on a busy
            # machine drops its requests), said aloud; a second run does no harm here.
            for attempt in range(3):
                try:
                    answer = http.post(path, json=body)
                    break
                except httpx.TransportError as error:
                    print(f"   ({base}{MLFLOW}{path}: {error!r}; trying again)", flush=True)
                    if attempt == 2:
                        raise
            answer.raise_for_status()
            return answer.json()

        experiment = post("/experiments/create",
                          {"name": f"throughput-{time.time_ns()}"})["experiment_id"]
        now = int(time.time() * 1000)
        ids = [post("/runs/create", {"experiment_id": experiment, "start_time": now,
                                     "run_name": f"writer-{i:03d}"})["run"]["info"]["run_id"]
               for i in range(runs)]
    return experiment, ids


def tracking(url: str, prefix: str, writer: str | None,
             reads: Callable[[str], list[Call]], readers: list[str | None]) -> Plan:
    """WRITERS runs made now as `writer`, in a new experiment; the load: WRITERS
    connections sending log-batch to runs of their own, and READERS connections sending
    `reads(experiment)` as `readers` in turn."""
    experiment, runs = make_runs(url + prefix, writer, WRITERS)
    batches = _wrk.log_batches(f"{prefix}{MLFLOW}/runs/log-batch", writer, runs, 2, METRICS,
                               int(time.time() * 1000))
    return Plan("tracking", url, [Script("writers", batches, WRITERS, 2),
                                  Script("readers", _wrk.rotating(reads(experiment), readers),
                                         READERS, 1)])


def charter_plans(url: str, team: Team) -> Iterator[Plan]:
    """Every load of a Charter server, in order; each prepared (the tracking load's runs
    made) only when it is asked for."""
    for path, token, clients in [("/healthz", None, 10),
                                 *(("/v1/identity/whoami", team.scientist, c) for c in CLIENTS)]:
        yield Plan(f"GET {path}", url + path,
                   [Script("fixed", _wrk.fixed(Call("GET", path), token), clients)])
    for clients in CLIENTS:
        prefix = f"bench-{time.time_ns() % 10**9:09d}-{clients}"
        yield Plan("POST /v1/identity/groups", url, [Script(
            "groups", _wrk.new_groups("/v1/identity/groups", team.admin, prefix), clients)])

    def reads(experiment: str) -> list[Call]:
        return [Call("GET", f"/v1/accounts/{ACCOUNT}/runs?experiment_id={experiment}&limit=50"),
                Call("GET", f"/v1/accounts/{ACCOUNT}/experiments?limit=50"),
                Call("GET", f"/v1/audit/events?account={ACCOUNT}&limit=50")]

    yield tracking(url, f"/mlflow/{ACCOUNT}", team.scientist, reads, list(team.readers))


def children(pid: int) -> set[int]:
    """The processes `pid` started (Linux): a server's workers, and with them
    multiprocessing's resource tracker."""
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Failure|Unavailable)\b.*)$",
                        re.M)


def stderr_exceptions(stderr: Path) -> list[tuple[int, str]]:
    """The exceptions a server wrote to its stderr, counted, most frequent first."""
    found = Counter(line[:240] for line in _EXCEPTION.findall(
        stderr.read_text(errors="replace") if stderr.exists() else ""))
    return [(n, line) for line, n in found.most_common(5)]


def measure_charter(bench: Bench, config: Configuration) -> None:
    """Every load against one server on a fresh database, each checked, into `config`."""
    with fresh_database(config.backend) as db, tempfile.TemporaryDirectory(
            prefix="charter-bench-throughput-") as tmp:
        home, log = Path(tmp), Path(tmp) / "server.log"
        team = setup_platform(home, db.url)
        with charter_server(home, database_url=db.url, workers=config.workers,
                            log=log) as (url, pid):
            # Warm every worker's caches (policies, entities, connections): not counted.
            warm = _wrk.fixed(Call("GET", "/v1/identity/whoami"), team.scientist)
            Bench(bench.wrk, bench.workdir, 2).run(
                Plan("warm-up", url + "/v1/identity/whoami", [Script("warm", warm, 10)]))
            trail, seen = Trail(db, log), children(pid)
            for plan in charter_plans(url, team):
                before = trail.settled()
                loads = bench.run(plan)
                after = trail.settled()
                # A worker replaced during the load (uvicorn restarts one that does not
                # answer its health check in time) shows as a new child process.
                now = children(pid) if config.workers > 1 else set()
                replaced, seen = len(now - seen), seen | now
                ok, note = verify(url, home, team.admin)
                staged = after.staged - before.staged
                check = Check(answered=after.answered - before.answered,
                              audited=after.audited - before.audited,
                              records=after.records - before.records + staged, staged=staged,
                              server_errors=after.server_errors - before.server_errors,
                              wrk_requests=sum(x.requests for x in loads),
                              connections=plan.connections, verified=ok, verify_note=note,
                              replaced=replaced)
                if plan.label == "tracking":
                    batches = after.batches - before.batches
                    config.rows += [Measured("tracking: log-batch writers", loads[0], batches),
                                    Measured("tracking: readers (runs, experiments, audit)",
                                             loads[1], check.answered - batches, check)]
                else:
                    config.rows.append(Measured(plan.label, loads[0], check.answered, check))
                print(f"   {config.name}: {plan.label} at {plan.connections} clients: "
                      f"{sum(x.rps for x in loads):,.0f} req/s", flush=True)
        config.errors = stderr_exceptions(log.with_suffix(".err"))


_UVICORN_LINE = re.compile(r'"(?:GET|POST) (\S+) HTTP/1\.1" \d{3}')


def _uvicorn_answers(log: Path, start: int) -> tuple[int, int]:
    """log-batch requests and others that uvicorn's access log (mlflow server's) shows
    answered after byte `start`, once it has not grown for a second (at most a minute)."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + 60
    while time.monotonic() - since < 1 and time.monotonic() < deadline:
        size = log.stat().st_size
        if size != last:
            last, since = size, time.monotonic()
        time.sleep(0.2)
    with log.open("rb") as handle:
        handle.seek(start)
        paths = _UVICORN_LINE.findall(handle.read().decode(errors="replace"))
    batches = sum(p.endswith(LOG_BATCH) for p in paths)
    return batches, len(paths) - batches


def measure_mlflow(bench: Bench, python: Path, workers: int) -> tuple[Measured, Measured]:
    """The tracking workload against `mlflow server` (SQLite backend, `workers`)."""
    with tempfile.TemporaryDirectory(prefix="charter-bench-mlflow-") as tmp:
        home, port = Path(tmp), _free_port()
        args = [str(python.parent / "mlflow"), "server", "--backend-store-uri",
                f"sqlite:///{home / 'mlflow.db'}", "--artifacts-destination",
                str(home / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers)]
        url = f"http://127.0.0.1:{port}"
        log = home / "mlflow.log"
        with serving(args, url + "/health", env=_clean_env(), log=log, cwd=home):
            def reads(experiment: str) -> list[Call]:
                return [Call("POST", f"{MLFLOW}/runs/search",
                             json.dumps({"experiment_ids": [experiment], "max_results": 50})),
                        Call("POST", f"{MLFLOW}/experiments/search",
                             json.dumps({"max_results": 50}))]

            plan = tracking(url, "", None, reads, [None])
            start = log.stat().st_size
            loads = bench.run(plan)
            batches, others = _uvicorn_answers(log, start)
            return (Measured("writers", loads[0], batches),
                    Measured("readers", loads[1], others))


def main(quick: bool = False) -> None:
    wrk = _wrk.ensure_wrk()
    seconds = QUICK_SECONDS if quick else FULL_SECONDS
    backends = [("postgresql", 1), ("postgresql", 2)] if postgres_available() else []
    backends.append(("sqlite", 1))
    try:
        python: Path | None = mlflow_python()
    except RuntimeError as error:
        print(f"   {error}: the comparison with mlflow server is left out", flush=True)
        python = None
    print(f"   (load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{seconds:g} s a load)", flush=True)
    configs = [Configuration(backend, workers) for backend, workers in backends]
    failed: list[str] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="charter-wrk-")))
        bench = Bench(wrk, workdir, seconds)
        for config in configs:
            try:
                measure_charter(bench, config)
            except Exception as error:  # the other configurations still run and print
                traceback.print_exc()
                failed.append(f"charter server, {config.name}: {error}")
        peers = {}
        for workers in sorted({c.workers for c in configs}) if python else ():
            try:
                peers[workers] = measure_mlflow(bench, python, workers)
            except Exception as error:
                traceback.print_exc()
                failed.append(f"mlflow server, {workers} workers: {error}")
    print(f"   (load average after: {os.getloadavg()[0]:.1f})", flush=True)
    for config in configs:
        if config.rows:
            print_configuration(config)
    for config in configs:
        if config.workers in peers and config.rate("tracking: log-batch writers"):
            print_tracking(
                config, peers[config.workers],
                f"Tracking workload: {WRITERS} log-batch writers + {READERS} readers, at once",
                f"charter server, {config.name}; writers: POST /mlflow/{ACCOUNT}{MLFLOW}/"
                "runs/log-batch, readers: /v1 lists of runs and experiments, audit events",
                f"mlflow server, SQLite backend, --workers {config.workers}; writers: POST "
                f"{MLFLOW}/runs/log-batch, readers: runs/search, experiments/search")
    if failed:
        raise RuntimeError("some configurations could not be measured:\n"
                           + "\n".join(failed))

if __name__ == "__main__":
    main(parse_quick())
