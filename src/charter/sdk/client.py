"""The SDK client: the transport, retries and errors; each domain's calls are its part.

With a URL it talks HTTP to `charter server`; without one it runs the same REST app
in-process against CHARTER_HOME, so every call still goes through authentication,
Cedar authorization and the audit trail. The calls of domain `x` live in
`charter.sdk.x`, whose `PARTS` names the client attributes they are reached by
(`client.accounts`, `client.lake`, ...); the client attaches those of every domain in
`charter.domains` that has an SDK part.
"""

from __future__ import annotations

import importlib
import re
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from charter.domains import domain_names
from charter.errors import CharterError, Invalid, error_from_dict
from charter.identity.schemas import WhoAmI
from charter.sdk._part import Json, new_idempotency_key
from charter.settings import Settings, load_settings

if TYPE_CHECKING:
    from charter.sdk.audit import Audit
    from charter.sdk.controls import Controls
    from charter.sdk.experiments import ActiveRun, Experiments, Runs
    from charter.sdk.identity import Assignments, Groups, PermissionSets, Tokens, Users
    from charter.sdk.lake import Lake
    from charter.sdk.org import Accounts, Org
    from charter.sdk.registry import Models

__all__ = ["Client", "new_idempotency_key"]


class Client:
    """A Charter API client.

    Args:
        url: the server's root, such as `http://127.0.0.1:8787` (no path, query or
            credentials); None runs in-process on an initialised platform.
        token: API token (`chr_...`).
        settings: platform settings for in-process mode (default: from CHARTER_* env).
        app: an already built Charter ASGI app to run in-process (shares its platform).
        source: recorded in the audit trail as the request source.

    Attributes:
        org: the OU tree and the blueprints accounts are vended from (`Org`).
        accounts: vend, list, describe, update and close accounts (`Accounts`).
        users: the organisation's users (`Users`).
        groups: groups of users and their members (`Groups`).
        permission_sets: the built-in permission sets, one per persona (`PermissionSets`).
        assignments: permission sets given to users or groups where (`Assignments`).
        tokens: API tokens: create, list, revoke (`Tokens`).
        controls: the control library, enablements and findings (`Controls`).
        audit: the audit trail: events, verify, checkpoints (`Audit`).
        lake: the data lake: domains, tables, ingestion, governed queries, grants,
            tags (`Lake`).
        experiments: experiments, named groups of runs (`Experiments`).
        runs: runs: start, log, search, compare, artifacts (`Runs`).
        active_runs: the runs started with `runs.start(...)` whose block is open, the
            innermost last: a lake query records its inputs to that one.
        models: the model registry: model groups, versions, approval, and scikit-learn
            models registered and loaded safely (`Models`).
    """

    # Attached in __init__ from each domain's `charter.sdk.<domain>.PARTS`.
    org: Org
    accounts: Accounts
    users: Users
    groups: Groups
    permission_sets: PermissionSets
    assignments: Assignments
    tokens: Tokens
    controls: Controls
    audit: Audit
    lake: Lake
    experiments: Experiments
    runs: Runs
    models: Models

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 settings: Settings | None = None, app: Any = None, source: str = "sdk",
                 timeout: float = 60.0, retries: int = 3, backoff: float = 0.5) -> None:
        headers = {"x-charter-source": source}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if url:
            url = _server_url(url)
            self._http: httpx.Client = httpx.Client(base_url=url, headers=headers,
                                                    timeout=timeout)
        else:
            from charter.api.app import create_app
            from charter.platform.runtime import require_initialized

            with warnings.catch_warnings():  # starlette's notice about its httpx transport
                warnings.filterwarnings("ignore", message="Using `httpx` with")
                from fastapi.testclient import TestClient

            own = None
            if app is None:
                settings = settings or load_settings()
                require_initialized(settings)  # before the platform makes any file
                own = create_app(settings)
            self._own_app = own  # built here: its platform is closed with this client
            self._http = TestClient(app or own, base_url="http://charter.local",
                                    headers=headers, raise_server_exceptions=False)
        self.url = url
        self.retries, self.backoff = retries, backoff
        self.active_runs: list[ActiveRun] = []
        for domain in domain_names(sdk=True):
            module = importlib.import_module(f"charter.sdk.{domain}")
            for attribute, part in module.PARTS.items():
                setattr(self, attribute, part(self))

    def request(self, method: str, path: str, *, json: Json = None,
                params: dict[str, Any] | None = None,
                content: bytes | Iterable[bytes] | None = None, raw: bool = False,
                idempotency_key: str | None = None, with_headers: bool = False) -> Json:
        """Send one API request; raise the CharterError the server reported.

        A write sent with an idempotency key is sent again with the same key, up to
        `retries` times, when the server could not be reached or the answer was lost:
        the server runs it at most once (a body given as a one-pass iterator is not).
        `with_headers`: answer (body, response headers)."""
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        headers = {"content-type": "application/octet-stream"} if content is not None else {}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        again = self.retries if idempotency_key and not isinstance(content, Iterator) else 0
        for attempt in range(again + 1):
            try:
                response = self._http.request(method, path, json=json, params=params,
                                              content=content, headers=headers)
            except httpx.TransportError as exc:
                if attempt < again:
                    time.sleep(self.backoff * 2 ** attempt)
                    continue
                raise CharterError(f"cannot reach Charter at {self.url}: {exc}",
                                   code="unreachable") from None
            except httpx.HTTPError as exc:
                raise CharterError(f"cannot reach Charter at {self.url}: {exc}",
                                   code="unreachable") from None
            except ValueError as exc:  # e.g. inf or nan, which JSON cannot carry
                raise Invalid(f"cannot send this request: {exc}",
                              code="invalid_request") from None
            if response.status_code in _GATEWAY and attempt < again:
                time.sleep(self.backoff * 2 ** attempt)
                continue
            answer = _answer(response, raw)
            return (answer, response.headers) if with_headers else answer
        raise AssertionError("not reached: the last attempt returns or raises")

    def healthz(self) -> Json:
        """Whether the server answers, and its version (no token needed)."""
        return self.request("GET", "/healthz")

    def whoami(self) -> WhoAmI:
        """Who the token belongs to: the user, the token's id, groups and assignments."""
        return WhoAmI.model_validate(self.request("GET", "/v1/identity/whoami"))

    def close(self) -> None:
        """Close the connection; in-process, also the platform this client started (its
        database connections and query engines)."""
        self._http.close()
        own = getattr(self, "_own_app", None)
        if own is not None:
            self._own_app = None
            own.state.runtime.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _server_url(url: str) -> str:
    """The root of the Charter server `url` names (http or https, a host, a numeric port),
    else Invalid `invalid_url` saying what is wrong with it, never with a secret it holds.

    A user name or password is refused (httpx would send it as Basic auth in place of the
    token), and so are a path, a query and a fragment: routes are absolute (`/v1/...`), so
    any of them would only send requests where no route is."""
    if "@" in url:  # the userinfo is not echoed: its password may hold any character
        raise Invalid("the server URL carries a user name or password, which Charter does "
                      "not use: give the server as http://HOST:PORT and the token on its own "
                      "(CHARTER_TOKEN, --token or the client's token=)", code="invalid_url")
    shown = re.split(r"[?#]", url, maxsplit=1)[0]  # a query may hold a secret too
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Invalid(f"{shown!r} is not a server URL: {exc}", code="invalid_url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Invalid(f"{shown!r} is not a server URL: write it as http://HOST:PORT or "
                      "https://HOST", code="invalid_url")
    if parsed.path.rstrip("/") or parsed.query or parsed.fragment or "?" in url or "#" in url:
        raise Invalid(f"{shown!r} is not a server URL: give the server's root, "
                      "http://HOST:PORT or https://HOST, without a path (such as /v1), query "
                      "or fragment",
                      code="invalid_url")
    return str(httpx.URL(scheme=parsed.scheme, host=parsed.host, port=parsed.port))


_GATEWAY = (502, 504)  # a proxy lost the server: the request may not have arrived


def _answer(response: httpx.Response, raw: bool) -> Json:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"code": "http_error", "message": response.text[:500] or
                    f"HTTP {response.status_code}"}
        if response.status_code >= 500:
            body.setdefault("code", "internal_error")
        raise error_from_dict(response.status_code, body)
    if raw:
        return response.content
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


