"""Idempotency keys: a write retried with its key returns its first result, once.

Key contracts:
- `@idempotent` goes under `@operation`: it runs inside the operation's transaction, after
  authorization, so the key row and the write's effect (and its audit record) commit
  together or not at all. A write that failed or never committed left no key, and its
  retry runs again.
- Keys are per principal (`ctx.idempotency_key`, from the `Idempotency-Key` header). The
  same key with another request (another operation, or other arguments) is refused with
  `idempotency_key_reused`; a retry of the same request returns the stored result, and
  its audit record names the request that made it (`idempotent_replay_of`).
- Two requests with one key wait for each other (a lock on the key), so the second sees
  the first's result, never runs beside it.
- Keys are kept `CHARTER_IDEMPOTENCY_KEY_HOURS`; a principal's expired keys are removed
  when it stores a new one.
"""

from __future__ import annotations

import functools
import json
import re
import typing
from collections.abc import Callable
from datetime import timedelta
from hashlib import sha256
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import delete

from charter.access.orm import IdempotencyKey
from charter.core import faults
from charter.core.clock import now
from charter.core.context import Context
from charter.core.db import lock
from charter.core.text import escaped
from charter.errors import Conflict, Invalid

P = ParamSpec("P")
R = TypeVar("R")

KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
STORED = "operation.result_stored"  # fault point: key and result stored, no audit record yet


def idempotent(fn: Callable[P, R]) -> Callable[P, R]:
    """Let the write operation `fn` take an idempotency key (apply under `@operation`)."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    adapters: list[TypeAdapter[Any]] = []  # of the return type, made on first use

    def adapter() -> TypeAdapter[Any]:
        if not adapters:
            adapters.append(TypeAdapter(typing.get_type_hints(fn)["return"]))
        return adapters[0]

    @functools.wraps(fn)
    def wrapper(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        # A nested operation is part of this request's one write: it takes no key.
        key, ctx.idempotency_key = ctx.idempotency_key, None
        try:
            if key is None:
                return fn(ctx, *args, **kwargs)  # type: ignore[arg-type]
            return _once(ctx, key, name, adapter, lambda: fn(ctx, *args, **kwargs),
                         _fingerprint(name, args, kwargs))
        finally:
            ctx.idempotency_key = key

    return wrapper  # type: ignore[return-value]


def _once(ctx: Context, key: str, name: str, adapter: Callable[[], TypeAdapter[Any]],
          run: Callable[[], Any], fingerprint: str) -> Any:
    if not KEY.fullmatch(key):
        ctx.audit_details["idempotency_key"] = escaped(key[:200])
        raise Invalid("an idempotency key is 1 to 128 letters, digits and . _ : -",
                      code="invalid_idempotency_key")
    principal = ctx.principal.name
    lock(ctx.db, f"idempotency:{principal}:{key}")
    found = ctx.db.get(IdempotencyKey, (principal, key))
    cutoff = now() - timedelta(hours=ctx.settings.idempotency_key_hours)
    if found is not None and found.created_at < cutoff:
        ctx.db.delete(found)
        ctx.db.flush()
        found = None
    ctx.audit_details["idempotency_key"] = key
    if found is not None:
        if (found.operation, found.fingerprint) != (name, fingerprint):
            raise Conflict(f"idempotency key {key} was used for another request "
                           f"({found.request_id}); send a new key with a new request",
                           code="idempotency_key_reused", request_id=found.request_id)
        ctx.audit_details["idempotent_replay_of"] = found.request_id
        return adapter().validate_python(found.result["value"])
    result = run()
    ctx.db.execute(delete(IdempotencyKey).where(IdempotencyKey.principal == principal,
                                                IdempotencyKey.created_at < cutoff))
    ctx.db.add(IdempotencyKey(
        principal=principal, key=key, operation=name, fingerprint=fingerprint,
        result={"value": adapter().dump_python(result, mode="json")},
        request_id=ctx.request_id, created_at=now()))
    ctx.db.flush()
    faults.reach(ctx.settings.fault_point, STORED)
    return result


def _fingerprint(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """sha256 of the operation and its arguments: bytes by their own sha256, models as
    their JSON."""
    text = json.dumps([name, args, kwargs], default=_canonical, sort_keys=True,
                      separators=(",", ":"))
    return sha256(text.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": sha256(value).hexdigest()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"an idempotent operation's argument cannot be a {type(value).__name__}")
