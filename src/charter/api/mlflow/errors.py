"""MLflow's error shape: `{"error_code", "message"}` with the codes the MLflow client
branches on, for every refusal on an MLflow path (a route's, the middleware's, the
server's).

Key contracts:
- The status follows MLflow's code (RESOURCE_ALREADY_EXISTS is a 400, as MLflow answers
  it), so the client's retry and create-if-missing logic works unchanged.
- Charter's own stable code travels beside MLflow's as `charter_code`.
"""

from __future__ import annotations

import math

from starlette.responses import JSONResponse

from charter.errors import (
    CharterError,
    Conflict,
    ControlViolation,
    Denied,
    Invalid,
    LockedOut,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)

PREFIX = "/mlflow"

STATUS = {
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_STATE": 400,
    "BAD_REQUEST": 400,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "TEMPORARILY_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}

# Checked in order: a subclass before its base.
_BY_CLASS: tuple[tuple[type[CharterError], str], ...] = (
    (LockedOut, "INVALID_STATE"),
    (ControlViolation, "INVALID_PARAMETER_VALUE"),
    (Invalid, "INVALID_PARAMETER_VALUE"),
    (TooLarge, "INVALID_PARAMETER_VALUE"),
    (NotFound, "RESOURCE_DOES_NOT_EXIST"),
    (Denied, "PERMISSION_DENIED"),
    (Unauthenticated, "UNAUTHENTICATED"),
    (TooManyRequests, "REQUEST_LIMIT_EXCEEDED"),
    (Unavailable, "TEMPORARILY_UNAVAILABLE"),
)
_BY_CODE = {"route_not_found": "ENDPOINT_NOT_FOUND", "method_not_allowed": "ENDPOINT_NOT_FOUND",
            "internal_error": "INTERNAL_ERROR"}


def is_mlflow_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def mlflow_code(error: CharterError) -> str:
    """MLflow's error code for a Charter error."""
    if error.code in _BY_CODE:
        return _BY_CODE[error.code]
    if isinstance(error, Conflict):
        return "RESOURCE_ALREADY_EXISTS" if error.code.endswith("_exists") else "INVALID_STATE"
    for cls, code in _BY_CLASS:
        if isinstance(error, cls):
            return code
    return "INTERNAL_ERROR" if error.http_status >= 500 else "BAD_REQUEST"


def mlflow_error_response(error: CharterError) -> JSONResponse:
    code = mlflow_code(error)
    body = {"error_code": code, "message": error.message, "charter_code": error.code}
    return JSONResponse(body, status_code=STATUS[code])


def finite_or_text(value: float) -> float | str:
    """A metric value as MLflow's protobuf JSON writes a double that is not finite."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
