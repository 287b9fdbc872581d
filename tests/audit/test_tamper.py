"""Tampering with the trail, its head and its signed checkpoints, as someone who can write
to the metadata database (or the checkpoint folder) would: every case is named by
`charter audit verify` at its first bad record, and the platform keeps serving."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, text, update

from charter.audit import _checkpoint, chain
from charter.audit.orm import AuditEvent, AuditHead
from charter.audit.service import Checkpointer
from charter.errors import CharterError, Denied
from charter.platform.runtime import build_runtime
from charter.settings import Settings

# ---------------------------------------------------------------- helpers


def _head(platform) -> tuple[int, str]:
    with platform.runtime.db.transaction() as session:
        return tuple(session.execute(select(AuditHead.seq, AuditHead.hash)).one())


def _hash_of(platform, seq: int) -> str:
    with platform.runtime.db.transaction() as session:
        return session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))


def _sql(platform, *statements: str, **params) -> None:
    with platform.runtime.db.transaction() as session:
        for statement in statements:
            session.execute(text(statement), params)


def _activity(platform, n: int = 4) -> None:
    for i in range(n):
        platform.admin.users.create(f"user-{os.urandom(3).hex()}-{i}")


def _checkpoint_dir(platform) -> Path:
    return platform.settings.resolved_storage_root / "accounts/log-archive/audit/checkpoints"


def _serves(platform) -> None:
    """The platform still records: a write and a read succeed after the tampering."""
    platform.admin.users.create(f"after-{os.urandom(3).hex()}")
    assert platform.admin.accounts.list()["total"] > 0


def _named(platform, k: int) -> dict:
    """verify (SDK and CLI) reports the trail broken at k, with what held before it."""
    report = platform.admin.audit.verify()
    assert (report["ok"], report["first_bad_seq"]) == (False, k), report
    assert report["records"] == k - 1, report
    code, out, _ = platform.cli("audit", "verify", "--json")
    data = json.loads(out)
    assert code == 1 and data["first_bad_seq"] == k, data
    return report


@pytest.fixture
def signed(platform):
    """Activity, a checkpoint signed on demand, then more activity."""
    _activity(platform)
    checkpoint = platform.admin.audit.checkpoint()
    _activity(platform, 2)
    return platform, checkpoint["seq"]


# ---------------------------------------------------------------- the tamper suite


def test_honest_trail_verifies_against_its_checkpoints(signed):
    platform, seq = signed
    report = platform.admin.audit.verify()
    assert report["ok"] is True and report["checkpoints"] == 2  # init's and ours
    assert report["last_checkpoint_seq"] == seq and report["records"] == report["head_seq"]


def test_edited_record_is_named(signed):
    platform, seq = signed
    _sql(platform, "UPDATE audit_events SET principal = 'mallory' WHERE seq = :k", k=seq - 3)
    _named(platform, seq - 3)
    _serves(platform)
    _named(platform, seq - 3)


def test_deleted_middle_record_is_named(signed):
    platform, seq = signed
    _sql(platform, "DELETE FROM audit_events WHERE seq = :k", k=seq - 2)
    _named(platform, seq - 2)
    _serves(platform)
    _named(platform, seq - 2)


def test_tail_deleted_with_head_moved_back_is_named(signed):
    """The attack that passed before checkpoints: no key needed, the head takes a hash
    already stored."""
    platform, seq = signed
    keep = seq - 5
    _sql(platform, "DELETE FROM audit_events WHERE seq > :k",
         "UPDATE audit_head SET seq = :k, hash = :h", k=keep, h=_hash_of(platform, keep))
    with platform.runtime.db.transaction() as session:
        assert chain.verify(session, key=platform.runtime.audit_key).ok  # the chain alone
    report = _named(platform, keep + 1)
    assert "removed" in report["problem"]
    _serves(platform)  # the trail grows again over the removed seqs: still named
    assert "grown again" in _named(platform, keep + 1)["problem"]


@pytest.mark.parametrize("head", ["deleted", "genesis"])
def test_everything_deleted_is_named(signed, head):
    platform, _ = signed
    with platform.runtime.db.transaction() as session:
        session.execute(delete(AuditEvent))
        if head == "deleted":
            session.execute(delete(AuditHead))
        else:
            session.execute(update(AuditHead).values(seq=0, hash=chain.GENESIS))
    report = platform.admin.audit.verify()  # its own record starts a new chain at 1
    assert (report["ok"], report["first_bad_seq"], report["records"]) == (False, 1, 0)
    _serves(platform)
    _named(platform, 1)


def test_reordered_records_are_named(signed):
    platform, seq = signed
    k = seq - 4
    _sql(platform, "UPDATE audit_events SET seq = -1 WHERE seq = :k",
         "UPDATE audit_events SET seq = :k WHERE seq = :k + 1",
         "UPDATE audit_events SET seq = :k + 1 WHERE seq = -1", k=k)
    _named(platform, k)
    _serves(platform)


def test_forged_record_with_the_head_moved_to_it_is_named(signed):
    """A record an attacker hashes without the key (as an empty key would have let anyone
    do), linked to the head, with the head moved onto it."""
    platform, _ = signed
    head_seq, head_hash = _head(platform)
    seq, t = head_seq + 1, chain.time_text(chain.AuditRecord(
        "admin", "log-archive", "audit:StopTrail", "x", "allow", "success", "r", "api").time)
    digest = chain.record_hash(seq, t, "admin", "log-archive", "audit:StopTrail",
                               "crn:log-archive:audit:trail/main", "allow", "success", None,
                               None, "req-forged", "api", None, head_hash, b"")
    _sql(platform,
         "INSERT INTO audit_events (seq, time, principal, account, action, resource, decision,"
         " outcome, request_id, source, prev_hash, hash) VALUES (:seq, :t, 'admin', "
         "'log-archive', 'audit:StopTrail', 'crn:log-archive:audit:trail/main', 'allow', "
         "'success', 'req-forged', 'api', :prev, :h)",
         "UPDATE audit_head SET seq = :seq, hash = :h", seq=seq, t=t, prev=head_hash, h=digest)
    report = _named(platform, seq)
    assert "not written by Charter" in report["problem"]
    _serves(platform)


def test_stray_row_past_the_head_never_stops_the_platform(signed):
    platform, _ = signed
    head_seq, head_hash = _head(platform)
    stray = head_seq + 1
    _sql(platform,
         "INSERT INTO audit_events (seq, time, principal, account, action, resource, decision,"
         " outcome, request_id, source, prev_hash, hash) VALUES (:seq, :t, 'x', 'x', 'x', 'x',"
         " 'allow', 'success', 'x', 'x', :prev, :prev)",
         seq=stray, t="2026-01-01 00:00:00.000000", prev=head_hash)
    _serves(platform)  # appends go past the stray row
    report = _named(platform, stray)
    assert f"record {stray}" in report["problem"]
    with platform.runtime.db.transaction() as session:
        after = session.scalar(select(AuditEvent.prev_hash).where(AuditEvent.seq == stray + 1))
    assert after == head_hash  # the honest chain skipped the stray row, linked to the head


@pytest.mark.parametrize("value", ["", "   ", "short-key"])
def test_empty_or_short_audit_key_refuses_to_start(platform, monkeypatch, value):
    monkeypatch.setenv("CHARTER_AUDIT_KEY", value)
    with pytest.raises(CharterError) as refused:
        build_runtime(Settings(home=platform.settings.home,
                               database_url=platform.settings.database_url))
    assert refused.value.code == "invalid_audit_key"
    code, _, err = platform.cli("whoami")
    assert code == 1 and "[invalid_audit_key]" in err


def _file(platform, number: int) -> Path:
    return _checkpoint_dir(platform) / f"{number:012d}.json"


def test_replaced_checkpoint_is_named(signed):
    """A checkpoint re-signed with another key (to cover a cut trail) is not taken."""
    platform, seq = signed
    number = platform.admin.audit.checkpoints()["items"][0]["number"]
    path = _file(platform, number)
    data = json.loads(path.read_bytes())
    forger = _checkpoint.Signer(Ed25519PrivateKey.generate())
    fake = forger.sign(_checkpoint.Checkpoint(number, seq - 3, _hash_of(platform, seq - 3),
                                              data["time"], data["previous"], data["key_id"]))
    path.unlink()
    path.write_bytes(fake.file_bytes())
    report = platform.admin.audit.verify()
    assert report["ok"] is False and "not a checkpoint signed" in report["problem"]
    _serves(platform)


def test_removed_middle_checkpoint_is_named(signed):
    platform, _ = signed
    platform.admin.audit.checkpoint()  # a third checkpoint after ours
    _file(platform, 2).unlink()
    report = platform.admin.audit.verify()
    assert report["ok"] is False and "does not follow" in report["problem"]


def test_checkpoint_copied_under_another_name_is_named(signed):
    platform, _ = signed
    _file(platform, 3).write_bytes(_file(platform, 1).read_bytes())
    report = platform.admin.audit.verify()
    assert report["ok"] is False and "copied or renamed" in report["problem"]


def test_a_damaged_trail_is_signed_with_its_damage_never_as_good(signed):
    """Damage never stops the signing (which would leave every later record unprotected):
    the checkpoint carries it, and verify still names it."""
    platform, seq = signed
    _sql(platform, "UPDATE audit_events SET reason = 'edited' WHERE seq = :k", k=seq + 2)
    made = platform.admin.audit.checkpoint()
    assert made["faults"] and made["faults"][0]["seq"] == seq + 2
    _named(platform, seq + 2)
    _activity(platform, 1)
    made = platform.admin.audit.checkpoint()  # the damage is carried on, not walked again
    assert [f["seq"] for f in made["faults"]] == [seq + 2]
    _sql(platform, "UPDATE audit_events SET principal = 'x' WHERE seq = :k", k=seq - 6)
    report = _named(platform, seq - 6)  # older damage: verify's to find
    assert seq + 2 in [f["seq"] for f in report["faults"]]


def test_a_first_fault_does_not_hide_later_ones(signed):
    """An early edit, then signed records removed from the end with the head moved back:
    verify names both."""
    platform, _ = signed
    _sql(platform, "UPDATE audit_events SET principal = 'x' WHERE seq = 3")
    _activity(platform, 3)
    covered = platform.admin.audit.checkpoint()["seq"]
    keep = covered - 4
    _sql(platform, "DELETE FROM audit_events WHERE seq > :k",
         "UPDATE audit_head SET seq = :k, hash = :h", k=keep, h=_hash_of(platform, keep))
    report = _named(platform, 3)
    assert keep + 1 in [f["seq"] for f in report["faults"]], report["faults"]
    code, out, _ = platform.cli("audit", "verify")
    assert code == 1 and f"also at record {keep + 1}" in out


def test_missing_checkpoints_fail_verify(platform):
    for path in _checkpoint_dir(platform).glob("*.json"):
        path.unlink()
    report = platform.admin.audit.verify()
    assert report["ok"] is False and "no signed checkpoint" in report["problem"]
    code, out, _ = platform.cli("audit", "verify")
    assert code == 1 and "NOT VERIFIED" in out
    platform.admin.audit.checkpoint()
    assert platform.admin.audit.verify()["ok"] is True


def test_checkpoints_are_listed_with_their_public_key(signed):
    platform, seq = signed
    page = platform.admin.audit.checkpoints()
    assert page["items"][0]["seq"] == seq and page["total"] == 2
    assert [c["number"] for c in page["items"]] == [2, 1]
    assert page["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    published = (_checkpoint_dir(platform) / "public-key.pem").read_text()
    assert published == page["public_key"]
    code, out, _ = platform.cli("audit", "checkpoints", "--json")
    assert code == 0 and json.loads(out)["key_id"] == page["key_id"]
    viewer, _ = platform.user("vera")
    with pytest.raises(Denied):
        viewer.audit.checkpoint()


def test_a_server_signs_checkpoints_on_its_own(platform):
    runtime = build_runtime(Settings(home=platform.settings.home,
                                     database_url=platform.settings.database_url,
                                     audit={"checkpoint_interval": 0.2}))
    signer = Checkpointer(runtime)
    signer.start()
    try:
        _activity(platform, 2)
        head_seq, _ = _head(platform)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            newest = platform.admin.audit.checkpoints()["items"][0]["seq"]
            if newest >= head_seq:
                break
            time.sleep(0.1)
        assert newest >= head_seq
    finally:
        signer.stop()
        runtime.close()
    assert platform.admin.audit.verify()["ok"] is True


# ---------------------------------------------------------------- rows and files out of line


@pytest.mark.parametrize("seq", [0, -7])
def test_forged_rows_before_the_chain_are_named(signed, seq):
    platform, _ = signed
    _sql(platform, "INSERT INTO audit_events (seq, time, principal, account, action, resource,"
         " decision, outcome, request_id, source, prev_hash, hash) VALUES (:seq, :t, 'admin',"
         " 'team-x', 'org:CloseAccount', 'x', 'allow', 'success', 'r', 'cli', 'x', 'y')",
         seq=seq, t="2026-01-01 00:00:00.000000")
    report = platform.admin.audit.verify()
    assert (report["ok"], report["first_bad_seq"]) == (False, seq), report
    assert "before the start of the chain" in report["problem"]


@pytest.mark.parametrize("far", [2**63 - 1, 10**6])
def test_a_stray_row_far_past_the_head_never_stops_the_platform(signed, far):
    platform, _ = signed
    _sql(platform, "INSERT INTO audit_events (seq, time, principal, account, action, resource,"
         " decision, outcome, request_id, source, prev_hash, hash) VALUES (:seq, :t, 'x', 'x',"
         " 'x', 'x', 'allow', 'success', 'x', 'x', 'x', 'x')",
         seq=far, t="2026-01-01 00:00:00.000000")
    _serves(platform)
    report = platform.admin.audit.verify()
    assert (report["ok"], report["first_bad_seq"]) == (False, far), report
    platform.admin.audit.checkpoint()  # signing goes on past it
    assert platform.admin.audit.verify()["first_bad_seq"] == far


def test_a_second_head_row_changes_nothing(signed):
    platform, _ = signed
    _sql(platform, "INSERT INTO audit_head (id, seq, hash) SELECT 2, seq, hash FROM audit_head")
    _serves(platform)
    assert platform.admin.audit.verify()["ok"] is True


def test_parallel_verify_of_a_long_trail(signed, monkeypatch):
    """Long trails are walked in worker processes, which import the verifier alone."""
    from charter.audit import _verify

    platform, seq = signed
    _activity(platform, 2)
    monkeypatch.setattr(_verify, "PARALLEL_FROM", 10)
    assert platform.admin.audit.verify()["ok"] is True
    _sql(platform, "UPDATE audit_events SET principal = 'x' WHERE seq = :k", k=seq - 1)
    _named(platform, seq - 1)


def test_odd_files_in_the_checkpoint_folder(signed):
    """Other files are not read; a checkpoint name that is not a regular file of a
    checkpoint's size is a fault, never a hang or a crash."""
    platform, _ = signed
    folder = _checkpoint_dir(platform)
    (folder / "readme.json").write_text("{}")
    os.mkfifo(folder / f"{7:012d}.json")
    (folder / f"{8:012d}.json").symlink_to("/dev/zero")
    (folder / f"{9:012d}.json").mkdir()
    (folder / f"{10:012d}.json").write_bytes(b"[" * 100_000)
    report = platform.admin.audit.verify()
    assert report["ok"] is False and "not a checkpoint signed" in report["problem"]
    assert platform.admin.audit.checkpoint()["number"] == 3  # names taken are passed over
    _serves(platform)


@pytest.mark.parametrize("url", ["relative/dir", "file://", "s3://bucket/x",
                                 "file://otherhost/x"])
def test_checkpoint_urls_must_name_an_absolute_directory(platform, url):
    with pytest.raises(CharterError) as refused:
        build_runtime(Settings(home=platform.settings.home,
                               database_url=platform.settings.database_url,
                               audit={"checkpoint_url": url}))
    assert refused.value.code == "invalid_checkpoint_url"


def test_an_unreadable_audit_key_file_refuses_to_start(platform):
    (platform.settings.home / "audit.key").write_bytes(b"\xff\xfe" * 40)
    with pytest.raises(CharterError) as refused:
        build_runtime(Settings(home=platform.settings.home,
                               database_url=platform.settings.database_url))
    assert refused.value.code == "invalid_audit_key"


def test_a_planted_name_far_ahead_never_freezes_the_line(signed):
    platform, _ = signed
    (_checkpoint_dir(platform) / "999999999999.json").write_text("garbage")
    first = platform.admin.audit.checkpoint()
    _activity(platform, 1)
    second = platform.admin.audit.checkpoint()
    assert (first["number"], second["number"]) == (3, 4)
    keep = second["seq"] - 2
    _sql(platform, "DELETE FROM audit_events WHERE seq > :k",
         "UPDATE audit_head SET seq = :k, hash = :h", k=keep, h=_hash_of(platform, keep))
    report = platform.admin.audit.verify()
    assert keep + 1 in [f["seq"] for f in report["faults"]], report["faults"]


def test_nothing_appended_nothing_signed_whatever_else_lies_in_the_folder(signed):
    platform, _ = signed
    (_checkpoint_dir(platform) / f"{0:012d}.json").write_text("junk")
    with platform.runtime.db.transaction():
        pass
    before = len(list(_checkpoint_dir(platform).glob("*.json")))
    _checkpoint.write(platform.runtime)
    _checkpoint.write(platform.runtime)
    assert len(list(_checkpoint_dir(platform).glob("*.json"))) <= before + 1


@pytest.mark.parametrize("kind", ["fifo", "dir"])
def test_an_odd_lock_file_refuses_the_checkpoint_instead_of_hanging(signed, kind):
    platform, _ = signed
    lock = _checkpoint_dir(platform) / ".lock"
    lock.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(lock)
    else:
        lock.mkdir()
    with pytest.raises(CharterError) as refused:
        platform.admin.audit.checkpoint()
    assert refused.value.code == "audit_checkpoint_unavailable"
    _serves(platform)


def test_rows_before_the_chain_are_listed_after_an_earlier_fault(signed):
    platform, _ = signed
    _sql(platform, "UPDATE audit_events SET principal = 'x' WHERE seq = 3")
    _sql(platform, "INSERT INTO audit_events (seq, time, principal, account, action, resource,"
         " decision, outcome, request_id, source, prev_hash, hash) VALUES (-7, :t, 'a', 'a',"
         " 'a', 'a', 'allow', 'success', 'r', 'cli', 'x', 'y')", t="2026-01-01 00:00:00.000000")
    report = platform.admin.audit.verify()
    assert [f["seq"] for f in report["faults"]][:2] == [-7, 3], report["faults"]
