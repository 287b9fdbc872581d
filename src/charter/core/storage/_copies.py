"""Checked local copies of remote objects, for readers that can read local files only.

A governed lake query runs in a DuckDB that can open nothing but local files it is
allowed (docs/design.md, "Objects on S3"), so a snapshot's data files on S3 are read from
copies under CHARTER_HOME. Key contracts:
- A copy is named by its object's URI and entity tag (ETag): a replaced object has a new
  tag, so an old copy is never taken for it. Before a copy is used, the object's current
  tag is asked for (one HEAD request), and the object's and the copy's sizes must be the
  size the caller expects (the table's metadata records every data file's size).
- A copy is written to a temp file beside it, fsynced, then renamed into place, so a
  reader never finds a part of one; and only once the store's `download` checked the
  bytes against the ETag (on S3: their MD5, or the ETag unchanged across the read).
- Copies stay until removed by hand (with no server running); a replaced object's old
  copies go when its new one is made.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from charter.core.storage._common import ObjectInfo
from charter.errors import Unavailable

_WORKERS = 8  # objects fetched at once


class LocalCopies:
    """Checked copies of a store's objects in a local directory."""

    def __init__(self, store: Any, root: Path) -> None:
        self.store = store  # an ObjectStore
        self.root = root

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

    def _copy(self, key: str, size: int) -> Path:
        info = self.store.stat(key)
        self._check_size(key, info.size, size)
        path = self._path(key, info.etag)
        try:
            if path.stat().st_size == size:
                return path
        except FileNotFoundError:
            pass
        return self._download(key, size)

    def _path(self, key: str, etag: str) -> Path:
        name = hashlib.sha256(self.store.uri(key).encode()).hexdigest()
        tag = hashlib.sha256(etag.encode()).hexdigest()[:32]
        return self.root / name[:2] / f"{name}-{tag}{Path(key).suffix[:16]}"

    def _download(self, key: str, size: int) -> Path:
        folder = self._path(key, "").parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                got: ObjectInfo = self.store.download(key, handle)  # checks the bytes
                self._check_size(key, handle.tell(), size)
                handle.flush()
                os.fsync(handle.fileno())
            path = self._path(key, got.etag)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._drop_others(path)
        return path

    def _drop_others(self, path: Path) -> None:
        """Remove the copies of the object's earlier versions."""
        name = path.name.split("-", 1)[0]
        for other in path.parent.glob(f"{name}-*"):
            if other != path:
                with contextlib.suppress(FileNotFoundError):
                    other.unlink()

    def _check_size(self, key: str, found: int, expected: int) -> None:
        if found != expected:
            raise Unavailable(f"object {key!r} has {found} bytes where {expected} were "
                              "recorded: it was changed outside Charter",
                              code="storage_unavailable", reason="object_changed")
