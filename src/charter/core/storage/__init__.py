"""Object store: one contract, a local-directory backend and an S3 backend, chosen by settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Protocol

from charter.core.storage._common import CHUNK, ObjectInfo, key_parts
from charter.core.storage._copies import LocalCopies
from charter.core.storage._local import LocalObjectStore
from charter.core.storage._s3 import (
    DEFAULT_REGION,
    S3ObjectStore,
    S3Settings,
    check_endpoint,
    parse_s3_url,
)
from charter.errors import CharterError, Invalid
from charter.settings import Settings

__all__ = ["CHUNK", "LocalCopies", "LocalObjectStore", "ObjectInfo", "ObjectStore", "S3ObjectStore",
           "account_prefix", "key_parts", "open_store", "storage_errors"]


class ObjectStore(Protocol):
    """Contract every object backend keeps (tests/core/test_storage_contract.py).

    - Keys are relative, `/`-separated, and never escape the root: an empty key or part,
      `.`, `..`, a leading `/`, a control character (NUL, CR, LF, ...) or a backslash is
      refused with `invalid_object_key` by every method that takes a key, before any I/O.
    - `put_bytes` is atomic: a reader sees the whole object or nothing, never a part; a
      failed write leaves the object as it was. It returns the key. (On S3 a read of an
      object replaced again and again while it is read may, after a few tries, give
      `storage_unavailable` with reason `object_changed`: nothing, never a part.)
    - `put_content` stores by sha256 under `<prefix>/sha256/<2 hex>/<sha256>` and returns
      the key; writing the same bytes twice is a no-op that returns the same key.
    - `get_bytes`, `stat` and `download` of a missing key raise `object_not_found`;
      `exists` says False. Only objects exist: a key that is a "folder" of others does not.
    - `stat` gives the object's size and entity tag; the tag changes whenever the object
      is replaced. `download` streams the object into a writable binary file and returns
      the size and tag of the bytes it wrote.
    - Streams, for objects larger than memory: none holds more than CHUNK bytes (S3:
      one 8 MiB read, or one 10 MiB part of an upload) of an object at a time.
      `put_stream` writes what it reads from a binary file, to its end, as the object at
      a key nobody reads yet (a staging key): if reading fails, nothing is left at the
      key. `iter_bytes` gives the object's bytes chunk by chunk; a missing key is
      `object_not_found` when it is called, before any chunk; on S3 the bytes are checked
      against the object's ETag as `download` does, after the last chunk.
    - `move` makes the object at `source` the one at `dest` (replacing it: a reader of
      `dest` sees one or the other, whole) and removes `source`; `object_not_found` if
      `source` is missing. On S3 it is a server-side copy, so at most 5 GiB.
      `delete` removes an object; a missing key is no error. (On S3, pyarrow keeps the
      folder of an object it deleted or moved as an empty marker `<folder>/`, which is
      no object: no key ends in /.)
    - `uri(key)` is the object's URI as other readers name it (`file:///...`,
      `s3://bucket/...`); `key_of(uri)` is its inverse, None for a URI outside the root.
      `root_uri` is the root's URI; Iceberg tables are located under it, read and
      written through pyiceberg with `iceberg_properties()` (its FileIO settings).
    - A failure of the backend itself (unreachable endpoint, missing bucket, refused
      credentials, a full disk) is `storage_unavailable` (503), with a `reason` of
      `unreachable`, `no_such_bucket`, `access_denied` or `error`: `failure(error)`
      makes it from an OSError its library raised, `check()` probes for one.
    """

    @property
    def root_uri(self) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> str: ...
    def put_content(self, prefix: str, data: bytes) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def stat(self, key: str) -> ObjectInfo: ...
    def download(self, key: str, dest: BinaryIO) -> ObjectInfo: ...
    def put_stream(self, key: str, source: BinaryIO) -> ObjectInfo: ...
    def iter_bytes(self, key: str) -> Iterator[bytes]: ...
    def move(self, source: str, dest: str) -> str: ...
    def delete(self, key: str) -> None: ...
    def uri(self, key: str) -> str: ...
    def key_of(self, uri: str) -> str | None: ...
    def iceberg_properties(self) -> dict[str, str]: ...
    def check(self) -> None: ...
    def failure(self, error: OSError) -> CharterError: ...


def account_prefix(account: str) -> str:
    """Every object of an account lives under `accounts/<account>/`."""
    return f"accounts/{account}"


def open_store(settings: Settings) -> ObjectStore:
    """The object store CHARTER_STORAGE_URL names: unset, a directory or a file:// URL is
    the local backend; `s3://bucket/prefix` the S3 backend, reached with the
    CHARTER_STORAGE_ENDPOINT_URL, _REGION, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY settings.
    Nothing is contacted until the store is used."""
    url = settings.storage.url or ""
    if not url.startswith("s3://"):
        if "://" in url and not url.startswith("file://"):
            raise Invalid(f"CHARTER_STORAGE_URL {url!r}: give a directory, a file:// URL or "
                          "s3://bucket/prefix", code="invalid_storage_url")
        return LocalObjectStore(settings.resolved_storage_root)
    bucket, prefix = parse_s3_url(url)
    key_id = settings.storage.access_key_id
    secret = settings.storage.secret_access_key
    if bool(key_id) != bool(secret and secret.get_secret_value()):
        raise Invalid("set both CHARTER_STORAGE_ACCESS_KEY_ID and "
                      "CHARTER_STORAGE_SECRET_ACCESS_KEY, or neither (the AWS default "
                      "credential chain)", code="invalid_storage_credentials")
    endpoint = settings.storage.endpoint_url
    return S3ObjectStore(S3Settings(
        bucket, prefix, endpoint_url=check_endpoint(endpoint) if endpoint else None,
        region=settings.storage.region or DEFAULT_REGION, access_key_id=key_id or None,
        secret_access_key=secret.get_secret_value() if key_id and secret else None))


@contextmanager
def storage_errors(store: ObjectStore) -> Iterator[None]:
    """Report what fails in the object store underneath (pyiceberg and pyarrow reading and
    writing through it raise OSError) as the store's `storage_unavailable`."""
    try:
        yield
    except OSError as exc:
        raise store.failure(exc) from None
