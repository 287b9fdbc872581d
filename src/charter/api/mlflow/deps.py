"""The MLflow client's credentials: MLFLOW_TRACKING_TOKEN arrives as a Bearer token, the
usual Charter principal; a username and password (Basic) are refused."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from charter.access.pipeline import audit_unauthenticated
from charter.api.deps import get_context, get_runtime
from charter.core.context import Context
from charter.errors import Unauthenticated


def mlflow_context(request: Request) -> Context:
    """Authenticate as `/v1` does; a Basic header gets a message saying what to send."""
    scheme, _, _ = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        error = Unauthenticated(
            "Charter does not take a username and password: unset MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD and set MLFLOW_TRACKING_TOKEN to a Charter API "
            "token", code="basic_auth_refused")
        audit_unauthenticated(get_runtime(request), request.state.request_id, "api",
                              f"{request.method} {request.url.path}"[:500], error)
        request.state.recorded = True
        raise error
    return get_context(request)


MlflowCtx = Annotated[Context, Depends(mlflow_context)]
