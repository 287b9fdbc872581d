"""The local-directory object backend: objects as files, written to a temp file then renamed."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from charter.core.storage._common import (
    CHUNK,
    ContentAddressed,
    ObjectInfo,
    key_parts,
    raise_source,
    read_chunk,
)
from charter.errors import Invalid, NotFound, Unavailable


class LocalObjectStore(ContentAddressed):
    """Objects as files under a directory; write to a temp file then rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def root_uri(self) -> str:
        return self.root.absolute().as_uri()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key_parts(key))

    def put_bytes(self, key: str, data: bytes) -> str:
        self._write(key, lambda handle: handle.write(data))
        return key

    def put_stream(self, key: str, source: BinaryIO) -> ObjectInfo:
        with raise_source():
            return self._write(key, lambda handle: _copy(source, handle))

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> ObjectInfo:
        """A temp file beside the object, filled, synced, then renamed over it: a reader
        sees the old file or the new one; a failure leaves no temp file."""
        path = self._path(key)
        with self._failing(key):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    fill(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                    info = _info(os.fstat(handle.fileno()))
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return info

    def move(self, source: str, dest: str) -> str:
        src, path = self._path(source), self._path(dest)
        with self._failing(source):
            if not src.is_file():
                raise _not_found(source)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, path)  # one rename: atomic for readers of `dest`
        return dest

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._failing(key):
            if path.is_file():
                path.unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        with self._failing(key):
            return path.read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        with self._failing(key):
            found = os.stat(path)
        if not stat.S_ISREG(found.st_mode):
            raise _not_found(key)
        return _info(found)

    def download(self, key: str, dest: BinaryIO) -> ObjectInfo:
        path = self._path(key)
        with self._failing(key), path.open("rb") as source:
            info = _info(os.fstat(source.fileno()))
            shutil.copyfileobj(source, dest, CHUNK)
        return info

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        with self._failing(key):
            source = path.open("rb")  # now: a missing object is refused before any chunk
        return self._chunks(key, source)

    def _chunks(self, key: str, source: BinaryIO) -> Iterator[bytes]:
        # The open file is the object as it was when opened: a rename over it later gives
        # a new file, so the chunks are of one version.
        with source, self._failing(key):
            while chunk := source.read(CHUNK):
                yield chunk

    @contextmanager
    def _failing(self, key: str) -> Iterator[None]:
        """A missing object as `object_not_found`, any other OSError as the store's."""
        try:
            yield
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise _not_found(key) from None
        except OSError as exc:
            raise self.failure(exc) from None

    def uri(self, key: str) -> str:
        return self._path(key).absolute().as_uri()

    def key_of(self, uri: str) -> str | None:
        parsed = urlparse(uri)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return None
        try:
            key = Path(unquote(parsed.path)).relative_to(self.root.absolute()).as_posix()
            key_parts(key)
        except (ValueError, Invalid):  # outside the root, or not a key
            return None
        return key

    def iceberg_properties(self) -> dict[str, str]:
        return {}

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self.failure(exc) from None

    def failure(self, error: OSError) -> Unavailable:
        return Unavailable(f"the object store {self.root} failed: {error}",
                           code="storage_unavailable", reason="error")


def _copy(source: BinaryIO, dest: BinaryIO) -> None:
    """Copy to the end, CHUNK bytes at a time (never more: `read` is asked for no more)."""
    while chunk := read_chunk(source):
        dest.write(chunk)


def _info(st: os.stat_result) -> ObjectInfo:
    # A write replaces the file by a new one: a new inode and modification time.
    return ObjectInfo(st.st_size, f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}")


def _not_found(key: str) -> NotFound:
    return NotFound(f"object {key!r} does not exist", code="object_not_found")
