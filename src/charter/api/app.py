"""The FastAPI application: create_app(settings) wires routes, errors and event dispatch."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import charter
from charter.access.pipeline import audit_rejected
from charter.api.routes import audit, controls, identity, lake, org
from charter.api.runtime import build_runtime
from charter.core.context import Runtime
from charter.core.events import dispatch_pending
from charter.errors import CharterError, Invalid
from charter.settings import Settings

log = logging.getLogger("charter.api")

PUBLIC_PATHS = {"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the REST app for one platform; nothing is global, so tests can make many."""
    runtime = runtime or build_runtime(settings or Settings())
    app = FastAPI(
        title="Charter",
        version=charter.__version__,
        description="Governance for the machine-learning lifecycle: every call is "
        "authorized with Cedar and written to a hash-chained audit trail.",
    )
    app.state.runtime = runtime
    for module in (org, identity, controls, audit, lake):
        app.include_router(module.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: answers without a token."""
        return {"status": "ok", "version": charter.__version__}

    @app.exception_handler(CharterError)
    async def _charter_error(request: Request, error: CharterError) -> JSONResponse:
        await _audit_if_rejected(request, error)
        return JSONResponse(jsonable_encoder(error.to_dict()), status_code=error.http_status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
            for e in error.errors()
        )
        invalid = Invalid(problems, code="invalid_request")
        await _audit_if_rejected(request, invalid)
        return JSONResponse(invalid.to_dict(), status_code=422)

    @app.exception_handler(Exception)
    async def _internal(request: Request, error: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"code": "internal_error",
                             "message": "internal error; the server log has the details"},
                            status_code=500)

    app.add_middleware(_RequestEnd, runtime=runtime)
    return app


class _RequestEnd:
    """As a response starts: name the request in `x-request-id` and, with inline
    dispatch, deliver the events its operation emitted. Plain ASGI: Starlette's
    `BaseHTTPMiddleware` costs every request a task group and a body stream."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app, self.runtime = app, runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def starting(message: Message) -> None:
            if message["type"] == "http.response.start":
                request_id = state.get("request_id")
                if request_id:
                    MutableHeaders(scope=message)["x-request-id"] = request_id
                ctx = state.get("ctx")
                if ctx is not None and ctx.emitted and self.runtime.settings.dispatch_inline:
                    await run_in_threadpool(dispatch_pending, self.runtime)
            await send(message)

        await self.app(scope, receive, starting)


async def _audit_if_rejected(request: Request, error: CharterError) -> None:
    """Input refused before its operation ran still leaves a record (authenticated callers;
    unauthenticated ones are recorded by authentication)."""
    ctx = getattr(request.state, "ctx", None)
    if ctx is None or ctx.audited or error.http_status >= 500:
        return  # recorded already, or the trail itself is what failed
    await run_in_threadpool(audit_rejected, ctx, f"{request.method} {request.url.path}", error)
