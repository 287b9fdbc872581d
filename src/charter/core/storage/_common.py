"""What every object backend shares: object keys, content addresses, object facts."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from charter.errors import Invalid

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # NUL, CR, LF, tab, DEL, ...


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
