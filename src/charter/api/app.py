"""The FastAPI application: create_app(settings) wires routes, errors and event dispatch."""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import charter
from charter.api.docs import add_docs
from charter.api.middleware import PUBLIC_PATHS, RequestMiddleware, error_response, record_refusal
from charter.api.mlflow.app import create_mlflow_app, not_served
from charter.api.mlflow.errors import is_mlflow_path
from charter.api.openapi import add_openapi, operation_id
from charter.core.context import Runtime
from charter.domains import domain_names
from charter.errors import CharterError, Invalid
from charter.platform.runtime import build_runtime
from charter.settings import Settings, load_settings

__all__ = ["PUBLIC_PATHS", "create_app", "domain_routers", "serve_app"]


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the REST app for one platform; nothing is global, so tests can make many."""
    runtime = runtime or build_runtime(settings or load_settings())
    app = FastAPI(
        title="Charter",
        version=charter.__version__,
        description="Governance for the machine-learning lifecycle: every call is "
        "authorized with Cedar and written to a hash-chained audit trail. Send a token "
        "as `Authorization: Bearer <token>` (`charter tokens create`); every error is "
        "answered as `{code, message, details}`.",
        docs_url=None, redoc_url=None,  # served from packaged assets: api.docs
        generate_unique_id_function=operation_id,
    )
    app.state.runtime = runtime
    # MLflow's protocol (docs/mlflow.md) first: routes are matched in order, and the
    # tracking calls training jobs send all day should not be tried against every route.
    app.mount("/mlflow", create_mlflow_app(runtime))
    for router in domain_routers():
        app.include_router(router)
    add_docs(app)
    add_openapi(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: answers without a token."""
        return {"status": "ok", "version": charter.__version__}

    @app.exception_handler(CharterError)
    async def _charter_error(request: Request, error: CharterError) -> JSONResponse:
        return error_response(await run_in_threadpool(record_refusal, request, error))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
            for e in error.errors()
        )
        invalid = Invalid(problems, code="invalid_request")
        return error_response(await run_in_threadpool(record_refusal, request, invalid))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # A path under /mlflow that the mount cannot match (a newline in it, say) reaches
        # this app's 404: it is answered as the MLflow app answers what it does not serve.
        mlflow = is_mlflow_path(request.url.path)
        refusal = (not_served(request, error) if mlflow
                   else _http_refusal(request, error.status_code, str(error.detail)))
        answer = await run_in_threadpool(record_refusal, request, refusal)
        if answer is not refusal or mlflow:
            return error_response(answer, request.url.path)
        return JSONResponse(refusal.to_dict(), status_code=error.status_code,
                            headers=error.headers)

    # Inside Starlette's error middleware, which would answer a failure and then re-raise
    # it (uvicorn then drops the connection): this one answers and records it instead.
    app.add_middleware(RequestMiddleware, runtime=runtime)
    return app


def serve_app() -> FastAPI:
    """The app of one worker process of `charter server --workers N`: its own platform over
    the settings in the environment, its request log, its thread switch interval."""
    import sys

    from charter.api.access_log import configure_access_log

    settings = load_settings()
    sys.setswitchinterval(settings.api.switch_interval)
    configure_access_log(settings.api.log_format)
    _, each = connection_shares(settings.database_connections, settings.api.workers)
    return create_app(runtime=build_runtime(settings, connections=each))


# The process that serves no request but delivers events and signs checkpoints.
PARENT_CONNECTIONS = 4


def connection_shares(total: int, workers: int) -> tuple[int, int]:
    """(the parent's, each worker's) database connections when `charter server` runs
    `workers` worker processes within `total` (CHARTER_DATABASE_CONNECTIONS); one worker
    is the parent itself."""
    if workers == 1:
        return total, total
    return PARENT_CONNECTIONS, max(4, (total - PARENT_CONNECTIONS) // workers)


def domain_routers() -> list[APIRouter]:
    """The router of every domain with a REST API, in the order of `charter.domains`."""
    return [importlib.import_module(f"charter.api.routes.{name}").router
            for name in domain_names(api=True)]


def _http_refusal(request: Request, status: int, detail: str) -> CharterError:
    """No such route, a method the route lacks, a body that cannot be read: a stable code."""
    if status == 404:
        return CharterError(f"no route {request.url.path}: the routes are listed at /docs",
                            code="route_not_found")
    if status == 405:
        return CharterError(f"{request.method} is not a method of {request.url.path}: see "
                            "/docs", code="method_not_allowed")
    return CharterError(f"{detail}: send the body as UTF-8 JSON" if status == 400 else detail,
                        code="malformed_body" if status == 400 else "bad_request")
