"""The MLflow adapter as one application mounted at `/mlflow`: routes, MLflow's error
shape for every refusal under it, and ENDPOINT_NOT_FOUND for what it does not serve."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp

from charter.api.middleware import record_refusal
from charter.api.mlflow import artifacts, models, registry, tracking
from charter.api.mlflow.deps import MlflowCtx
from charter.api.mlflow.errors import mlflow_error_response
from charter.core.context import Runtime
from charter.errors import CharterError, Invalid
from charter.org import service as org

info = APIRouter(prefix="/{account}/api/3.0/mlflow")

ROUTERS = (tracking.router, models.router, registry.router, artifacts.router, info)


@info.get("/server-info")
def server_info(account: str, ctx: MlflowCtx) -> dict[str, Any]:
    """What this tracking server offers: no multipart transfers, no workspaces."""
    org.get_account(ctx, account)
    return {"store_type": "Charter", "workspaces_enabled": False,
            "multipart_uploads_enabled": False, "multipart_downloads_enabled": False,
            "features_enabled": {}}


class _MountedApp(FastAPI):
    """An app mounted inside the platform's, whose failures the platform answers.

    Starlette puts its own error middleware outermost in every app: on an unexpected
    exception it answers a plain-text 500 and raises the exception again. Inside a mount,
    the platform's request middleware then finds the answer already started and cannot
    record the failure, and uvicorn drops the connection. Without it here, the exception
    reaches the platform's request middleware, which records it once and answers it in
    MLflow's shape on a connection the client keeps."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if not isinstance(stack, ServerErrorMiddleware):
            raise TypeError(f"expected Starlette's error middleware outermost, not {stack!r}")
        return stack.app


def create_mlflow_app(runtime: Runtime) -> FastAPI:
    """MLflow's REST protocol for every account, at `/mlflow/<account>`."""
    app = _MountedApp(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(CharterError)
    async def _charter_error(request: Request, error: CharterError) -> JSONResponse:
        return mlflow_error_response(await run_in_threadpool(record_refusal, request, error))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError
                               ) -> JSONResponse:
        return await _charter_error(request, Invalid(_problems(error.errors()),
                                                     code="invalid_request"))

    @app.exception_handler(ValidationError)
    async def _invalid_value(request: Request, error: ValidationError) -> JSONResponse:
        return await _charter_error(request, Invalid(_problems(error.errors()),
                                                     code="invalid_request"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return await _charter_error(request, not_served(request, error))

    return app


def _problems(errors: Any) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: "
                     f"{e['msg']}" for e in errors)


def not_served(request: Request, error: StarletteHTTPException) -> CharterError:
    """What an HTTP error on an MLflow path (no such route, no such method, a body that
    cannot be read) is refused as."""
    path = request.url.path
    if error.status_code in (404, 405):
        return CharterError(
            f"{request.method} {path} is not served by Charter's MLflow tracking server "
            "(tracking, logged models, the model registry and the artifact proxy are; see "
            "docs/mlflow.md)", code="route_not_found")
    if error.status_code == 400:
        return CharterError(f"{error.detail}: send the body as UTF-8 JSON",
                            code="malformed_body")
    return CharterError(str(error.detail), code="bad_request")
