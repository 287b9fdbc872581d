"""Several worker processes, one chain: `charter server --workers N` over PostgreSQL, records
staged with their effect and chained in group commits (audit/_sequencer.py), and what a
worker killed mid-load leaves behind."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from charter.access.records import AuditRecord
from charter.audit import chain
from charter.audit.orm import AuditEvent, AuditPending
from tests.conftest import PG_URL
from tests.servers import CHARTER, Server, free_port

needs_pg = pytest.mark.skipif(not PG_URL, reason="set CHARTER_TEST_DATABASE_URL to a "
                              "PostgreSQL server")


def _start(home: Path, workers: int, **settings: str) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CHARTER_TOKEN", "CHARTER_URL")}
    env.update(settings)
    log = home / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([CHARTER, "server", "--port", str(port), "--workers",
                                 str(workers)], env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(proc, f"http://127.0.0.1:{port}", log).ready(timeout=120)


def _workers_of(server: Server) -> list[int]:
    """The pids of the server's worker processes (uvicorn spawns them as children)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server.proc.pid and b"spawn_main" in cmdline:
            found.append(int(pid))
    return found


def _trail(platform) -> list[AuditEvent]:
    with platform.runtime.db.read() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def _pending(platform) -> int:
    with platform.runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditPending))


def _assert_one_chain(platform) -> list[AuditEvent]:
    with platform.runtime.db.transaction() as session:
        report = chain.verify(session, key=platform.runtime.audit_key)
    assert report.ok, report
    rows = _trail(platform)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == chain.GENESIS
    for earlier, later in itertools.pairwise(rows):
        assert later.prev_hash == earlier.hash
    return rows


def _load(url: str, token: str, writers: int, rounds: int, *, midway=None) -> dict[str, str]:
    """`writers` clients at once, each `rounds` times: create a group (a write), read who
    they are (a read), try to delete audit records (refused). Returns the request id of
    every answered request with its action; a request cut off by a killed worker is sent
    again on a new connection, and only the answered one is counted."""
    answered: dict[str, str] = {}
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(writers)
    halfway = threading.Event()

    def one(client: httpx.Client, method: str, path: str, action: str, ok: int,
            **kw) -> None:
        expected = {ok}
        for _ in range(20):
            try:
                response = client.request(method, path, **kw)
            except httpx.TransportError:
                # The worker holding this connection was killed: again on a new one. Its
                # write may have committed before it died: then the retry finds it made.
                expected.add(409)
                continue
            assert response.status_code in expected, response.text
            with lock:
                answered[response.headers["x-request-id"]] = action
            return
        raise AssertionError(f"{method} {path} never answered")

    def writer(i: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                barrier.wait(timeout=60)
                for r in range(rounds):
                    one(client, "POST", "/v1/identity/groups", "identity:CreateGroup", 201,
                        json={"name": f"load-{i}-{r}"})
                    one(client, "GET", "/v1/identity/whoami", "identity:WhoAmI", 200)
                    one(client, "DELETE", "/v1/audit/events", "audit:DeleteEvents", 403)
                    if i == 0 and r == rounds // 2 and midway is not None:
                        midway()
                        halfway.set()
        except BaseException as exc:  # reported below with the client's number
            with lock:
                errors.append(f"client {i}: {exc!r}")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return answered


def _assert_each_answered_once(rows: list[AuditEvent], answered: dict[str, str]) -> None:
    """Every answered request left exactly one record, of its action; none was lost."""
    seen = Counter(r.request_id for r in rows)
    assert {rid: seen[rid] for rid in answered} == dict.fromkeys(answered, 1)
    by_id = {r.request_id: r.action for r in rows}
    assert {rid: by_id[rid] for rid in answered} == answered


def _connections_of(platform, pids: list[int]) -> int:
    """Database connections the processes `pids` hold open now."""
    names = [f"charter-{pid}" for pid in pids]
    with platform.runtime.db.read() as session:
        return session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY(:names)"),
            {"names": names})


@pytest.mark.postgres
@pytest.mark.slow
@needs_pg
def test_two_workers_and_fifty_writers_leave_one_unbroken_chain(platform):
    """... and the server's processes together stay within CHARTER_DATABASE_CONNECTIONS:
    50 clients wait for a connection rather than exhaust the database's."""
    platform.vend("team-a-dev")  # a few records before the load
    server = _start(platform.settings.home, workers=2, CHARTER_DATABASE_CONNECTIONS="12")
    peak = [0]
    loading = threading.Event()

    def sample() -> None:
        pids = [server.proc.pid, *_workers_of(server)]
        while loading.is_set():
            peak[0] = max(peak[0], _connections_of(platform, pids))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    try:
        assert len(_workers_of(server)) == 2
        loading.set()
        sampler.start()
        answered = _load(server.url, platform.admin_token, writers=50, rounds=3)
    finally:
        loading.clear()
        if sampler.is_alive():
            sampler.join()
        server.stop()
    assert len(answered) == 50 * 3 * 3
    assert 4 < peak[0] <= 12  # the workers' 4 each and the parent's share
    rows = _assert_one_chain(platform)
    _assert_each_answered_once(rows, answered)
    assert _pending(platform) == 0  # every staged record was chained before its answer
    created = Counter(r.resource.rsplit("/", 1)[-1] for r in rows
                      if r.action == "identity:CreateGroup" and r.outcome == "success")
    assert created == {f"load-{i}-{r}": 1 for i in range(50) for r in range(3)}


@pytest.mark.postgres
@pytest.mark.slow
@needs_pg
def test_a_worker_killed_mid_load_loses_no_answered_record(platform):
    """kill -9 of one worker while 20 clients write: uvicorn starts another; every request
    that was answered has its record, the chain is whole, and records the killed worker
    staged but never chained are chained by the next batch of the other."""
    server = _start(platform.settings.home, workers=2)
    killed: list[int] = []

    def kill_one() -> None:
        pid = _workers_of(server)[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    try:
        answered = _load(server.url, platform.admin_token, writers=20, rounds=6,
                         midway=kill_one)
        # One more request after the load: its batch takes whatever is still staged.
        httpx.get(f"{server.url}/v1/identity/whoami", timeout=60,
                  headers={"Authorization": f"Bearer {platform.admin_token}"})
        deadline = time.monotonic() + 60
        while len(_workers_of(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert killed and killed[0] not in _workers_of(server)
    finally:
        server.stop()
    rows = _assert_one_chain(platform)
    _assert_each_answered_once(rows, answered)
    assert _pending(platform) == 0


@pytest.mark.postgres
@needs_pg
def test_a_record_staged_but_never_chained_is_chained_by_the_next_batch(platform):
    """A process killed between its commit and its batch leaves its record staged (the
    effect and the record committed together): the next operation of any process chains
    it first, in the order it was staged."""
    before = len(_trail(platform))
    records = [AuditRecord(principal="admin", account="management", action="test:Crashed",
                           resource=f"crn:management:test:thing/{n}", decision="allow",
                           outcome="success", request_id=f"req-crashed-{n}", source="test")
               for n in range(3)]
    with platform.runtime.db.transaction() as session:
        chain.stage(session, records)  # committed, and nobody settles
    assert _pending(platform) == 3
    assert len(_trail(platform)) == before
    platform.admin.whoami()
    rows = _assert_one_chain(platform)
    new = rows[before:]
    assert [r.request_id for r in new[:3]] == ["req-crashed-0", "req-crashed-1",
                                               "req-crashed-2"]
    assert new[3].action == "identity:WhoAmI"
    assert _pending(platform) == 0


@pytest.mark.postgres
@needs_pg
def test_a_damaged_head_refuses_the_effect_with_its_staged_record(platform):
    """Staging takes no lock, but it checks the head: a write to a trail whose head was
    changed is refused and changes nothing, as when records were chained in place."""
    from sqlalchemy import update

    from charter.audit.orm import AuditHead
    from charter.errors import CharterError

    with platform.runtime.db.transaction() as session:
        session.execute(update(AuditHead).values(seq=-5))
    with pytest.raises(CharterError) as refused:
        platform.admin.groups.create("never-made")
    assert refused.value.code == "audit_trail_damaged"
    with platform.runtime.db.transaction() as session:
        session.execute(update(AuditHead).values(seq=len(_trail(platform))))
    with pytest.raises(CharterError) as missing:
        platform.admin.groups.get("never-made")
    assert missing.value.http_status == 404
    assert _pending(platform) == 0


def test_more_than_one_worker_on_sqlite_is_refused(platform):
    if not platform.runtime.db.is_sqlite:
        pytest.skip("the embedded default only")
    done = subprocess.run([CHARTER, "server", "--workers", "2", "--port", str(free_port())],
                          capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "CHARTER_TOKEN"})
    assert done.returncode != 0
    assert "[workers_need_postgresql]" in done.stderr
    assert "--workers 2 needs PostgreSQL" in done.stderr
