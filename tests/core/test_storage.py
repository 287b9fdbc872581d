"""What only the local backend does (temp files, fsync), and how `open_store` picks a backend.

The contract every backend keeps is tested in test_storage_contract.py."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr

from charter.core.storage import (
    LocalObjectStore,
    S3ObjectStore,
    account_prefix,
    open_store,
)
from charter.errors import Invalid, Unavailable
from charter.settings import Settings


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "objects"
    root.mkdir()
    return LocalObjectStore(root)


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_failed_write_leaves_old_object_and_no_temp_file(store, monkeypatch):
    store.put_bytes("k/obj", b"old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(Unavailable, match="disk full") as info:
        store.put_bytes("k/obj", b"new" * 1000)
    monkeypatch.undo()
    assert (info.value.code, info.value.details["reason"]) == ("storage_unavailable", "error")
    assert store.get_bytes("k/obj") == b"old"
    assert _files(store.root) == ["k/obj"]


def test_put_content_does_not_rewrite_the_file(store):
    first = store.put_content("p", b"same")
    mtime = (store.root / first).stat().st_mtime_ns
    assert store.put_content("p", b"same") == first
    assert (store.root / first).stat().st_mtime_ns == mtime


def test_local_uris_are_file_uris_of_the_root(store):
    assert store.root_uri == store.root.absolute().as_uri()
    assert store.uri("a/b") == (store.root / "a" / "b").absolute().as_uri()
    assert store.iceberg_properties() == {}


def test_open_store_and_account_prefix(tmp_path):
    store = open_store(Settings(home=tmp_path))
    assert isinstance(store, LocalObjectStore) and store.root == tmp_path / "objects"
    key = store.put_content(account_prefix("team-a-dev"), b"x")
    assert key.startswith("accounts/team-a-dev/sha256/")
    assert store.get_bytes(key) == b"x"


@pytest.mark.parametrize("url", ["{d}", "file://{d}"])
def test_open_store_takes_a_directory_or_file_url(tmp_path, url):
    store = open_store(_settings(tmp_path, url=url.format(d=tmp_path / "o")))
    assert isinstance(store, LocalObjectStore) and store.root == tmp_path / "o"


def test_open_store_takes_an_s3_url(tmp_path):
    store = open_store(_settings(tmp_path, url="s3://my-bucket/some/prefix/",
                                endpoint_url="http://127.0.0.1:9/",
                                region="eu-west-1", access_key_id="AK",
                                secret_access_key=SecretStr("SK")))
    assert isinstance(store, S3ObjectStore)
    assert store.root_uri == "s3://my-bucket/some/prefix"
    assert store.uri("a/b") == "s3://my-bucket/some/prefix/a/b"
    assert store.iceberg_properties() == {
        "s3.endpoint": "http://127.0.0.1:9", "s3.region": "eu-west-1",
        "s3.access-key-id": "AK", "s3.secret-access-key": "SK", "s3.connect-timeout": "5.0"}
    bare = open_store(_settings(tmp_path, url="s3://my-bucket"))
    assert bare.root_uri == "s3://my-bucket"
    # Unset: AWS S3 and the default credential chain; the region is always given, so
    # nothing asks AWS where the bucket is.
    assert bare.iceberg_properties() == {"s3.region": "us-east-1", "s3.connect-timeout": "5.0"}


@pytest.mark.parametrize("url", [
    "s3://", "s3://Upper", "s3://ab", "s3://bucket/a/../b", "s3://bucket/a//b",
    "s3://bucket/x?y=1", "s3://bucket/x#y", "s3://user@bucket/x", "gs://bucket/x",
    "https://bucket/x", "s3://bucket/a\\b",
])
def test_bad_storage_urls_are_refused(tmp_path, url):
    with pytest.raises(Invalid) as info:
        open_store(_settings(tmp_path, url=url))
    assert info.value.code == "invalid_storage_url"


@pytest.mark.parametrize("endpoint", ["127.0.0.1:9000", "ftp://host", "http://", "http://h/p"])
def test_bad_endpoints_are_refused(tmp_path, endpoint):
    with pytest.raises(Invalid) as info:
        open_store(_settings(tmp_path, url="s3://bucket",
                            endpoint_url=endpoint))
    assert info.value.code == "invalid_storage_url"


@pytest.mark.parametrize("credentials", [
    {"access_key_id": "AK"},
    {"secret_access_key": SecretStr("SK")},
    {"access_key_id": "AK", "secret_access_key": SecretStr("")},
])
def test_one_credential_without_the_other_is_refused(tmp_path, credentials):
    with pytest.raises(Invalid) as info:
        open_store(_settings(tmp_path, url="s3://bucket", **credentials))
    assert info.value.code == "invalid_storage_credentials"
    assert "SK" not in info.value.message


def _settings(home, **storage) -> Settings:
    """Settings of a platform in `home` with these storage settings."""
    return Settings(home=home, storage=storage)
