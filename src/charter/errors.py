"""The CharterError tree: every failure a user can cause, with a stable code and HTTP status."""

from __future__ import annotations

from typing import Any, ClassVar


class CharterError(Exception):
    """Base of every error Charter reports to a user.

    `code` is stable and documented; `message` says what went wrong and what to do.
    """

    http_status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class Invalid(CharterError):
    http_status = 422
    default_code = "invalid"


class NotFound(CharterError):
    http_status = 404
    default_code = "not_found"


class Conflict(CharterError):
    http_status = 409
    default_code = "conflict"


class Unauthenticated(CharterError):
    http_status = 401
    default_code = "unauthenticated"


class Denied(CharterError):
    http_status = 403
    default_code = "denied"


class ControlViolation(CharterError):
    """A proactive control refused the proposed resource."""

    http_status = 422
    default_code = "control_violation"


class LockedOut(ControlViolation):
    """Refused because the change would leave nobody able to administer the platform.

    A refusal of the platform's own rule, recorded as `refused` like a control's; a
    conflict with the current state, so 409.
    """

    http_status = 409
    default_code = "last_administrator"


class TooManyRequests(CharterError):
    """The caller, or everyone together, already runs as much of this work as is allowed."""

    http_status = 429
    default_code = "too_many_requests"


class TooLarge(CharterError):
    """The request's body is larger than the server accepts."""

    http_status = 413
    default_code = "body_too_large"


class Unavailable(CharterError):
    """The platform cannot safely serve the request (e.g. its audit trail is damaged)."""

    http_status = 503
    default_code = "unavailable"


ERRORS_BY_STATUS: dict[int, type[CharterError]] = {
    cls.http_status: cls
    for cls in (Invalid, NotFound, Conflict, Unauthenticated, Denied, TooManyRequests,
                TooLarge, Unavailable)
}


def error_from_dict(status: int, body: dict[str, Any]) -> CharterError:
    """Rebuild the CharterError an API answer describes (used by the SDK)."""
    code = body.get("code", "error")
    if code == "control_violation":
        cls: type[CharterError] = ControlViolation
    else:
        cls = ERRORS_BY_STATUS.get(status, CharterError)
    return cls(body.get("message", f"HTTP {status}"), code=code, **(body.get("details") or {}))
