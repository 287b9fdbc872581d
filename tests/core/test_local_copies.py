"""Local copies of S3 objects (`core.storage.LocalCopies`) on a real S3 API server: a copy
is read only as a regular file whose bytes were verified, by the ETag or by its manifest;
anything else under its name is removed and fetched again."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from charter.core.storage import LocalCopies, open_store
from charter.errors import Unavailable

SIZE = 6 << 20  # above one 5 MiB part


@pytest.fixture
def store(s3_storage, tmp_path: Path):
    return open_store(s3_storage.settings(tmp_path / "home"))


def _put(store, key: str, data: bytes) -> tuple[str, int]:
    store.put_bytes(key, data)
    return store.uri(key), len(data)


def test_a_same_size_change_is_caught_by_this_process_and_a_new_one(store, tmp_path):
    copies = LocalCopies(store, tmp_path / "cache")
    wanted = _put(store, "a/x.bin", b"Ann" * 1000)
    [path] = copies.fetch([wanted])
    assert copies.unchanged([path])
    Path(path).write_bytes(b"Eve" * 1000)  # same size
    assert not copies.unchanged([path])  # this process: one lstat tells
    assert Path(copies.fetch([wanted])[0]).read_bytes() == b"Ann" * 1000
    Path(path).write_bytes(b"Eve" * 1000)
    fresh = LocalCopies(store, tmp_path / "cache")  # a new process: hashes once
    assert Path(fresh.fetch([wanted])[0]).read_bytes() == b"Ann" * 1000
    assert fresh.unchanged([path])


def test_a_symlink_to_another_objects_copy_is_replaced(store, tmp_path):
    copies = LocalCopies(store, tmp_path / "cache")
    mine, theirs = _put(store, "a/x.bin", b"mine" * 100), _put(store, "b/x.bin", b"them" * 100)
    path, other = copies.fetch([mine, theirs])
    os.unlink(path)
    os.symlink(other, path)
    assert not copies.unchanged([path])
    fresh = LocalCopies(store, tmp_path / "cache")
    [again] = fresh.fetch([mine])
    assert again == path and not Path(path).is_symlink()
    assert Path(path).read_bytes() == b"mine" * 100


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink to /dev/zero"])
def test_anything_but_a_regular_file_is_replaced(store, tmp_path, kind):
    copies = LocalCopies(store, tmp_path / "cache")
    wanted = _put(store, "a/x.bin", b"data" * 100)
    [path] = copies.fetch([wanted])
    os.unlink(path)
    if kind == "directory":
        os.mkdir(path)
        Path(path, "inside").write_bytes(b"x")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        os.symlink("/dev/zero", path)
    assert not copies.unchanged([path])
    for process in (copies, LocalCopies(store, tmp_path / "cache")):
        [again] = process.fetch([wanted])
        assert again == path and Path(path).is_file() and not Path(path).is_symlink()
        assert Path(path).read_bytes() == b"data" * 100
        os.unlink(path)
        os.mkfifo(path)


def test_an_etag_that_is_no_md5_of_the_bytes_is_vouched_for_by_a_manifest(
        store, s3_storage, tmp_path):
    # Parts of 5 MiB: an ETag `<md5>-2` that is not the MD5 of 10 MiB parts.
    client = s3_storage.server.client()
    data = os.urandom(SIZE)
    client.upload_fileobj(io.BytesIO(data), s3_storage.bucket, "objects/a/big.bin",
                          Config=TransferConfig(multipart_threshold=5 << 20,
                                                multipart_chunksize=5 << 20))
    assert store.stat("a/big.bin").etag.endswith("-2")
    wanted = (store.uri("a/big.bin"), SIZE)
    [path] = LocalCopies(store, tmp_path / "cache").fetch([wanted])
    manifest = Path(path + ".sha256")
    assert manifest.is_file()
    first = os.stat(path).st_ino
    assert LocalCopies(store, tmp_path / "cache").fetch([wanted]) == [path]
    assert os.stat(path).st_ino == first  # verified by the manifest, not fetched again

    with open(path, "r+b") as handle:  # same size, new bytes: a new signature
        handle.write(b"tampered")
    assert LocalCopies(store, tmp_path / "cache").fetch([wanted]) == [path]
    assert Path(path).read_bytes() == data

    # A manifest rewritten to match a tampered copy's signature still needs its digest.
    with open(path, "r+b") as handle:
        handle.write(b"tampered")
    st = os.stat(path)
    doc = json.loads(manifest.read_text())
    doc["signature"] = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    manifest.write_text(json.dumps(doc))
    assert LocalCopies(store, tmp_path / "cache").fetch([wanted]) == [path]
    assert Path(path).read_bytes() == data


def test_a_cache_folder_that_cannot_be_used_is_a_local_cache_error(store, tmp_path):
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    with pytest.raises(Unavailable) as failed:
        LocalCopies(store, cache).fetch([_put(store, "a/x.bin", b"data")])
    assert failed.value.code == "storage_unavailable"
    assert failed.value.details["reason"] == "local_cache"
    assert str(tmp_path) not in str(failed.value)
