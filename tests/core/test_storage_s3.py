"""The S3 backend against a real S3 API server: the stable error of each way it can fail,
objects written in parts, and the checked local copies governed queries read."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from charter.core.storage import LocalCopies, open_store
from charter.errors import Unavailable
from tests.servers import free_port


def _refused(call, reason: str) -> Unavailable:
    with pytest.raises(Unavailable) as info:
        call()
    assert info.value.code == "storage_unavailable"
    assert info.value.details["reason"] == reason
    assert info.value.http_status == 503
    return info.value


def test_an_unreachable_endpoint_is_storage_unavailable(tmp_path, s3_storage):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = open_store(s3_storage.settings(tmp_path, storage_endpoint_url=endpoint))
    start = time.monotonic()
    error = _refused(store.check, "unreachable")
    assert endpoint in error.message and "CHARTER_STORAGE_ENDPOINT_URL" in error.message
    _refused(lambda: store.put_bytes("a/b", b"x"), "unreachable")
    assert time.monotonic() - start < 20  # retried a few times, not for minutes


def test_a_missing_bucket_is_storage_unavailable(tmp_path, s3_storage):
    store = open_store(s3_storage.settings(tmp_path, storage_url="s3://no-such-bucket/x"))
    error = _refused(store.check, "no_such_bucket")
    assert "'no-such-bucket' does not exist" in error.message
    for call in (lambda: store.put_bytes("a/b", b"x"), lambda: store.get_bytes("a/b"),
                 lambda: store.exists("a/b"), lambda: store.stat("a/b")):
        _refused(call, "no_such_bucket")


@pytest.mark.parametrize("credentials", [
    {"storage_secret_access_key": SecretStr("not-the-secret")},
    {"storage_access_key_id": "AKIANOBODYATALL0000", "storage_secret_access_key":
     SecretStr("not-the-secret")},
])
def test_wrong_credentials_are_storage_unavailable(tmp_path, s3_storage, credentials):
    s3_storage.server.client().put_object(Bucket=s3_storage.bucket, Key="objects/a/b",
                                          Body=b"x")
    store = open_store(s3_storage.settings(tmp_path, **credentials))
    error = _refused(store.check, "access_denied")
    assert "CHARTER_STORAGE_SECRET_ACCESS_KEY" in error.message
    assert "not-the-secret" not in error.message
    for call in (lambda: store.put_bytes("a/b", b"changed"), lambda: store.get_bytes("a/b"),
                 lambda: store.exists("a/b")):
        _refused(call, "access_denied")
    assert open_store(s3_storage.settings(tmp_path)).get_bytes("a/b") == b"x"  # unchanged


def test_an_object_written_in_parts_reads_back_checked(tmp_path, s3_storage):
    """Past 10 MiB pyarrow uploads in parts: the ETag is then the MD5 of the parts' MD5s."""
    store = open_store(s3_storage.settings(tmp_path))
    data = bytes(range(256)) * (21 * 2**20 // 256)  # three parts
    store.put_bytes("big", data)
    info = store.stat("big")
    assert info.etag.endswith("-3")
    sink = io.BytesIO()
    assert store.download("big", sink) == info
    assert sink.getvalue() == data


# -- checked local copies ---------------------------------------------------------------

@pytest.fixture
def copies(tmp_path, s3_storage):
    store = open_store(s3_storage.settings(tmp_path))
    return LocalCopies(store, tmp_path / "cache")


def _copy_files(copies):
    return sorted(p for p in copies.root.rglob("*") if p.is_file())


def test_copies_are_made_once_then_reused(copies):
    store = copies.store
    store.put_bytes("t/one.parquet", b"first file")
    store.put_bytes("t/two.parquet", b"second")
    wanted = [(store.uri("t/one.parquet"), 10), (store.uri("t/two.parquet"), 6)]
    paths = copies.fetch(wanted)
    assert [Path(p).read_bytes() for p in paths] == [b"first file", b"second"]
    assert all(p.endswith(".parquet") for p in paths)
    made = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _copy_files(copies)}
    assert len(made) == 2  # no temp file left
    assert copies.fetch(wanted) == paths  # warm: the same files, not written again
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _copy_files(copies)} == made


def test_a_replaced_object_gets_a_new_copy_and_the_old_one_goes(copies):
    store = copies.store
    store.put_bytes("t/f.parquet", b"version-1")
    uri = store.uri("t/f.parquet")
    [old] = copies.fetch([(uri, 9)])
    store.put_bytes("t/f.parquet", b"version-2")  # same size, new ETag
    [new] = copies.fetch([(uri, 9)])
    assert new != old
    assert Path(new).read_bytes() == b"version-2"
    assert [str(p) for p in _copy_files(copies)] == [new]


def test_a_damaged_copy_is_never_used(copies):
    store = copies.store
    store.put_bytes("t/f.parquet", b"0123456789")
    uri = store.uri("t/f.parquet")
    [path] = copies.fetch([(uri, 10)])
    with open(path, "r+b") as handle:
        handle.truncate(4)
    assert copies.fetch([(uri, 10)]) == [path]
    assert Path(path).read_bytes() == b"0123456789"


def test_an_object_of_another_size_than_recorded_is_refused(copies):
    store = copies.store
    store.put_bytes("t/f.parquet", b"0123456789")
    error = _refused(lambda: copies.fetch([(store.uri("t/f.parquet"), 11)]), "object_changed")
    assert "changed outside Charter" in error.message
    assert _copy_files(copies) == []


def test_uris_outside_the_store_get_no_copy(copies):
    assert copies.fetch([("s3://another-bucket/x.parquet", 1)]) is None
    assert copies.fetch([(copies.store.uri("t/x") + "/../../../x", 1)]) is None
    assert _copy_files(copies) == []
