"""Around every request: its id, a refusal of text the metadata store cannot hold, an audit
record for every refusal and failure, and event delivery once the answer starts.

Key contracts:
- Every request gets one line in the request log (`api.access_log`) once it is answered.
- Every request to a route that is not public gets an `x-request-id` as it arrives; its
  audit record (allowed, denied, refused or failed) carries that id.
- A NUL or lone surrogate anywhere in the path, query string or JSON body is refused
  (`invalid_text`, 422) before any route runs, so it never reaches the database.
- An unexpected exception is recorded (`outcome=error`) and answered with a 500 here,
  inside the server's own error middleware, so the connection is kept open: Starlette's
  `ServerErrorMiddleware` re-raises after answering, and uvicorn then drops it.
"""

from __future__ import annotations

import email.message
import json
import logging
import re
import time

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from charter.access.pipeline import audit_error, audit_rejected, audit_unauthenticated
from charter.api.access_log import log_request
from charter.api.deps import get_context
from charter.api.docs import ASSETS, REDOC_LOGO
from charter.api.mlflow.errors import is_mlflow_path, mlflow_error_response
from charter.core.context import Runtime
from charter.core.events import dispatch_pending
from charter.core.ids import new_request_id
from charter.core.text import invalid_text, refused, refused_in
from charter.errors import CharterError, TooLarge, Unauthenticated
from charter.identity import service as identity

log = logging.getLogger("charter.api")

PUBLIC_PATHS = {"/healthz", "/docs", "/redoc", REDOC_LOGO, "/openapi.json"}
# A JSON escape that decodes to NUL or to a surrogate; only bodies holding one are decoded.
_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
INTERNAL = {"code": "internal_error", "message": "internal error; the server log has the details"}


class RequestMiddleware:
    """Plain ASGI: Starlette's `BaseHTTPMiddleware` costs every request a task group and
    a body stream."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app, self.runtime = app, runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["request_id"] = new_request_id()
        arrived = time.perf_counter()
        started = False
        status = 500

        async def starting(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = state["request_id"]
                ctx = state.get("ctx")
                if ctx is not None and ctx.emitted and self.runtime.settings.dispatch_inline:
                    await run_in_threadpool(dispatch_pending, self.runtime)
                started = True
            await send(message)

        try:
            receive, problem = await _screen(scope, receive, self.runtime)
            if problem is None:
                await self.app(scope, receive, starting)
                return
            answer = await run_in_threadpool(record_refusal, Request(scope, receive), problem)
            await error_response(answer, scope["path"])(scope, receive, starting)
        except Exception as error:
            if started:
                raise  # the answer is under way: only dropping the connection can end it
            log.exception("internal error on %s", _route(scope))
            await run_in_threadpool(_record_failure, self.runtime, scope, error)
            internal = CharterError(INTERNAL["message"], code=INTERNAL["code"])
            await error_response(internal, scope["path"], status=500)(scope, receive, starting)
        finally:
            log_request(scope, status, (time.perf_counter() - arrived) * 1000)


def is_public(path: str) -> bool:
    """Whether a path answers without a token: health, the document and its viewers."""
    return path in PUBLIC_PATHS or path.startswith(ASSETS + "/")


def error_response(error: CharterError, path: str = "", *, status: int | None = None
                   ) -> JSONResponse:
    """The error as Charter answers it, or in MLflow's shape on an MLflow path."""
    if is_mlflow_path(path):
        return mlflow_error_response(error)
    return JSONResponse(jsonable_encoder(error.to_dict()),
                        status_code=status or error.http_status)


def record_refusal(request: Request, error: CharterError) -> CharterError:
    """Record a request refused outside any operation; returns the error to answer with.

    A request refused before authentication is authenticated now, so the record names who
    sent it; without a valid token the answer is that (recorded by authentication)."""
    state = request.state
    if (error.http_status >= 500 or is_public(request.url.path)
            or getattr(state, "recorded", False)):
        return error  # a 5xx here says the trail itself cannot be written
    ctx = getattr(state, "ctx", None)
    if ctx is None:
        try:
            ctx = get_context(request)
        except Unauthenticated as unauthenticated:
            return unauthenticated
    if not ctx.audited:
        try:
            # A kept token is confirmed by operations; this request met none, so its
            # token is read now: one revoked meanwhile is answered and recorded as such.
            identity.still_valid(ctx.runtime, ctx.principal)
        except Unauthenticated as gone:
            audit_unauthenticated(ctx.runtime, ctx.request_id, ctx.source,
                                  _route(request.scope), gone)
            ctx.audited = True
            return gone
        audit_rejected(ctx, _route(request.scope), error)
    return error


def _record_failure(runtime: Runtime, scope: Scope, error: Exception) -> None:
    state = scope["state"]
    ctx = state.get("ctx")
    if ctx is not None and ctx.audited:
        return  # the operation recorded its own failure
    principal, source = (ctx.principal.name, ctx.source) if ctx else ("anonymous", "api")
    try:
        audit_error(runtime, principal, state["request_id"], source, _route(scope), error)
    except Exception:
        log.exception("could not record the failed request %s", state["request_id"])


def _route(scope: Scope) -> str:
    return f"{scope['method']} {scope['path']}"


async def _screen(scope: Scope, receive: Receive, runtime: Runtime
                  ) -> tuple[Receive, CharterError | None]:
    """Look for text the store refuses and bound the body; a JSON body is read whole, then
    replayed."""
    if is_public(scope["path"]):
        return receive, None
    if refused(scope["path"]):
        return receive, invalid_text("path")
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:  # the only ways a query string decodes to NUL
        return receive, invalid_text("query string")
    settings = runtime.settings
    is_json = _is_json(scope)
    limit = settings.api.max_json_bytes if is_json else settings.api.max_body_bytes
    length = _content_length(scope)
    if length is not None and length > limit:
        return receive, _too_large(limit)
    if not is_json:
        # A body of unknown length is chunked; with neither header there is no body (a GET):
        # nothing to withhold, and the token is checked once, by the route.
        unbounded = length is None and _has_header(scope, b"transfer-encoding")
        if (unbounded or (length or 0) > _SMALL_BODY) and not await _signed_in(scope, runtime):
            return _withheld(receive), None  # answered 401 without reading what was sent
        return receive, None
    messages = await _read(receive, limit)
    if messages is None:
        return receive, _too_large(limit)
    body = b"".join(m.get("body", b"") for m in messages)
    replay = _replay(messages, receive)
    # json.loads reads UTF-8, -16 and -32 (UTF-16 and -32 hold NUL bytes) and lets raw
    # surrogate bytes through: decode whenever any of those, or an escape, is there.
    if _ESCAPE.search(body) or b"\x00" in body or _RAW_SURROGATE.search(body):
        try:
            if refused_in(json.loads(body)):
                return replay, invalid_text("JSON body")
        except (ValueError, RecursionError):
            pass  # not JSON: the route refuses it
    return replay, None


_SMALL_BODY = 2**20
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")


def _too_large(limit: int) -> CharterError:
    return TooLarge(f"the request body is larger than {limit} bytes, the most this server "
                    "accepts here (CHARTER_API_MAX_JSON_BYTES, CHARTER_API_MAX_BODY_BYTES)")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _has_header(scope: Scope, wanted: bytes) -> bool:
    return any(name == wanted for name, _ in scope.get("headers", ()))


async def _signed_in(scope: Scope, runtime: Runtime) -> bool:
    """Whether the request carries a valid token (checked again by the route)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                return False
            try:
                await run_in_threadpool(identity.authenticate, runtime, secret.strip())
            except CharterError:
                return False
            return True
    return False


def _withheld(receive: Receive) -> Receive:
    """The body as empty: the route refuses the request for its token before reading it."""
    sent = False

    async def empty() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return empty


def _is_json(scope: Scope) -> bool:
    """A body FastAPI decodes as JSON, decided as FastAPI decides it (an `application/json`
    or `application/...+json` content type, parsed as an email header, so the same
    whitespace is stripped); a body without a content type is taken as bytes."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            message = email.message.Message()
            message["content-type"] = value.decode("latin-1")
            if message.get_content_maintype() != "application":
                return False
            subtype = message.get_content_subtype()
            return subtype == "json" or subtype.endswith("+json")
    return False


async def _read(receive: Receive, limit: int) -> list[Message] | None:
    """The body's messages, or None once it passes `limit` bytes."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
