"""LocalObjectStore: atomic writes, content addressing, keys that never escape the root."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from charter.core.storage import LocalObjectStore, account_prefix, open_store
from charter.errors import Invalid, NotFound


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "objects"
    root.mkdir()
    return LocalObjectStore(root)


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_put_then_get_round_trips_and_overwrites(store):
    assert store.put_bytes("accounts/a/x.bin", b"one") == "accounts/a/x.bin"
    assert store.get_bytes("accounts/a/x.bin") == b"one"
    assert store.exists("accounts/a/x.bin")
    store.put_bytes("accounts/a/x.bin", b"two")
    assert store.get_bytes("accounts/a/x.bin") == b"two"
    assert _files(store.root) == ["accounts/a/x.bin"]  # no temp files left behind


def test_get_missing_key_is_not_found(store):
    assert not store.exists("accounts/a/missing")
    with pytest.raises(NotFound) as info:
        store.get_bytes("accounts/a/missing")
    assert info.value.code == "object_not_found"


def test_failed_write_leaves_old_object_and_no_temp_file(store, monkeypatch):
    store.put_bytes("k/obj", b"old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put_bytes("k/obj", b"new" * 1000)
    monkeypatch.undo()
    assert store.get_bytes("k/obj") == b"old"
    assert _files(store.root) == ["k/obj"]


def test_readers_never_see_a_partial_object(store):
    """Writers replace a large object over and over; every read is one whole version."""
    versions = [bytes([i]) * 2_000_000 for i in range(1, 4)]
    store.put_bytes("big/obj", versions[0])
    stop = threading.Event()
    errors: list[str] = []

    def write():
        i = 0
        while not stop.is_set():
            store.put_bytes("big/obj", versions[i % len(versions)])
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(60):
            data = store.get_bytes("big/obj")
            if data not in versions:
                errors.append(f"partial read of {len(data)} bytes")
    finally:
        stop.set()
        writer.join()
    assert errors == []


def test_put_content_is_addressed_by_sha256(store):
    data = b"model weights"
    key = store.put_content("accounts/team-a-dev/artifacts", data)
    digest = hashlib.sha256(data).hexdigest()
    assert key == f"accounts/team-a-dev/artifacts/sha256/{digest[:2]}/{digest}"
    assert store.get_bytes(key) == data


def test_put_content_same_bytes_same_key_no_duplicate(store):
    first = store.put_content("p", b"same")
    mtime = (store.root / first).stat().st_mtime_ns
    second = store.put_content("p", b"same")
    assert first == second
    assert (store.root / first).stat().st_mtime_ns == mtime  # not rewritten
    assert _files(store.root) == [first]
    other = store.put_content("p", b"different")
    assert other != first
    assert len(_files(store.root)) == 2


@pytest.mark.parametrize("key", [
    "..", "../x", "a/../../x", "a/..", "/etc/passwd", "", "a//b", "a/./b", "./a", "a/",
    "a\x00b", "..\\x", "a\\..\\..\\x",
])
def test_keys_that_could_escape_the_root_are_refused(store, tmp_path, key):
    for call in (lambda: store.put_bytes(key, b"x"), lambda: store.get_bytes(key),
                 lambda: store.exists(key)):
        with pytest.raises(Invalid) as info:
            call()
        assert info.value.code == "invalid_object_key"
    assert _files(tmp_path) == []


def test_put_content_refuses_escaping_prefix(store, tmp_path):
    with pytest.raises(Invalid):
        store.put_content("../outside", b"x")
    assert _files(tmp_path) == []


def test_open_store_and_account_prefix(tmp_path):
    store = open_store(tmp_path)
    key = store.put_content(account_prefix("team-a-dev"), b"x")
    assert key.startswith("accounts/team-a-dev/sha256/")
    assert store.get_bytes(key) == b"x"
