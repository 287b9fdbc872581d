"""What every domain's SDK part shares: its base class, path segments, idempotency keys."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from charter.sdk.client import Client

Json = Any


class Part:
    """A group of calls of one domain, attached to a `Client` under its name."""

    def __init__(self, client: Client) -> None:
        self._c = client


def q(segment: str) -> str:
    """One path segment, percent-encoded: a name can never change the route it is sent to."""
    return quote(str(segment), safe="")


def new_idempotency_key() -> str:
    """A fresh idempotency key: one per write meant to happen once."""
    return uuid.uuid4().hex
