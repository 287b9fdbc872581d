"""The S3 object backend (AWS S3 or any S3-compatible server), through pyarrow's S3FileSystem.

An object is written by one PUT (or one multipart upload, completed only once every part
is in): S3 makes it visible whole or not at all, so no temp-then-rename is needed. The
bucket must exist: Charter never creates one. It is checked once, before the store's
first use, so a missing bucket is reported as such rather than as missing objects.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlparse

from pyarrow import fs as pafs

from charter.core.storage._common import (
    ContentAddressed,
    Md5s,
    ObjectInfo,
    SourceFailed,
    key_parts,
    read_chunk,
)
from charter.errors import CharterError, Invalid, NotFound, Unavailable

CONNECT_TIMEOUT = 5.0  # seconds to open a connection to the endpoint
ATTEMPTS = 3  # tries of each request (AWS's standard retry strategy)
_READS = 5  # reads of an object that keeps changing while it is read, before giving up
DEFAULT_REGION = "us-east-1"
_CHUNK = 8 << 20  # bytes of one GET: an object up to this size is read by one
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where the objects are and how to reach them (from CHARTER_STORAGE_*)."""

    bucket: str
    prefix: str  # "" or a valid key: the store's root inside the bucket
    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    access_key_id: str | None = None  # both None: the AWS default credential chain
    secret_access_key: str | None = None


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket[/prefix]`."""
    parsed = urlparse(url)
    prefix = parsed.path.strip("/")
    if (parsed.scheme != "s3" or not _BUCKET.match(parsed.netloc) or parsed.query
            or parsed.fragment or parsed.params or ".." in parsed.netloc):
        raise Invalid(f"CHARTER_STORAGE_URL {url!r}: give s3://bucket or s3://bucket/prefix "
                      "(a bucket name of 3 to 63 lower-case letters, digits, dots and "
                      "hyphens)", code="invalid_storage_url")
    if prefix:
        try:
            key_parts(prefix)
        except Invalid:
            raise Invalid(f"CHARTER_STORAGE_URL {url!r}: the prefix has an empty, `.` or "
                          "`..` part, a backslash or a control character",
                          code="invalid_storage_url") from None
    return parsed.netloc, prefix


def check_endpoint(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path.strip("/"):
        raise Invalid(f"CHARTER_STORAGE_ENDPOINT_URL {url!r}: give http://host:port or "
                      "https://host[:port]", code="invalid_storage_url")
    return url.rstrip("/")


class S3ObjectStore(ContentAddressed):
    """Objects under `s3://bucket/prefix/`."""

    def __init__(self, config: S3Settings) -> None:
        self.config = config
        self._base = f"{config.bucket}/{config.prefix}".rstrip("/")
        self._fs: pafs.S3FileSystem | None = None
        self._checked = False
        self._check_lock = threading.Lock()

    @property
    def fs(self) -> pafs.S3FileSystem:
        """Made on first use: without keys, making it asks the AWS default credential
        chain (the instance metadata service among others)."""
        if self._fs is None:
            with self._check_lock:
                if self._fs is None:
                    c = self.config
                    self._fs = pafs.S3FileSystem(
                        access_key=c.access_key_id, secret_key=c.secret_access_key,
                        region=c.region, endpoint_override=c.endpoint_url,
                        connect_timeout=CONNECT_TIMEOUT,
                        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=ATTEMPTS),
                        # A small object is then one PutObject, whose ETag is its MD5.
                        allow_delayed_open=True)
        return self._fs

    @property
    def root_uri(self) -> str:
        return f"s3://{self._base}"

    def _path(self, key: str) -> str:
        key_parts(key)
        if not self._checked:
            self.check()
        return f"{self._base}/{key}"

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        try:
            with self.fs.open_output_stream(path) as out:
                out.write(data)
        except OSError as exc:
            raise self.failure(exc) from None
        return key

    def put_stream(self, key: str, source: BinaryIO) -> ObjectInfo:
        """One multipart upload (one PUT for a small object), fed a chunk at a time. It
        cannot be abandoned: pyarrow completes an upload when its stream closes, even on
        an error, so an object cut short by a failing `source` is deleted after it."""
        path = self._path(key)
        try:
            with self.fs.open_output_stream(path) as out:
                while chunk := read_chunk(source):
                    out.write(chunk)
        except BaseException as error:
            # The original error says more than a failed delete would.
            with contextlib.suppress(CharterError):
                self.delete(key)
            if isinstance(error, SourceFailed):
                raise error.error from None
            if isinstance(error, OSError):
                raise self.failure(error) from None
            raise
        return self.stat(key)

    def move(self, source: str, dest: str) -> str:
        src, path = self._path(source), self._path(dest)
        try:
            self.fs.move(src, path)  # CopyObject (whole, as a PUT), then DeleteObject
        except FileNotFoundError:
            raise _not_found(source) from None
        except OSError as exc:
            if "NO_SUCH_KEY" in str(exc):  # the copy's own answer for a missing source
                raise _not_found(source) from None
            raise self.failure(exc) from None
        return dest

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            self.fs.delete_file(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self.failure(exc) from None

    def get_bytes(self, key: str) -> bytes:
        for attempt in range(_READS):
            sink = io.BytesIO()
            try:
                self.download(key, sink)
                return sink.getvalue()
            except Unavailable as exc:
                if exc.details.get("reason") != "object_changed" or attempt == _READS - 1:
                    raise
            time.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    def exists(self, key: str) -> bool:
        path = self._path(key)
        try:
            return self.fs.get_file_info(path).type == pafs.FileType.File
        except OSError as exc:
            raise self.failure(exc) from None

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            with self.fs.open_input_file(path) as source:  # one HEAD request
                return _info(source.size(), source.metadata())
        except FileNotFoundError:
            raise _not_found(key) from None
        except OSError as exc:
            raise self.failure(exc) from None

    def download(self, key: str, dest: BinaryIO) -> ObjectInfo:
        """The object is read by ranged GETs, which a write in between could mix: the
        bytes must be as many as the HEAD before them said, and either their MD5 is its
        ETag (`Md5s`) or its ETag is unchanged after them; otherwise
        `storage_unavailable` (reason `object_changed`)."""
        info, chunks = self._read(key)
        for chunk in chunks:
            dest.write(chunk)
        return info()

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        """As `download`, chunk by chunk: `object_changed` comes after the last chunk."""
        return self._read(key)[1]

    def _read(self, key: str) -> tuple[Callable[[], ObjectInfo], Iterator[bytes]]:
        """The object's chunks, after one HEAD (now: a missing object is refused before
        any chunk), and a function giving the facts of the bytes read, once all were."""
        path = self._path(key)
        try:
            source = self.fs.open_input_file(path)  # HEAD: size and ETag
        except FileNotFoundError:
            raise _not_found(key) from None
        except OSError as exc:
            raise self.failure(exc) from None
        read: list[ObjectInfo] = []

        def chunks() -> Iterator[bytes]:
            info = _info(source.size(), source.metadata())
            md5s = Md5s()
            try:
                with source:
                    while chunk := source.read(_CHUNK):
                        md5s.update(chunk)
                        yield chunk
                read.append(self._whole(key, info, md5s))
            except FileNotFoundError:
                raise _not_found(key) from None
            except OSError as exc:
                raise self.failure(exc) from None

        return (lambda: read[0]), chunks()

    def _whole(self, key: str, info: ObjectInfo, md5s: Md5s) -> ObjectInfo:
        """The facts of the object whose bytes were read, if they are one whole version
        of it; else `storage_unavailable` (reason `object_changed`)."""
        whole = md5s.size == info.size and md5s.matches(info.etag)
        if not whole:
            # Replaced since the HEAD (a small object is one GET: the bytes are then the
            # new one's), or an ETag that is no MD5 of the bytes (SSE-KMS, parts of another
            # size), which the object being the same after them vouches for.
            after = self.stat(key)
            whole = md5s.size == after.size and (after == info or md5s.matches(after.etag))
            info = after
        if not whole:
            raise Unavailable(f"object {key!r} changed while it was read; try again",
                              code="storage_unavailable", reason="object_changed")
        return info

    def uri(self, key: str) -> str:
        key_parts(key)
        return f"s3://{self._base}/{key}"

    def key_of(self, uri: str) -> str | None:
        head = f"s3://{self._base}/"
        if not uri.startswith(head):
            return None
        try:
            key_parts(uri[len(head):])
        except Invalid:
            return None
        return uri[len(head):]

    def iceberg_properties(self) -> dict[str, str]:
        c = self.config
        props = {"s3.region": c.region, "s3.connect-timeout": str(CONNECT_TIMEOUT)}
        if c.endpoint_url:
            props["s3.endpoint"] = c.endpoint_url
        if c.access_key_id and c.secret_access_key:
            props["s3.access-key-id"] = c.access_key_id
            props["s3.secret-access-key"] = c.secret_access_key
        return props

    def check(self) -> None:
        """The bucket exists and these credentials may read it (one HEAD request)."""
        fs = self.fs
        with self._check_lock:
            if self._checked:
                return
            try:
                found = fs.get_file_info(self.config.bucket).type
            except OSError as exc:
                raise self.failure(exc) from None
            if found == pafs.FileType.NotFound:
                raise self._no_bucket()
            self._checked = True

    def failure(self, error: OSError) -> CharterError:
        """The stable error of a failed request: unreachable endpoint, missing bucket,
        refused credentials, or anything else the store answered."""
        said = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        where = self.config.endpoint_url or "AWS S3"
        if "NO_SUCH_BUCKET" in said:
            return self._no_bucket()
        if any(s in said for s in ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE",
                                   "Forbidden", "InvalidAccessKeyId")):
            return Unavailable(
                f"the object store at {where} refused access to {self.root_uri}: check "
                "CHARTER_STORAGE_ACCESS_KEY_ID, CHARTER_STORAGE_SECRET_ACCESS_KEY and the "
                "bucket's policy", code="storage_unavailable", reason="access_denied")
        if any(s in said for s in ("NETWORK_CONNECTION", "curlCode", "Timeout", "timed out")):
            return Unavailable(
                f"the object store at {where} cannot be reached: check "
                "CHARTER_STORAGE_ENDPOINT_URL and that the server is up",
                code="storage_unavailable", reason="unreachable")
        return Unavailable(f"the object store {self.root_uri} failed: {said}",
                           code="storage_unavailable", reason="error")

    def _no_bucket(self) -> Unavailable:
        where = self.config.endpoint_url or "AWS S3"
        return Unavailable(f"bucket {self.config.bucket!r} does not exist at {where}: create "
                           "it, or fix CHARTER_STORAGE_URL", code="storage_unavailable",
                           reason="no_such_bucket")


def _info(size: int, metadata: dict[str, bytes]) -> ObjectInfo:
    etag = metadata.get("ETag", b"").decode("ascii", "replace").strip('"')
    return ObjectInfo(size, etag)


def _not_found(key: str) -> NotFound:
    return NotFound(f"object {key!r} does not exist", code="object_not_found")
