"""The outbox: an event exists iff its transaction committed, and every delivery runs at
least once, across a dispatcher killed between the handler and the "delivered" mark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from charter.core import events
from charter.core.clock import now
from charter.core.events import OutboxDelivery, OutboxEvent
from charter.errors import Conflict

WORKER = Path(__file__).with_name("outbox_worker.py")
SUB = "test.recorder"


def _emit(platform, n: int, type_: str = "TestPing", per_tx: int = 10) -> list[str]:
    ids: list[str] = []
    for start in range(0, n, per_tx):
        with platform.runtime.db.transaction() as session:
            for i in range(start, min(n, start + per_tx)):
                ids.append(events.emit(platform.runtime, session, type_, "management",
                                       {"i": i}, f"req-test-{i}"))
    return ids


def _deliveries(platform, subscriber: str = SUB) -> list[OutboxDelivery]:
    with platform.runtime.db.transaction() as session:
        return list(session.scalars(select(OutboxDelivery)
                                    .where(OutboxDelivery.subscriber == subscriber)
                                    .order_by(OutboxDelivery.id)))


def _recorded(path: Path) -> list[tuple[int, str]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        pid, event_id = line.split()
        rows.append((int(pid), event_id))
    return rows


def _worker(platform, record: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), "--url", platform.settings.resolved_database_url,
         "--subscriber", SUB, "--record", str(record), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _recording_handler(record: Path):
    def handler(_runtime, event: events.Event) -> None:
        with record.open("a") as out:
            out.write(f"{os.getpid()} {event.id}\n")
    return handler


def _wait_lease_expired(deliveries: list[OutboxDelivery]) -> None:
    leases = [d.claimed_until for d in deliveries if d.claimed_until is not None]
    if leases:
        time.sleep(max(0.0, (max(leases) - now()).total_seconds()) + 0.05)


def test_emit_commits_event_and_one_delivery_per_interested_subscriber(platform):
    seen: list[str] = []
    events.subscribe(platform.runtime, SUB, {"TestPing"}, lambda rt, ev: seen.append(ev.id))
    events.subscribe(platform.runtime, "test.all", {"*"}, lambda rt, ev: None)
    events.subscribe(platform.runtime, "test.other", {"SomethingElse"}, lambda rt, ev: None)
    [event_id] = _emit(platform, 1)
    assert [d.event_id for d in _deliveries(platform)] == [event_id]
    assert [d.event_id for d in _deliveries(platform, "test.all")] == [event_id]
    assert _deliveries(platform, "test.other") == []
    with platform.runtime.db.transaction() as session:
        stored = session.get(OutboxEvent, event_id)
        assert (stored.type, stored.account, stored.payload, stored.request_id) == (
            "TestPing", "management", {"i": 0}, "req-test-0")
    assert events.dispatch_pending(platform.runtime) >= 2
    assert seen == [event_id]
    assert all(d.delivered_at is not None and d.attempts == 1 for d in _deliveries(platform))
    assert events.dispatch_pending(platform.runtime) == 0  # nothing is delivered twice
    assert seen == [event_id]


def test_event_in_rolled_back_transaction_produces_no_delivery(platform):
    seen: list[str] = []
    events.subscribe(platform.runtime, SUB, {"*"}, lambda rt, ev: seen.append(ev.id))
    with platform.runtime.db.transaction() as session:
        before = session.scalar(select(func.count()).select_from(OutboxEvent))
    with pytest.raises(RuntimeError), platform.runtime.db.transaction() as session:
        event_id = events.emit(platform.runtime, session, "TestPing", "management", {},
                               "req-rollback")
        session.flush()
        raise RuntimeError("the operation failed after emitting")
    with platform.runtime.db.transaction() as session:
        assert session.get(OutboxEvent, event_id) is None
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == before
    assert _deliveries(platform) == []
    events.dispatch_pending(platform.runtime)
    assert seen == []


def test_failed_governed_operation_emits_no_event(platform):
    """A refused operation (user exists) rolls back its event with its effect."""
    platform.admin.users.create("dana")
    events.subscribe(platform.runtime, SUB, {"UserCreated"}, lambda rt, ev: None)
    with pytest.raises(Conflict):
        platform.admin.users.create("dana")
    assert _deliveries(platform) == []
    platform.admin.users.create("erin")
    [delivery] = _deliveries(platform)
    with platform.runtime.db.transaction() as session:
        assert session.get(OutboxEvent, delivery.event_id).payload["user"] == "erin"


def test_raising_handler_is_retried_after_its_lease(platform):
    calls: Counter[str] = Counter()

    def flaky(_runtime, event: events.Event) -> None:
        calls[event.id] += 1
        if calls[event.id] == 1:
            raise ValueError("downstream unavailable")

    events.subscribe(platform.runtime, SUB, {"TestPing"}, flaky)
    [event_id] = _emit(platform, 1)
    lease = timedelta(seconds=0.3)
    assert events.dispatch_pending(platform.runtime, lease=lease) == 0
    [d] = _deliveries(platform)
    assert d.delivered_at is None and d.attempts == 1
    assert "downstream unavailable" in d.last_error
    assert events.pending_count(platform.runtime) >= 1
    # still leased: not retried at once, so a failing handler is not hammered
    assert events.dispatch_pending(platform.runtime, lease=lease) == 0
    assert calls[event_id] == 1
    _wait_lease_expired([d])
    assert events.dispatch_pending(platform.runtime, lease=lease) == 1
    assert calls[event_id] == 2
    [d] = _deliveries(platform)
    assert d.delivered_at is not None and d.attempts == 2


def test_deliveries_for_an_unknown_subscriber_wait_for_it(platform):
    events.subscribe(platform.runtime, "test.gone", {"TestPing"}, lambda rt, ev: None)
    _emit(platform, 2)
    del events.subscribers(platform.runtime)["test.gone"]
    events.dispatch_pending(platform.runtime)
    assert [d.delivered_at for d in _deliveries(platform, "test.gone")] == [None, None]


def test_concurrent_dispatchers_claim_each_delivery_once(platform):
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(_runtime, event: events.Event) -> None:
        with lock:
            calls[event.id] += 1

    events.subscribe(platform.runtime, SUB, {"TestPing"}, handler)
    ids = _emit(platform, 40, per_tx=40)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            while events.dispatch_pending(platform.runtime, limit=5):
                pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    while events.dispatch_pending(platform.runtime):  # a thread may stop while others hold claims
        pass
    assert calls == Counter(dict.fromkeys(ids, 1))  # long lease: no delivery ran twice
    assert all(d.delivered_at is not None for d in _deliveries(platform))


def test_crash_between_handler_and_mark_redelivers(platform, tmp_path):
    """The worker process dies (os._exit) right after the 15th handler ran: the first 14
    are marked, the 15th is not; after its lease it is delivered again; the rest once."""
    record = tmp_path / "handled.txt"
    events.subscribe(platform.runtime, SUB, {"TestPing"}, _recording_handler(record))
    ids = _emit(platform, 40)
    proc = _worker(platform, record, "--crash-after", "15", "--lease", "2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 17, err
    handled = _recorded(record)
    assert [e for _, e in handled] == ids[:15]
    crashed = ids[14]
    marked = {d.event_id for d in _deliveries(platform) if d.delivered_at is not None}
    assert marked == set(ids[:14])  # the crash came after the handler, before the mark
    [in_flight] = [d for d in _deliveries(platform) if d.event_id == crashed]
    assert in_flight.claimed_until is not None and in_flight.claimed_until > now()

    # a new dispatcher delivers the rest but leaves the leased one alone until it expires
    lease = timedelta(seconds=2)
    assert events.dispatch_pending(platform.runtime, lease=lease) == 25
    assert now() < in_flight.claimed_until, "too slow to observe the lease"
    assert [d.event_id for d in _deliveries(platform) if d.delivered_at is None] == [crashed]
    _wait_lease_expired([in_flight])
    assert events.dispatch_pending(platform.runtime, lease=lease) == 1

    counts = Counter(e for _, e in _recorded(record))
    assert set(counts) == set(ids)  # every event handled at least once
    assert counts[crashed] == 2 and all(counts[e] == 1 for e in ids if e != crashed)
    assert all(d.delivered_at is not None for d in _deliveries(platform))
    assert {d.event_id: d.attempts for d in _deliveries(platform)}[crashed] == 2
    assert events.dispatch_pending(platform.runtime) == 0


def test_sigkilled_dispatcher_loses_no_event(platform, tmp_path):
    """A slow dispatcher is SIGKILLed part-way; a second dispatcher process, started after
    the short lease expires, delivers everything left, the interrupted one included."""
    record = tmp_path / "handled.txt"
    events.subscribe(platform.runtime, SUB, {"TestPing"}, _recording_handler(record))
    ids = _emit(platform, 30)
    proc = _worker(platform, record, "--delay", "0.1", "--lease", "1")
    deadline = time.monotonic() + 30
    while len(_recorded(record)) < 5:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "worker made no progress"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    first = _recorded(record)
    assert 5 <= len(first) < len(ids)
    assert any(d.delivered_at is None for d in _deliveries(platform))

    _wait_lease_expired(_deliveries(platform))
    again = _worker(platform, record, "--lease", "1")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err

    handled = _recorded(record)
    counts = Counter(e for _, e in handled)
    assert set(counts) == set(ids)  # every event handled at least once
    # an event handled twice was first handled by the killed process, then by the second
    for event_id, n in counts.items():
        if n > 1:
            assert [pid for pid, e in handled if e == event_id] == [proc.pid, again.pid]
    assert all(d.delivered_at is not None for d in _deliveries(platform))
    assert events.dispatch_pending(platform.runtime) == 0
