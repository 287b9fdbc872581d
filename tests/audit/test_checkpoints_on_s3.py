"""With objects on S3, the audit trail's signed checkpoints stay on this machine's disk, in
CHARTER_HOME/objects (the checkpoint module writes files, created exclusively)."""

from __future__ import annotations


def test_checkpoints_stay_local_when_objects_are_on_s3(s3_platform, s3_storage):
    platform = s3_platform
    folder = platform.settings.home / "objects/accounts/log-archive/audit/checkpoints"
    before = sorted(p.name for p in folder.glob("*.json"))  # signed by `charter init`
    platform.vend("team-a-dev")
    checkpoint = platform.admin.audit.checkpoint()
    after = sorted(p.name for p in folder.glob("*.json"))
    assert len(after) == len(before) + 1 and checkpoint["seq"] > 0
    report = platform.admin.audit.verify()
    assert report["ok"] and report["checkpoints"] == len(after)
    listed = s3_storage.server.client().list_objects_v2(Bucket=s3_storage.bucket)
    assert listed.get("Contents", []) == []
