"""Attacks on the store's connections and locks: PostgreSQL backends terminated under a
running `charter server --workers 2` (idle and under load), and SQLite with many writers
in one server plus a CLI process writing at the same time."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import httpx
import pytest
from sqlalchemy import select, text

from charter.audit.orm import AuditEvent
from tests.conftest import PG_URL
from tests.servers import CHARTER, start

needs_pg = pytest.mark.skipif(not PG_URL, reason="set CHARTER_TEST_DATABASE_URL")


def _records_of(platform, ids: list[str]) -> dict[str, int]:
    with platform.runtime.db.read() as session:
        rows = session.scalars(select(AuditEvent.request_id).where(
            AuditEvent.request_id.in_(ids))).all()
    return {rid: rows.count(rid) for rid in ids}


def _terminate(platform, pids: list[int]) -> int:
    names = [f"charter-{pid}" for pid in pids]
    with platform.runtime.db.read() as session:
        return len(session.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = ANY(:names)"), {"names": names}).all())


def _cli_env(platform) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CHARTER_URL",)}
    env["CHARTER_TOKEN"] = platform.admin_token
    env["CHARTER_HOME"] = str(platform.settings.home)
    if platform.settings.database_url:
        env["CHARTER_DATABASE_URL"] = platform.settings.database_url
    return env


@pytest.mark.postgres
@pytest.mark.slow
@needs_pg
def test_backends_terminated_after_idling_and_under_load(platform):
    from tests.audit.test_workers import _start, _workers_of

    server = _start(platform.settings.home, workers=2, CHARTER_DATABASE_CONNECTIONS="12")
    headers = {"authorization": f"Bearer {platform.admin_token}"}
    answered: list[tuple[int, str]] = []
    lock = threading.Lock()

    def request(client: httpx.Client, i: int) -> None:
        response = (client.post("/v1/identity/groups", json={"name": f"g-{i}"})
                    if i % 2 else client.get("/v1/identity/whoami"))
        with lock:
            answered.append((response.status_code, response.headers["x-request-id"]))
            if response.status_code >= 500:
                bodies.append(response.text[:300])

    bodies: list[str] = []
    try:
        pids = [server.proc.pid, *_workers_of(server)]
        for i in range(20):
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
                request(c, i)
        time.sleep(6)  # idle past the ping's 5 s
        assert _terminate(platform, pids) > 0
        idle_answers = []
        for i in range(20, 40):
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
                request(c, i)
                idle_answers.append(answered[-1][0])
        assert set(idle_answers) <= {200, 201}, idle_answers  # the ping replaced them

        stop = threading.Event()

        def load(k: int) -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
                i = 1000 * (k + 1)
                while not stop.is_set():
                    request(c, i)
                    i += 1

        threads = [threading.Thread(target=load, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for _ in range(5):
            time.sleep(0.4)
            _terminate(platform, pids)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        assert server.proc.poll() is None
    finally:
        server.stop()
    codes = {code for code, _ in answered}
    counts = _records_of(platform, [rid for _, rid in answered])
    missing = {rid: n for rid, n in counts.items() if n != 1}
    ok = {rid for code, rid in answered if code < 300}
    by_code: dict[int, list[int]] = {}
    for code, rid in answered:
        by_code.setdefault(code, [0, 0])[0] += 1
        by_code[code][1] += counts[rid] != 1
    # Held: every answered 2xx has its one record; the server survives; the idle ping
    # replaced the dropped connections (above). Not asserted here: some 500s have no
    # record (see test_a_write_whose_commit_fails_...), a 503 audit_unavailable neither.
    assert codes <= {200, 201, 500, 503}, (codes, set(bodies))
    assert not {rid for rid in missing if rid in ok}, (len(missing), by_code)


def test_sqlite_many_writers_in_a_server_and_a_cli_process_at_once(platform):
    if PG_URL:
        pytest.skip("SQLite only")
    server = start(platform.settings.home).ready()
    headers = {"authorization": f"Bearer {platform.admin_token}"}
    answered: list[tuple[int, str]] = []
    lock = threading.Lock()
    errors: list[str] = []

    def writer(k: int) -> None:
        try:
            with httpx.Client(base_url=server.url, headers=headers, timeout=120) as c:
                for r in range(6):
                    response = c.post("/v1/identity/groups", json={"name": f"w-{k}-{r}"})
                    with lock:
                        answered.append((response.status_code,
                                         response.headers["x-request-id"]))
        except Exception as error:
            errors.append(repr(error))

    def cli() -> list[int]:
        codes = []
        for r in range(6):
            done = subprocess.run([CHARTER, "groups", "create", f"cli-{r}"],
                                  env=_cli_env(platform), capture_output=True, text=True,
                                  timeout=180)
            codes.append(done.returncode)
            if done.returncode:
                errors.append(done.stderr[-500:])
        return codes

    try:
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        cli_codes = cli()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "deadlock"
    finally:
        server.stop()
    assert errors == []
    assert cli_codes == [0] * 6
    assert {code for code, _ in answered} == {201}
    counts = _records_of(platform, [rid for _, rid in answered])
    assert set(counts.values()) == {1}
    names = {g["name"] for g in platform.admin.groups.list(limit=500)["items"]}
    assert {f"w-{k}-{r}" for k in range(16) for r in range(6)} <= names
    assert {f"cli-{r}" for r in range(6)} <= names
    done = subprocess.run([CHARTER, "audit", "verify"], env=_cli_env(platform),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_cli_process_revoking_a_token_a_server_keeps_is_seen_at_once(platform):
    _ron, token = platform.user("ron", "security-auditors")
    server = (start(platform.settings.home) if not PG_URL else None)
    if server is None:
        pytest.skip("SQLite run; the two-worker test covers PostgreSQL")
    server.ready()
    try:
        with httpx.Client(base_url=server.url, timeout=60,
                          headers={"authorization": f"Bearer {token}"}) as c:
            token_id = c.get("/v1/identity/whoami").json()["token_id"]  # kept
            done = subprocess.run([CHARTER, "tokens", "revoke", token_id, "--yes"],
                                  env=_cli_env(platform), capture_output=True, text=True,
                                  timeout=180)
            assert done.returncode == 0, done.stderr
            refused = c.get("/v1/identity/whoami")
            write = c.post("/v1/identity/groups", json={"name": "never"})
    finally:
        server.stop()
    assert (refused.status_code, write.status_code) == (401, 401)
    assert "token_revoked" in refused.text
    assert _records_of(platform, [refused.headers["x-request-id"],
                                  write.headers["x-request-id"]]) == {
        refused.headers["x-request-id"]: 1, write.headers["x-request-id"]: 1}


def test_a_write_whose_commit_fails_is_answered_500_and_recorded_once(platform):
    from sqlalchemy import event
    from starlette.testclient import TestClient

    engine = platform.runtime.db.engine
    armed = [False]

    def fail_commit(conn) -> None:
        if armed[0]:
            armed[0] = False
            raise RuntimeError("the connection dropped at COMMIT")

    event.listen(engine, "commit", fail_commit)
    try:
        with TestClient(platform.app, raise_server_exceptions=False) as http:
            headers = {"authorization": f"Bearer {platform.admin_token}"}
            assert http.get("/v1/identity/whoami", headers=headers).status_code == 200
            armed[0] = True  # the next commit: the operation's (the token was just used)
            response = http.post("/v1/identity/groups", json={"name": "lost"},
                                 headers={"authorization": f"Bearer {platform.admin_token}"})
    finally:
        event.remove(engine, "commit", fail_commit)
    assert response.status_code == 500, response.text
    assert "lost" not in {g["name"] for g in platform.admin.groups.list()["items"]}
    rid = response.headers["x-request-id"]
    assert _records_of(platform, [rid]) == {rid: 1}


@pytest.mark.postgres
@pytest.mark.slow
@needs_pg
def test_connections_stay_within_the_share_when_a_worker_is_killed_mid_load(platform):
    import signal

    from tests.audit.test_workers import _start, _workers_of

    server = _start(platform.settings.home, workers=2, CHARTER_DATABASE_CONNECTIONS="12")
    headers = {"authorization": f"Bearer {platform.admin_token}"}
    stop, peak, peak_before = threading.Event(), [0], [0]
    killed = threading.Event()
    pids = {server.proc.pid, *_workers_of(server)}

    def count() -> int:
        pids.update(_workers_of(server))  # the killed worker's stay counted
        with platform.runtime.db.read() as session:
            return session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY(:n)"),
                {"n": [f"charter-{pid}" for pid in pids]})

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], count())
            if not killed.is_set():
                peak_before[0] = peak[0]
            time.sleep(0.01)

    def load(k: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
                    while not stop.is_set():
                        c.post("/v1/identity/groups", json={"name": f"k-{k}-{i}"})
                        i += 1
            except httpx.TransportError:
                i += 1

    threads = [threading.Thread(target=load, args=(k,)) for k in range(30)]
    sampler = threading.Thread(target=sample)
    try:
        sampler.start()
        for t in threads:
            t.start()
        time.sleep(2)
        killed.set()
        os.kill(_workers_of(server)[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(_workers_of(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join()
        sampler.join()
        server.stop()
    assert 4 < peak_before[0] <= 12, peak_before[0]
    assert peak[0] <= 12, (peak_before[0], peak[0])
