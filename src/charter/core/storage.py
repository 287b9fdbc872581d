"""Object store: content-addressed, atomic writes under a root (local directory backend)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from charter.errors import Invalid, NotFound


class ObjectStore(Protocol):
    """Contract every object backend keeps.

    - `put_bytes` is atomic: a reader sees the whole object or nothing, never a part.
    - `put_content` stores by sha256 and returns the key; writing the same bytes twice
      is a no-op that returns the same key.
    - Keys are relative, `/`-separated, and never escape the root (`..` is refused).
      A NUL byte or a backslash (a separator on some systems) is refused too.
    """

    def put_bytes(self, key: str, data: bytes) -> str: ...
    def put_content(self, prefix: str, data: bytes) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...


def account_prefix(account: str) -> str:
    """Every object of an account lives under `accounts/<account>/`."""
    return f"accounts/{account}"


class LocalObjectStore:
    """Objects as files under a directory; write to a temp file then rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if (not key or key.startswith("/") or "\x00" in key or "\\" in key
                or any(p in ("", ".", "..") for p in parts)):
            raise Invalid(f"invalid object key {key!r}", code="invalid_object_key")
        return self.root.joinpath(*parts)

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def put_content(self, prefix: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        key = f"{prefix}/sha256/{digest[:2]}/{digest}"
        if not self.exists(key):
            self.put_bytes(key, data)
        return key

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"object {key!r} does not exist", code="object_not_found") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def open_store(root: Path) -> ObjectStore:
    return LocalObjectStore(root)
