"""Python SDK: `charter.Client(url, token)` speaks the REST API, remote or in-process."""

from charter.sdk.client import Client

__all__ = ["Client"]
