"""FastAPI dependencies: the runtime and the authenticated request context."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from charter.access.pipeline import audit_unauthenticated
from charter.core.context import Context, Runtime
from charter.core.ids import new_request_id
from charter.core.pagination import MAX_CURSOR, MAX_LIMIT, MAX_OFFSET, PageParams
from charter.errors import Unauthenticated
from charter.identity import service as identity


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


# Declares the `bearer` scheme in the OpenAPI document (the Authorize button at /docs) on
# every operation that depends on get_context; the header itself is read by get_context,
# which the middleware also calls directly.
BEARER = HTTPBearer(scheme_name="bearer", bearerFormat="chr_...", auto_error=False,
                    description="An API token: `charter tokens create`, or the "
                    "administrator's from `charter init`.")
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def get_context(request: Request, _bearer: BearerDoc = None) -> Context:
    """Authenticate the bearer token; every route but /healthz depends on this."""
    runtime = get_runtime(request)
    # The server names every request (as it arrives: see api.middleware); a caller's own
    # id is kept beside it, never instead.
    request_id = getattr(request.state, "request_id", None) or new_request_id()
    request.state.request_id = request_id
    client_id = _header(request, "x-request-id")
    source = request.headers.get("x-charter-source", "api")
    source = source if source in SOURCES else "api"
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    route = f"{request.method} {request.url.path}"[:500]
    try:
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated("missing token: send `Authorization: Bearer <token>`",
                                  code="missing_token")
        principal, checked_at = identity.sign_in(runtime, secret.strip())
    except Unauthenticated as error:
        audit_unauthenticated(runtime, request_id, source, route, error)
        request.state.recorded = True
        raise
    ctx = Context(runtime, principal, request_id, source=source, client_request_id=client_id,
                  idempotency_key=request.headers.get("idempotency-key"),
                  credentials_at=checked_at, route=route)
    request.state.ctx = ctx
    return ctx


SOURCES = frozenset({"api", "cli", "sdk", "web"})
_SAFE_HEADER = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _header(request: Request, name: str) -> str | None:
    """A caller-chosen id recorded in the audit trail: short and plain, or ignored."""
    value = request.headers.get(name)
    return value if value and _SAFE_HEADER.fullmatch(value) else None


def get_page(limit: int = Query(100, ge=1, le=MAX_LIMIT, description="Items per page."),
             offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Items to skip."),
             cursor: str | None = Query(None, max_length=MAX_CURSOR,
                                        description="Start after the page that gave this "
                                        "`next_cursor`."),
             ) -> PageParams:
    return PageParams(limit=limit, offset=offset, cursor=cursor)


Ctx = Annotated[Context, Depends(get_context)]
PageDep = Annotated[PageParams, Depends(get_page)]
