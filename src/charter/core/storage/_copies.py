"""Checked local copies of remote objects, for readers that can read local files only.

A governed lake query runs in a DuckDB that can open nothing but local files it is
allowed (docs/design.md, "Objects on S3"), so a snapshot's data files on S3 are read from
copies under CHARTER_HOME. Key contracts:
- A copy is named by its object's URI and entity tag (ETag): a replaced object has a new
  tag, so an old copy is never taken for it. Before a copy is used, the object's current
  tag is asked for (one HEAD request), and the object's and the copy's sizes must be the
  size the caller expects (the table's metadata records every data file's size).
- A copy is read only if it is a regular file (`lstat`, then opened with O_NOFOLLOW) whose
  content was verified: its MD5 is the object's ETag (one PUT, or pyarrow's parts), or
  else its sha256 is the one recorded in its manifest (`<copy>.sha256`, written by the
  process that downloaded it) and the copy's signature (inode, size, mtime_ns, ctime_ns)
  is the one the manifest records. A process verifies a copy it did not fetch once, by
  hashing it, and then remembers its signature: a later read costs one `lstat`
  (`ensure`, before every query that reads the copy). A symlink, directory, FIFO, a
  copy of another size or content, or one whose signature changed is removed and
  fetched again.
- A copy is written to a temp file beside it, fsynced, then renamed into place, so a
  reader never finds a part of one; and only once the store's `download` checked the
  bytes against the ETag (on S3: their MD5, or the ETag unchanged across the read).
- A failure of the local disk under the copies (not a directory, unwritable, full) is
  `storage_unavailable` with reason `local_cache`; the path and the OS error go to the
  server's log, not to the caller.
- Copies stay until removed by hand; a replaced object's old copies go when its new one
  is made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from charter.core.storage._common import Md5s, ObjectInfo
from charter.errors import Unavailable

log = logging.getLogger("charter.storage")

_WORKERS = 8  # objects fetched at once
_MANIFEST = ".sha256"  # suffix of a copy's manifest
_READ = 8 << 20  # bytes read at once when hashing a copy


@dataclass(frozen=True, slots=True)
class Signature:
    """What changes when a file is written, replaced or touched: a copy whose signature is
    the one it had when verified still holds the verified bytes."""

    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, found: os.stat_result) -> Signature:
        return cls(found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


class LocalCopies:
    """Checked copies of a store's objects in a local directory."""

    def __init__(self, store: Any, root: Path) -> None:
        self.store = store  # an ObjectStore
        self.root = root
        self._verified: dict[str, Signature] = {}  # copies this process checked
        self._objects: dict[str, tuple[str, int]] = {}  # copy -> (key, size) it holds
        self._lock = threading.Lock()

    def fetch(self, wanted: list[tuple[str, int]]) -> list[str] | None:
        """Local paths holding the objects at the URIs of `wanted` (uri, expected size),
        in order, fetched at need; None if a URI is not in the store."""
        keys = [self.store.key_of(uri) for uri, _ in wanted]
        if any(k is None for k in keys):
            return None
        jobs = [(k, size) for k, (_, size) in zip(keys, wanted, strict=True)]
        if len(jobs) <= 1:
            paths = [self._copy(k, size) for k, size in jobs]
        else:
            with ThreadPoolExecutor(min(_WORKERS, len(jobs))) as pool:
                paths = list(pool.map(lambda job: self._copy(*job), jobs))
        return [str(p) for p in paths]

    def unchanged(self, paths: Iterable[str]) -> bool:
        """Whether each copy at `paths` is still the regular file this process verified
        (one `lstat` each, no hashing)."""
        return all(self._unchanged(p) for p in paths)

    def ensure(self, paths: Iterable[str]) -> None:
        """Fetch again, checked, each copy this process made or verified among `paths`
        that is no longer the file it verified (changed, replaced or removed since): run
        before the copies are read. Other paths (not copies) are left alone."""
        stale = [p for p in paths if p in self._objects and not self._unchanged(p)]
        for path in stale:
            log.warning("the local copy %s changed since it was verified: fetched again",
                        path)
            key, size = self._objects[path]
            if str(self._copy(key, size)) != path:
                raise Unavailable(f"object {key!r} was replaced outside Charter",
                                  code="storage_unavailable", reason="object_changed")

    def _unchanged(self, path: str) -> bool:
        try:
            found = os.lstat(path)
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode) and self._verified.get(path) == Signature.of(found)

    def _copy(self, key: str, size: int) -> Path:
        info = self.store.stat(key)
        self._check_size(key, info.size, size)
        path = self._path(key, info.etag)
        with self._local():
            found = self._check_copy(path, size, info.etag)
        if not found:
            path = self._download(key, size)
        with self._lock:
            self._objects[str(path)] = (key, size)
        return path

    def _path(self, key: str, etag: str) -> Path:
        name = hashlib.sha256(self.store.uri(key).encode()).hexdigest()
        tag = hashlib.sha256(etag.encode()).hexdigest()[:32]
        return self.root / name[:2] / f"{name}-{tag}{Path(key).suffix[:16]}"

    def _check_copy(self, path: Path, size: int, etag: str) -> bool:
        """Whether the copy at `path` may be read: a regular file of `size` bytes that this
        process verified, or that it verifies now (one hash). A copy that fails is removed."""
        try:
            found = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        signature = Signature.of(found)
        if stat.S_ISREG(found.st_mode) and found.st_size == size:
            if self._verified.get(str(path)) == signature:
                return True
            if self._hash_matches(path, signature, etag):
                self._remember(path, signature)
                return True
            log.warning("the local copy %s does not hold its object's bytes: fetched again",
                        path)
        else:
            log.warning("the local copy %s is not a regular file of %d bytes: fetched again",
                        path, size)
        _remove(path)
        _remove(_manifest(path))
        return False

    def _hash_matches(self, path: Path, signature: Signature, etag: str) -> bool:
        """Whether the bytes of the file at `path`, read through a descriptor that does not
        follow a symlink and has `signature`, are vouched for by the ETag or the manifest."""
        recorded = _read_manifest(path)
        by_manifest = recorded is not None and recorded[1] == signature
        if not by_manifest and not Md5s.may_match(etag):
            return False
        if by_manifest:
            return recorded is not None and _sha256(path, signature) == recorded[0]
        md5s = Md5s()
        return (_hash(path, signature, md5s) and md5s.size == signature.size
                and md5s.matches(etag))

    def _download(self, key: str, size: int) -> Path:
        folder = self._path(key, "").parent
        with self._local():
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                sink = _HashingSink(handle, self)
                got: ObjectInfo = self.store.download(key, sink)  # checks the bytes
                self._check_size(key, sink.md5s.size, size)
                with self._local():
                    handle.flush()
                    os.fsync(handle.fileno())
                    written = os.fstat(handle.fileno())
            path = self._path(key, got.etag)
            with self._local():
                os.replace(tmp, path)
                self._record(path, written, sink, got.etag)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._drop_others(path)
        return path

    def _record(self, path: Path, written: os.stat_result, sink: _HashingSink,
                etag: str) -> None:
        """Remember the new copy as verified; unless its ETag vouches for its bytes, write
        the manifest that lets another process verify it."""
        found = os.lstat(path)
        if (found.st_ino, found.st_dev) != (written.st_ino, written.st_dev):
            return  # replaced by another process's copy: verified on its first use
        signature = Signature.of(found)
        if sink.md5s.matches(etag):
            _remove(_manifest(path))
        else:  # rare (SSE-KMS, other part sizes): hashed again, for the manifest
            digest = _sha256(path, signature)
            if digest is None:
                return
            _write_manifest(path, digest, signature)
        self._remember(path, signature)

    def _remember(self, path: Path, signature: Signature) -> None:
        with self._lock:
            self._verified[str(path)] = signature

    def _drop_others(self, path: Path) -> None:
        """Remove the copies of the object's earlier versions, and their manifests."""
        name = path.name.split("-", 1)[0]
        keep = {path, _manifest(path)}
        for other in path.parent.glob(f"{name}-*"):
            if other not in keep:
                _remove(other)

    def _check_size(self, key: str, found: int, expected: int) -> None:
        if found != expected:
            raise Unavailable(f"object {key!r} has {found} bytes where {expected} were "
                              "recorded: it was changed outside Charter",
                              code="storage_unavailable", reason="object_changed")

    @contextlib.contextmanager
    def _local(self) -> Iterator[None]:
        """A failure of the local disk as `storage_unavailable` (reason `local_cache`),
        logged with its path; the caller is told no server path."""
        try:
            yield
        except OSError as exc:
            raise self.failure(exc) from None

    def failure(self, error: OSError) -> Unavailable:
        log.error("the lake's local copies under %s cannot be kept: %s", self.root, error)
        return Unavailable("the server cannot keep local copies of the lake's data files "
                           "(its lake cache folder failed: see the server's log)",
                           code="storage_unavailable", reason="local_cache")


class _HashingSink:
    """The file a copy is downloaded into, hashing what is written as S3 makes ETags; a
    failed write is the local cache's failure, not the store's."""

    def __init__(self, handle: Any, copies: LocalCopies) -> None:
        self.handle = handle
        self.copies = copies
        self.md5s = Md5s()

    def write(self, data: bytes) -> int:
        try:
            written = self.handle.write(data)
        except OSError as exc:
            raise self.copies.failure(exc) from None
        self.md5s.update(data)
        return written


def _hash(path: Path, signature: Signature, into: Any) -> bool:
    """Feed the bytes of the regular file at `path` to `into` (a hash), read through a
    descriptor that follows no symlink; False if the file is not one with `signature`
    from start to end (a symlink or FIFO put there since the lstat, or a change)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as source:
        if Signature.of(os.fstat(source.fileno())) != signature:
            return False
        while chunk := source.read(_READ):
            into.update(chunk)
        return Signature.of(os.fstat(source.fileno())) == signature


def _sha256(path: Path, signature: Signature) -> str | None:
    sha = hashlib.sha256()
    return sha.hexdigest() if _hash(path, signature, sha) else None


def _manifest(path: Path) -> Path:
    return path.with_name(path.name + _MANIFEST)


def _read_manifest(path: Path) -> tuple[str, Signature] | None:
    """(sha256, signature) the manifest of the copy at `path` records, if it is a readable
    regular file of the right form."""
    try:
        fd = os.open(_manifest(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as source:
            if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                return None
            body = json.loads(source.read(4096))
        return str(body["sha256"]), Signature(*(int(v) for v in body["signature"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_manifest(path: Path, sha256: str, signature: Signature) -> None:
    body = json.dumps({"sha256": sha256, "signature": list(astuple(signature))})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(body)
        os.replace(tmp, _manifest(path))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _remove(path: Path) -> None:
    """Remove whatever is at `path` (a file, symlink, FIFO or directory tree)."""
    try:
        found = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISDIR(found.st_mode):
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
