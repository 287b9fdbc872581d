"""What every object backend shares: object keys, content addresses, object facts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from charter.errors import Invalid

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # NUL, CR, LF, tab, DEL, ...
PART = 10 * 2**20  # pyarrow's multipart upload part size
CHUNK = 2**20  # bytes a stream reads or writes at a time (the local backend's)
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART = re.compile(r"^([0-9a-f]{32})-([0-9]+)$")


class SourceFailed(Exception):
    """Reading the caller's stream failed: carried past a store's handling of its own
    OSErrors (a reset connection of the sender is no failure of the store), then raised
    as it was (`read_chunk`, `raise_source`)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def read_chunk(source: BinaryIO) -> bytes:
    """At most CHUNK bytes of `source` (b"" at its end)."""
    try:
        return source.read(CHUNK)
    except Exception as error:
        raise SourceFailed(error) from error


@contextmanager
def raise_source() -> Iterator[None]:
    """Raise the stream's own error where `SourceFailed` carried it."""
    try:
        yield
    except SourceFailed as failed:
        raise failed.error from None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """An object's size in bytes and its entity tag: an opaque string that changes
    whenever the object is replaced (on S3, the server's ETag)."""

    size: int
    etag: str


def key_parts(key: str) -> list[str]:
    """The `/`-separated parts of a valid key; refuses a key that could leave the root,
    or that holds a control character (a CR or LF would reach S3 in a request line)."""
    parts = key.split("/")
    if (not key or key.startswith("/") or "\\" in key or _CONTROL.search(key)
            or any(p in ("", ".", "..") for p in parts)):
        raise Invalid(f"invalid object key {key!r}", code="invalid_object_key")
    return parts


def content_key(prefix: str, data: bytes) -> str:
    """The key `put_content` stores `data` under: `<prefix>/sha256/<2 hex>/<sha256>`."""
    digest = hashlib.sha256(data).hexdigest()
    key = f"{prefix}/sha256/{digest[:2]}/{digest}"
    key_parts(key)
    return key


class ContentAddressed:
    """`put_content` for a store with `exists` and `put_bytes`: same bytes, same key,
    written once."""

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes) -> str:
        raise NotImplementedError

    def put_content(self, prefix: str, data: bytes) -> str:
        key = content_key(prefix, data)
        if not self.exists(key):
            self.put_bytes(key, data)
        return key


class Md5s:
    """The MD5 of bytes read, whole and of each PART-sized part: S3's ETag of an object
    written by one PUT is the first, of one written by a multipart upload the MD5 of the
    parts' MD5s followed by `-<parts>`."""

    def __init__(self) -> None:
        self.size = 0
        self.whole = hashlib.md5(usedforsecurity=False)
        self.parts: list[bytes] = []
        self._part = hashlib.md5(usedforsecurity=False)
        self._in_part = 0

    def update(self, data: bytes) -> None:
        self.size += len(data)
        self.whole.update(data)
        view = memoryview(data)
        while view:
            take = min(len(view), PART - self._in_part)
            self._part.update(view[:take])
            self._in_part += take
            view = view[take:]
            if self._in_part == PART:
                self._end_part()

    def _end_part(self) -> None:
        self.parts.append(self._part.digest())
        self._part = hashlib.md5(usedforsecurity=False)
        self._in_part = 0

    @staticmethod
    def may_match(etag: str) -> bool:
        """Whether `etag` has the form of an MD5 of bytes, whole or in parts."""
        return bool(_MD5.match(etag) or _MULTIPART.match(etag))

    def matches(self, etag: str) -> bool:
        """Whether `etag` is the MD5 of these bytes, whole or in parts (once all are in)."""
        if _MD5.match(etag):
            return self.whole.hexdigest() == etag
        if not _MULTIPART.match(etag):
            return False
        parts = [*self.parts, self._part.digest()] if self._in_part or not self.parts \
            else self.parts
        combined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
        return f"{combined}-{len(parts)}" == etag
