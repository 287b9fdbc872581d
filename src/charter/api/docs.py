"""Swagger UI at /docs and ReDoc at /redoc, served from packaged assets so both render offline."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

# Swagger UI (Apache-2.0) and ReDoc (MIT) as released, with their licences, in the
# fastapi-standalone-docs package; only its files are used, not its patching of FastAPI.
ASSETS = "/docs/assets"
REDOC_LOGO = "/redoc/logo-mini.svg"  # where the packaged ReDoc looks for its logo


def assets_dir() -> Path:
    return Path(str(resources.files("fastapi_standalone_docs") / "static"))


def add_docs(app: FastAPI) -> None:
    """Serve /docs, /redoc and their scripts, styles and icon from this server alone."""
    static = assets_dir()
    app.mount(ASSETS, StaticFiles(directory=static), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/fastapi/favicon.png",
            # No badge fetched from the public validator: nothing leaves this server. The
            # operation ids are the SDK's call names (`accounts_list`): shown.
            swagger_ui_parameters={"validatorUrl": None, "displayOperationId": True})

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=root + openapi_url, title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/fastapi/favicon.png", with_google_fonts=False)

    @app.get(REDOC_LOGO, include_in_schema=False)
    def redoc_logo() -> FileResponse:
        return FileResponse(static / "redoc" / "logo-mini.svg", media_type="image/svg+xml")


def _root(request: Request) -> str:
    """The prefix a proxy serves the app under (`uvicorn --root-path`), or ""."""
    return str(request.scope.get("root_path", "")).rstrip("/")
