"""The hash-chained audit trail: `charter audit verify` passes on an honest trail and names
exactly the first record that was edited, removed, truncated or reordered; concurrent
writers leave one unbroken chain."""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter

import pytest
from sqlalchemy import select, text, update

from charter.audit import chain
from charter.audit.orm import AuditEvent, AuditHead
from charter.errors import Denied
from charter.identity.orm import User

from ..conftest import PG_URL

# ---------------------------------------------------------------- helpers


def _activity(platform) -> None:
    """Some real operations so the trail has a few dozen records, allowed and denied."""
    viewer, _ = platform.user("vera")
    for name in ("alice", "bob", "carol"):
        platform.admin.users.create(name)
    platform.admin.groups.create("auditors")
    platform.admin.groups.add_member("auditors", "alice")
    with pytest.raises(Denied):
        viewer.audit.stop()
    with pytest.raises(Denied):
        platform.admin.audit.delete()


def _head(platform) -> tuple[int, str]:
    with platform.runtime.db.transaction() as session:
        return tuple(session.execute(select(AuditHead.seq, AuditHead.hash)).one())


def _rows(platform) -> list[AuditEvent]:
    with platform.runtime.db.transaction() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def _sql(platform, *statements: str, **params) -> None:
    with platform.runtime.db.transaction() as session:
        for statement in statements:
            session.execute(text(statement), params)


def _cli_verify(platform) -> tuple[int, dict]:
    code, out, _ = platform.cli("audit", "verify", "--json")
    return code, json.loads(out)


def _assert_broken_at(platform, k: int, *, text_too: bool = False) -> None:
    """SDK and CLI both report ok=false naming record k; the CLI exits non-zero."""
    report = platform.admin.audit.verify()
    assert report["ok"] is False, report
    assert report["first_bad_seq"] == k, report
    assert report["problem"]
    code, data = _cli_verify(platform)
    assert code != 0
    assert data["ok"] is False and data["first_bad_seq"] == k, data
    if text_too:
        code, out, _ = platform.cli("audit", "verify")
        assert code != 0 and "BROKEN" in out and f"record {k}" in out


@pytest.fixture
def trail(platform):
    """A platform with an honest trail of some activity; returns (platform, middle seq)."""
    _activity(platform)
    head_seq, _ = _head(platform)
    assert head_seq >= 10
    return platform, head_seq // 2


# ---------------------------------------------------------------- honest trail


def test_verify_passes_on_honest_trail(trail):
    platform, _ = trail
    head_seq, _ = _head(platform)
    report = platform.admin.audit.verify().model_dump()
    checkpoint_key = report.pop("checkpoint_key_id")
    assert report == {"ok": True, "records": head_seq, "head_seq": head_seq,
                      "first_bad_seq": None, "problem": None, "checkpoints": 1,
                      "last_checkpoint_seq": report["last_checkpoint_seq"], "faults": []}
    assert checkpoint_key and 0 < report["last_checkpoint_seq"] < head_seq
    code, data = _cli_verify(platform)  # the SDK's verify was itself audited: one more
    assert code == 0
    assert data["ok"] is True and data["records"] == data["head_seq"] == head_seq + 1
    code, out, _ = platform.cli("audit", "verify")
    assert code == 0 and "verified" in out


def test_each_operation_writes_one_linked_record(trail):
    platform, _ = trail
    before = _rows(platform)
    platform.admin.users.create("zoe")
    after = _rows(platform)
    added = after[len(before):]
    assert [r.hash for r in after[:len(before)]] == [r.hash for r in before]
    [new] = [r for r in added if r.action == "identity:CreateUser"]
    assert (new.principal, new.decision, new.outcome) == ("admin", "allow", "success")
    assert new.resource.endswith("/zoe")
    # the detective controls the UserCreated event triggered are audited as `system`
    assert {r.principal for r in added if r is not new} <= {"system"}
    assert after[0].prev_hash == chain.GENESIS
    for earlier, later in itertools.pairwise(after):
        assert (later.seq, later.prev_hash) == (earlier.seq + 1, earlier.hash)
    assert _head(platform) == (after[-1].seq, after[-1].hash)


def test_rolled_back_append_leaves_no_record_and_head_unchanged(trail):
    platform, _ = trail
    head = _head(platform)
    with pytest.raises(RuntimeError), platform.runtime.db.transaction() as session:
        chain.append(session, [_record("rolled-back")])
        raise RuntimeError("operation failed")
    assert _head(platform) == head
    assert platform.admin.audit.verify()["ok"] is True


# ---------------------------------------------------------------- tampering


def test_edited_principal_is_named(trail):
    platform, k = trail
    _sql(platform, "UPDATE audit_events SET principal = 'mallory' WHERE seq = :k", k=k)
    _assert_broken_at(platform, k, text_too=True)


@pytest.mark.parametrize("column", ["action", "decision", "resource", "account", "request_id",
                                    "source", "reason", "details", "error_code"])
def test_edited_field_is_named(trail, column):
    platform, k = trail
    _sql(platform, f"UPDATE audit_events SET {column} = 'x' WHERE seq = :k", k=k)
    _assert_broken_at(platform, k)


def test_edited_time_is_named(trail):
    platform, k = trail
    with platform.runtime.db.transaction() as session:
        t = session.scalar(select(AuditEvent.time).where(AuditEvent.seq == k))
        session.execute(update(AuditEvent).where(AuditEvent.seq == k)
                        .values(time=t.replace(microsecond=(t.microsecond + 1) % 1_000_000)))
    _assert_broken_at(platform, k)


def test_edited_first_record_is_named(trail):
    platform, _ = trail
    _sql(platform, "UPDATE audit_events SET principal = 'mallory' WHERE seq = 1")
    _assert_broken_at(platform, 1)


def _rehash(platform, k: int, key: bytes) -> None:
    with platform.runtime.db.transaction() as session:
        row = session.get(AuditEvent, k)
        row.principal = "mallory"
        row.hash = chain.record_hash(
            row.seq, row.time, row.principal, row.account, row.action, row.resource,
            row.decision, row.outcome, row.error_code, row.reason, row.request_id, row.source,
            row.details, row.prev_hash, key)


def test_edit_with_recomputed_hash_is_caught_at_the_next_link(trail):
    """Even with the audit key, recomputing the edited record's own hash does not help:
    the next record's prev_hash no longer matches."""
    platform, k = trail
    _rehash(platform, k, platform.runtime.audit_key)
    _assert_broken_at(platform, k + 1)


def test_recomputed_hash_without_the_audit_key_is_caught_at_the_record(trail):
    """Records are HMACs under the platform's audit key: write access to the database
    alone cannot produce a hash that verifies."""
    platform, k = trail
    assert platform.runtime.audit_key
    _rehash(platform, k, b"")
    _assert_broken_at(platform, k)


def test_deleted_middle_record_is_named(trail):
    platform, k = trail
    _sql(platform, "DELETE FROM audit_events WHERE seq = :k", k=k)
    _assert_broken_at(platform, k, text_too=True)


def test_deleted_first_record_is_named(trail):
    platform, _ = trail
    _sql(platform, "DELETE FROM audit_events WHERE seq = 1")
    _assert_broken_at(platform, 1)


def test_deleted_range_is_named_at_its_start(trail):
    platform, k = trail
    _sql(platform, "DELETE FROM audit_events WHERE seq >= :k AND seq < :k + 3", k=k)
    _assert_broken_at(platform, k)


@pytest.mark.parametrize("removed", [1, 3])
def test_tail_truncation_is_named(trail, removed):
    platform, _ = trail
    head_seq, _ = _head(platform)
    k = head_seq - removed + 1
    _sql(platform, "DELETE FROM audit_events WHERE seq >= :k", k=k)
    report = platform.admin.audit.verify()
    assert report["ok"] is False and report["first_bad_seq"] == k
    assert report["records"] == k - 1 and report["head_seq"] == head_seq
    _assert_broken_at(platform, k)


def test_rolled_back_head_after_truncation_is_named(trail):
    """Truncating the tail and pulling the head back without fixing its hash is caught."""
    platform, _ = trail
    head_seq, _ = _head(platform)
    k = head_seq - 1
    _sql(platform, "DELETE FROM audit_events WHERE seq >= :k",
         "UPDATE audit_head SET seq = :k - 1", k=k)
    _assert_broken_at(platform, k)


def test_forged_record_beyond_the_head_is_named(trail):
    """A well-chained record inserted after the head, without taking the head lock, is
    named; later appends go after it, so the platform keeps recording."""
    platform, _ = trail
    head_seq, head_hash = _head(platform)
    forged = _record("forged")
    with platform.runtime.db.transaction() as session:
        seq = head_seq + 1
        digest = chain.record_hash(
            seq, forged.time, forged.principal, forged.account, forged.action, forged.resource,
            forged.decision, forged.outcome, None, None, forged.request_id, forged.source,
            None, head_hash, platform.runtime.audit_key)
        session.add(AuditEvent(
            seq=seq, time=forged.time, principal=forged.principal, account=forged.account,
            action=forged.action, resource=forged.resource, decision=forged.decision,
            outcome=forged.outcome, request_id=forged.request_id, source=forged.source,
            prev_hash=head_hash, hash=digest))
    with platform.runtime.db.transaction() as session:
        report = chain.verify(session, key=platform.runtime.audit_key)
    assert (report.ok, report.first_bad_seq) == (False, head_seq + 1), report
    code, _, _ = platform.cli("audit", "verify", "--json")
    assert code != 0


def test_swapped_seq_numbers_are_named(trail):
    platform, k = trail
    _sql(platform,
         "UPDATE audit_events SET seq = -1 WHERE seq = :k",
         "UPDATE audit_events SET seq = :k WHERE seq = :k + 1",
         "UPDATE audit_events SET seq = :k + 1 WHERE seq = -1", k=k)
    _assert_broken_at(platform, k)


def test_swapped_distant_records_are_named(trail):
    platform, k = trail
    _sql(platform,
         "UPDATE audit_events SET seq = -1 WHERE seq = :k",
         "UPDATE audit_events SET seq = :k WHERE seq = :k + 4",
         "UPDATE audit_events SET seq = :k + 4 WHERE seq = -1", k=k)
    _assert_broken_at(platform, k)


_CONTENT = ("time", "principal", "account", "action", "resource", "decision", "outcome",
            "error_code", "reason", "request_id", "source", "details")


@pytest.mark.parametrize("with_chain_columns", [True, False], ids=["whole-row", "content-only"])
def test_swapped_contents_are_named(trail, with_chain_columns):
    platform, k = trail
    columns = _CONTENT + (("prev_hash", "hash") if with_chain_columns else ())
    j = k + 2
    with platform.runtime.db.transaction() as session:
        a, b = (session.get(AuditEvent, s) for s in (k, j))
        va, vb = ({c: getattr(r, c) for c in columns} for r in (a, b))
        assert va != vb
        session.execute(update(AuditEvent).where(AuditEvent.seq == k).values(**vb))
        session.execute(update(AuditEvent).where(AuditEvent.seq == j).values(**va))
    _assert_broken_at(platform, k)


def test_verify_keeps_naming_the_same_record_and_is_itself_audited(trail):
    platform, k = trail
    _sql(platform, "DELETE FROM audit_events WHERE seq = :k", k=k)
    for _ in range(3):
        assert platform.admin.audit.verify()["first_bad_seq"] == k
    verifies = [r for r in _rows(platform) if r.action == "audit:VerifyTrail"]
    assert len(verifies) == 3


def test_verify_needs_permission_and_the_refusal_is_audited(trail):
    platform, _ = trail
    client, _ = platform.user("nobody")
    with pytest.raises(Denied):
        client.audit.verify()
    last = _rows(platform)[-1]
    assert (last.principal, last.action, last.decision) == ("nobody", "audit:VerifyTrail",
                                                            "deny")
    assert platform.admin.audit.verify()["ok"] is True


# ---------------------------------------------------------------- concurrency


def _record(request_id: str, n: int = 0) -> chain.AuditRecord:
    return chain.AuditRecord(
        principal="load", account="management", action="test:Append",
        resource=f"crn:management:test:thing/{request_id}", decision="allow",
        outcome="success", request_id=request_id, source="test", details={"n": n})


def _hammer(platform, writers: int, rounds: int) -> list[dict]:
    """`writers` threads at once, each with its own SDK client, for `rounds` rounds:
    create a user (allowed, audited in the operation's transaction), try to delete audit
    records (refused, audited in a fresh transaction after the rollback) and append two
    records directly with `chain.append`; half-way each verifies the trail while the
    others write. Returns the verify reports."""
    # Inline dispatch would run a detective evaluation per UserCreated event: slow, and
    # it is not what is under test here.
    platform.monkeypatch.setattr(platform.runtime.settings, "dispatch_inline", False)
    barrier = threading.Barrier(writers)
    errors: list[str] = []
    reports: list[dict] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        try:
            client = platform.client(platform.admin_token)
            barrier.wait(timeout=60)
            for r in range(rounds):
                client.users.create(f"load-user-{i}-{r}")
                with pytest.raises(Denied):
                    client.audit.delete(before=f"load-{i}-{r}")
                with platform.runtime.db.transaction() as session:
                    chain.append(session, [_record(f"load-{i}-{r}", 0),
                                           _record(f"load-{i}-{r}", 1)],
                                 key=platform.runtime.audit_key)
                if r == rounds // 2:
                    report = client.audit.verify()
                    with lock:
                        reports.append(report)
        except BaseException as exc:  # reported below with the thread number
            with lock:
                errors.append(f"writer {i}: {exc!r}")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(reports) == writers
    return reports


def _assert_one_unbroken_chain(platform, writers: int, rounds: int, before: int) -> None:
    with platform.runtime.db.transaction() as session:
        report = chain.verify(session, key=platform.runtime.audit_key)
    assert report.ok, report
    rows = _rows(platform)
    head_seq, head_hash = _head(platform)
    seqs = [r.seq for r in rows]
    assert seqs == list(range(1, len(rows) + 1))  # 1..N, no gap, no duplicate
    assert head_seq == len(rows) and head_hash == rows[-1].hash
    # no fork: each prev_hash is the hash of exactly one record, the one just before it
    by_hash = Counter(r.hash for r in rows)
    assert all(n == 1 for n in by_hash.values())
    prevs = Counter(r.prev_hash for r in rows)
    assert all(n == 1 for n in prevs.values())
    assert rows[0].prev_hash == chain.GENESIS
    for earlier, later in itertools.pairwise(rows):
        assert later.prev_hash == earlier.hash
    # nothing lost: every record written is there, exactly once
    new = rows[before:]
    appended = Counter((r.request_id, json.loads(r.details)["n"]) for r in new
                       if r.action == "test:Append")
    expected = {(f"load-{i}-{r}", n): 1 for i in range(writers) for r in range(rounds)
                for n in (0, 1)}
    assert appended == expected
    created = Counter(r.resource.rsplit("/", 1)[-1] for r in new
                      if r.action == "identity:CreateUser" and r.outcome == "success")
    users = {f"load-user-{i}-{r}" for i in range(writers) for r in range(rounds)}
    assert created == dict.fromkeys(users, 1)
    refused = [r for r in new if r.action == "audit:DeleteEvents"]
    assert len(refused) == writers * rounds
    assert all(r.outcome != "success" and r.error_code for r in refused)
    verifies = [r for r in new if r.action == "audit:VerifyTrail"]
    assert len(verifies) == writers
    # and nothing else: the records counted above are all the new ones
    assert len(new) == len(expected) + len(created) + len(refused) + len(verifies)
    with platform.runtime.db.transaction() as session:
        names = set(session.scalars(select(User.name)))
    assert users <= names


def test_concurrent_writers_leave_one_chain(platform):
    """A few writers on whatever backend the suite runs on (SQLite queues them)."""
    before, _ = _head(platform)
    reports = _hammer(platform, writers=8, rounds=3)
    assert all(r["ok"] for r in reports), reports
    _assert_one_unbroken_chain(platform, 8, 3, before)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.skipif(not PG_URL, reason="set CHARTER_TEST_DATABASE_URL to a PostgreSQL server")
def test_fifty_concurrent_writers_on_postgres_leave_one_unbroken_chain(platform):
    assert not platform.runtime.db.is_sqlite
    before, _ = _head(platform)
    reports = _hammer(platform, writers=50, rounds=4)
    # a verify that runs while others append must not report a broken chain either
    assert [r for r in reports if not r["ok"]] == []
    _assert_one_unbroken_chain(platform, 50, 4, before)


def test_missing_head_stops_recording_instead_of_forking(platform):
    from sqlalchemy import delete

    from charter.audit.orm import AuditHead
    from charter.errors import CharterError

    with platform.runtime.db.transaction() as session:
        session.execute(delete(AuditHead))
    with pytest.raises(CharterError) as failed:
        platform.admin.accounts.list()
    assert failed.value.code == "audit_trail_damaged"
    code, _, err = platform.cli("audit", "verify")
    assert code == 1 and "[audit_trail_damaged]" in err
