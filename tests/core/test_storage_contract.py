"""The ObjectStore contract, run against every backend: a local directory and a real S3 API
server (moto's standalone server, with signature checks on)."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from charter.core.storage import CHUNK, ObjectStore, open_store
from charter.errors import Invalid, NotFound, Unavailable
from charter.settings import Settings


@dataclass
class Backend:
    store: ObjectStore
    objects: Callable[[], list[str]]  # every object stored anywhere, temp files included


def _local(tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    root = tmp_path / "objects"
    store = open_store(_settings(tmp_path / "home", url=str(root)))
    return Backend(store, lambda: sorted(str(p.relative_to(tmp_path))
                                         for p in tmp_path.rglob("*") if p.is_file()))


def _s3(tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    storage = request.getfixturevalue("s3_storage")
    client = storage.server.client()

    def objects() -> list[str]:
        found = client.list_objects_v2(Bucket=storage.bucket).get("Contents", [])
        uploads = client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
        # pyarrow keeps the folder of an object it deleted or moved as an empty marker
        # `<folder>/`: no object (no key ends in /), so not listed here.
        return sorted([o["Key"] for o in found if not o["Key"].endswith("/")]
                      + [f"upload:{u['Key']}" for u in uploads])

    return Backend(open_store(storage.settings(tmp_path / "home")), objects)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return {"local": _local, "s3": _s3}[request.param](tmp_path, request)


@pytest.fixture
def store(backend: Backend) -> ObjectStore:
    return backend.store


def test_put_then_get_round_trips_and_overwrites(backend, store):
    assert store.put_bytes("accounts/a/x.bin", b"one") == "accounts/a/x.bin"
    assert store.get_bytes("accounts/a/x.bin") == b"one"
    assert store.exists("accounts/a/x.bin")
    store.put_bytes("accounts/a/x.bin", b"two!")
    assert store.get_bytes("accounts/a/x.bin") == b"two!"
    assert store.stat("accounts/a/x.bin").size == 4
    assert backend.objects() == ["objects/accounts/a/x.bin"]  # no temp file, no upload left


def test_stat_gives_size_and_a_tag_that_changes_with_the_object(store):
    store.put_bytes("k/obj", b"first")
    first = store.stat("k/obj")
    assert first.size == 5 and first.etag
    assert store.stat("k/obj") == first  # unchanged object, same tag
    store.put_bytes("k/obj", b"second version")
    second = store.stat("k/obj")
    assert second.size == 14
    assert second.etag != first.etag


def test_download_streams_the_object_and_says_what_it_wrote(store):
    data = bytes(range(256)) * 9000  # past one read chunk
    store.put_bytes("k/big", data)
    sink = io.BytesIO()
    info = store.download("k/big", sink)
    assert sink.getvalue() == data
    assert info == store.stat("k/big")


def test_missing_objects_are_not_found(store):
    store.put_bytes("a/b/c", b"x")
    for key in ("a/missing", "a/b", "a"):  # a "folder" of other objects is no object
        assert not store.exists(key)
        for call in (store.get_bytes, store.stat, lambda k: store.download(k, io.BytesIO())):
            with pytest.raises(NotFound) as info:
                call(key)
            assert info.value.code == "object_not_found"


def test_readers_never_see_a_partial_object(store):
    """A writer replaces a large object over and over; every read is one whole version
    (or, on S3, after tries, `object_changed`: nothing rather than a part)."""
    versions = [bytes([i]) * 2_000_000 for i in range(1, 4)]
    store.put_bytes("big/obj", versions[0])
    stop = threading.Event()
    errors: list[str] = []
    whole = 0

    def write():
        i = 0
        while not stop.is_set():
            store.put_bytes("big/obj", versions[i % len(versions)])
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(20):
            try:
                data = store.get_bytes("big/obj")
            except Unavailable as exc:
                assert exc.details["reason"] == "object_changed"
                continue
            if data not in versions:
                errors.append(f"partial read of {len(data)} bytes")
            whole += 1
    finally:
        stop.set()
        writer.join()
    assert errors == []
    assert whole >= 10


def test_put_content_is_addressed_by_sha256(store):
    data = b"model weights"
    key = store.put_content("accounts/team-a-dev/artifacts", data)
    digest = hashlib.sha256(data).hexdigest()
    assert key == f"accounts/team-a-dev/artifacts/sha256/{digest[:2]}/{digest}"
    assert store.get_bytes(key) == data


def test_put_content_same_bytes_same_key_not_rewritten(backend, store):
    first = store.put_content("p", b"same")
    tag = store.stat(first).etag
    assert store.put_content("p", b"same") == first
    assert store.stat(first).etag == tag  # not written again
    other = store.put_content("p", b"different")
    assert other != first
    assert len(backend.objects()) == 2


BAD_KEYS = ["..", "../x", "a/../../x", "a/..", "/etc/passwd", "", "a//b", "a/./b", "./a",
            "a/", "a\x00b", "..\\x", "a\\..\\..\\x", "a\r\nb", "a/b\n", "a\tb", "a\x7fb"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_that_could_escape_the_root_are_refused(backend, store, key):
    calls = (lambda: store.put_bytes(key, b"x"), lambda: store.get_bytes(key),
             lambda: store.exists(key), lambda: store.stat(key),
             lambda: store.download(key, io.BytesIO()), lambda: store.uri(key),
             lambda: store.put_stream(key, io.BytesIO(b"x")), lambda: store.iter_bytes(key),
             lambda: store.move(key, "fine/key"), lambda: store.move("fine/key", key),
             lambda: store.delete(key))
    for call in calls:
        with pytest.raises(Invalid) as info:
            call()
        assert info.value.code == "invalid_object_key"
    assert backend.objects() == []


def test_put_content_refuses_an_escaping_prefix(backend, store):
    for prefix in ("../outside", "/abs", "a//b"):
        with pytest.raises(Invalid):
            store.put_content(prefix, b"x")
    assert backend.objects() == []


def test_uri_and_key_of_are_inverse_and_stay_in_the_root(store):
    uri = store.uri("accounts/a/lake/t/data/f.parquet")
    assert uri.startswith(store.root_uri + "/")
    assert store.key_of(uri) == "accounts/a/lake/t/data/f.parquet"
    scheme = store.root_uri.split("://")[0]
    for outside in (store.root_uri, store.root_uri + "/", store.root_uri + "-other/x",
                    store.root_uri + "/a/../../x", f"{scheme}://elsewhere/x",
                    "https://example.org/x", "/etc/passwd"):
        assert store.key_of(outside) is None, outside


def test_check_passes_on_a_working_store(store):
    store.check()


class Source(io.RawIOBase):
    """`size` bytes made as they are read (the test holds no copy of them), recording how
    many each read asked for; `fail_after`: raise once past that many."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.size, self.fail_after, self.sent = size, fail_after, 0
        self.asked: list[int] = []
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.asked.append(n)
        if self.fail_after is not None and self.sent > self.fail_after:
            raise ConnectionResetError("the sender went away")
        take = min(self.size - self.sent, n if n >= 0 else self.size)
        data = bytes((self.sent + i) % 251 for i in range(take))
        self.sent += take
        self.digest.update(data)
        return data


def test_streams_move_objects_a_chunk_at_a_time(backend, store):
    source = Source(3 * CHUNK + 12_345)
    info = store.put_stream("stage/upload", source)
    assert info == store.stat("stage/upload") and info.size == source.size
    assert source.asked and all(0 < n <= CHUNK for n in source.asked)  # never "all of it"
    chunks = store.iter_bytes("stage/upload")
    digest, sizes = hashlib.sha256(), []
    for chunk in chunks:
        sizes.append(len(chunk))
        digest.update(chunk)
    assert digest.digest() == source.digest.digest() and sum(sizes) == source.size
    assert max(sizes) <= 8 * CHUNK  # S3 reads 8 MiB a GET, the local store 1 MiB
    assert backend.objects() == ["objects/stage/upload"]  # no temp file, no upload left


def test_a_stream_that_fails_leaves_nothing(backend, store):
    with pytest.raises(ConnectionResetError):
        store.put_stream("stage/cut", Source(3 * CHUNK, fail_after=CHUNK + 1))
    assert not store.exists("stage/cut")
    assert backend.objects() == []


def test_iter_bytes_of_a_missing_object_is_refused_before_any_chunk(store):
    with pytest.raises(NotFound) as info:
        store.iter_bytes("nothing/here")  # not iterated: refused when called
    assert info.value.code == "object_not_found"


def test_move_replaces_the_destination_and_removes_the_source(backend, store):
    store.put_bytes("stage/a", b"new bytes")
    store.put_bytes("content/x", b"old")
    assert store.move("stage/a", "content/x") == "content/x"
    assert store.get_bytes("content/x") == b"new bytes" and not store.exists("stage/a")
    store.put_bytes("stage/b", b"elsewhere")
    store.move("stage/b", "content/deeper/y")  # a new "folder" is no obstacle
    assert store.get_bytes("content/deeper/y") == b"elsewhere"
    with pytest.raises(NotFound) as info:
        store.move("stage/gone", "content/z")
    assert info.value.code == "object_not_found" and not store.exists("content/z")
    assert backend.objects() == ["objects/content/deeper/y", "objects/content/x"]


def test_delete_removes_an_object_and_a_missing_one_is_no_error(backend, store):
    store.put_bytes("k/doomed", b"x")
    store.put_bytes("k/kept", b"y")
    store.delete("k/doomed")
    store.delete("k/doomed")
    store.delete("k/never")
    assert not store.exists("k/doomed") and store.get_bytes("k/kept") == b"y"
    assert backend.objects() == ["objects/k/kept"]


def _settings(home, **storage) -> Settings:
    """Settings of a platform in `home` with these storage settings."""
    return Settings(home=home, storage=storage)
