"""Python SDK: `charter.Client(url, token)` speaks the REST API, remote or in-process."""

from charter.sdk.client import Client, new_idempotency_key

__all__ = ["Client", "new_idempotency_key"]
