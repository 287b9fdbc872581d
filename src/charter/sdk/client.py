"""The SDK client: one method per operation, grouped by domain; errors become CharterError.

With a URL it talks HTTP to `charter server`; without one it runs the same REST app
in-process against CHARTER_HOME, so every call still goes through authentication,
Cedar authorization and the audit trail.
"""

from __future__ import annotations

import json as _json
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from charter.errors import CharterError, Invalid, error_from_dict
from charter.settings import Settings, load_settings

Json = Any


class Client:
    """A Charter API client.

    Args:
        url: server URL such as `http://127.0.0.1:8787`; None runs in-process.
        token: API token (`chr_...`).
        settings: platform settings for in-process mode (default: from CHARTER_* env).
        app: an already built Charter ASGI app to run in-process (shares its platform).
        source: recorded in the audit trail as the request source.
    """

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 settings: Settings | None = None, app: Any = None, source: str = "sdk",
                 timeout: float = 60.0, retries: int = 3, backoff: float = 0.5) -> None:
        headers = {"x-charter-source": source}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if url:
            self._http: httpx.Client = httpx.Client(base_url=url.rstrip("/"), headers=headers,
                                                    timeout=timeout)
        else:
            from charter.api.app import create_app

            with warnings.catch_warnings():  # starlette's notice about its httpx transport
                warnings.filterwarnings("ignore", message="Using `httpx` with")
                from fastapi.testclient import TestClient

            self._http = TestClient(app or create_app(settings or load_settings()),
                                    base_url="http://charter.local", headers=headers,
                                    raise_server_exceptions=False)
        self.url = url
        self.retries, self.backoff = retries, backoff
        self.org = _Org(self)
        self.accounts = _Accounts(self)
        self.users = _Users(self)
        self.groups = _Groups(self)
        self.permission_sets = _PermissionSets(self)
        self.assignments = _Assignments(self)
        self.tokens = _Tokens(self)
        self.controls = _Controls(self)
        self.audit = _Audit(self)
        self.lake = _Lake(self)

    def request(self, method: str, path: str, *, json: Json = None,
                params: dict[str, Any] | None = None,
                content: bytes | Iterable[bytes] | None = None, raw: bool = False,
                idempotency_key: str | None = None) -> Json:
        """Send one API request; raise the CharterError the server reported.

        A write sent with an idempotency key is sent again with the same key, up to
        `retries` times, when the server could not be reached or the answer was lost:
        the server runs it at most once (a body given as a one-pass iterator is not)."""
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
            return _answer(response, raw)
        raise AssertionError("not reached: the last attempt returns or raises")

    def healthz(self) -> Json:
        return self.request("GET", "/healthz")

    def whoami(self) -> Json:
        return self.request("GET", "/v1/identity/whoami")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def new_idempotency_key() -> str:
    """A fresh idempotency key: one per write meant to happen once."""
    return uuid.uuid4().hex


def _q(segment: str) -> str:
    """One path segment, percent-encoded: a name can never change the route it is sent to."""
    return quote(str(segment), safe="")


class _Part:
    def __init__(self, client: Client) -> None:
        self._c = client


class _Org(_Part):
    def tree(self) -> Json:
        return self._c.request("GET", "/v1/org/ous")

    def create_ou(self, path: str, description: str = "") -> Json:
        return self._c.request("POST", "/v1/org/ous", json={"path": path,
                                                            "description": description})

    def blueprints(self) -> Json:
        return self._c.request("GET", "/v1/org/blueprints")


class _Accounts(_Part):
    def create(self, name: str, *, ou: str, blueprint: str, tags: dict[str, str] | None = None,
               budget: float | None = None) -> Json:
        return self._c.request("POST", "/v1/accounts", json={
            "name": name, "ou": ou, "blueprint": blueprint, "tags": tags or {},
            "budget": budget})

    def list(self, *, ou: str | None = None, status: str | None = None, limit: int = 100,
             offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/accounts", params={
            "ou": ou, "status": status, "limit": limit, "offset": offset})

    def get(self, name: str) -> Json:
        return self._c.request("GET", f"/v1/accounts/{_q(name)}")

    def update(self, name: str, *, tags: dict[str, str] | None = None,
               remove_tags: list[str] | None = None, budget: float | None = None) -> Json:
        return self._c.request("PATCH", f"/v1/accounts/{_q(name)}", json={
            "tags": tags or {}, "remove_tags": remove_tags or [], "budget": budget})

    def close(self, name: str) -> Json:
        return self._c.request("POST", f"/v1/accounts/{_q(name)}/close")


class _Users(_Part):
    def create(self, name: str, *, groups: list[str] | None = None, display_name: str = "",
               email: str = "") -> Json:
        return self._c.request("POST", "/v1/identity/users", json={
            "name": name, "groups": groups or [], "display_name": display_name, "email": email})

    def list(self, *, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/identity/users",
                               params={"limit": limit, "offset": offset})


class _Groups(_Part):
    def create(self, name: str, *, description: str = "") -> Json:
        return self._c.request("POST", "/v1/identity/groups",
                               json={"name": name, "description": description})

    def list(self, *, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/identity/groups",
                               params={"limit": limit, "offset": offset})

    def add_member(self, group: str, user: str) -> Json:
        return self._c.request("PUT", f"/v1/identity/groups/{_q(group)}/members/{_q(user)}")

    def remove_member(self, group: str, user: str) -> Json:
        return self._c.request("DELETE", f"/v1/identity/groups/{_q(group)}/members/{_q(user)}")


class _PermissionSets(_Part):
    def list(self) -> Json:
        return self._c.request("GET", "/v1/identity/permission-sets")


class _Assignments(_Part):
    def create(self, *, permission_set: str, group: str | None = None, user: str | None = None,
               account: str | None = None, ou: str | None = None) -> Json:
        return self._c.request("POST", "/v1/identity/assignments", json={
            "permission_set": permission_set, "group": group, "user": user,
            "account": account, "ou": ou})

    def list(self, *, account: str | None = None, principal: str | None = None,
             limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/identity/assignments", params={
            "account": account, "principal": principal, "limit": limit, "offset": offset})

    def delete(self, assignment_id: str) -> Json:
        return self._c.request("DELETE", f"/v1/identity/assignments/{_q(assignment_id)}")


class _Tokens(_Part):
    def create(self, *, user: str | None = None, expires_in: str | None = None,
               description: str = "") -> Json:
        return self._c.request("POST", "/v1/identity/tokens", json={
            "user": user, "expires_in": expires_in, "description": description})

    def list(self, *, user: str | None = None, all: bool = False, limit: int = 100,
             offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/identity/tokens", params={
            "user": user, "all": all or None, "limit": limit, "offset": offset})

    def revoke(self, token_id: str) -> Json:
        return self._c.request("POST", f"/v1/identity/tokens/{_q(token_id)}/revoke")


class _Controls(_Part):
    def list(self) -> Json:
        return self._c.request("GET", "/v1/controls")

    def enable(self, control_id: str, *, ou: str | None = None,
               account: str | None = None) -> Json:
        return self._c.request("POST", f"/v1/controls/{_q(control_id)}/enablements",
                               json={"ou": ou, "account": account})

    def disable(self, control_id: str, *, ou: str | None = None,
                account: str | None = None) -> Json:
        return self._c.request("POST", f"/v1/controls/{_q(control_id)}/disable",
                               json={"ou": ou, "account": account})

    def findings(self, *, account: str | None = None, status: str = "open",
                 control: str | None = None, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/controls/findings", params={
            "account": account, "status": status, "control": control, "limit": limit,
            "offset": offset})

    def evaluate(self) -> Json:
        return self._c.request("POST", "/v1/controls/evaluate")


class _Audit(_Part):
    def events(self, *, account: str | None = None, principal: str | None = None,
               action: str | None = None, decision: str | None = None,
               since: str | None = None, until: str | None = None,
               request_id: str | None = None, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/audit/events", params={
            "account": account, "principal": principal, "action": action,
            "decision": decision, "since": since, "until": until, "request_id": request_id,
            "limit": limit, "offset": offset})

    def verify(self) -> Json:
        return self._c.request("POST", "/v1/audit/verify")

    def checkpoint(self) -> Json:
        """Sign the trail's head now; answers the new (or latest) checkpoint."""
        return self._c.request("POST", "/v1/audit/checkpoints")

    def checkpoints(self, *, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/audit/checkpoints",
                               params={"limit": limit, "offset": offset})

    def stop(self) -> Json:
        return self._c.request("POST", "/v1/audit/trail/stop")

    def delete(self, *, before: str | None = None) -> Json:
        return self._c.request("DELETE", "/v1/audit/events", params={"before": before})


class _Lake(_Part):
    def create_domain(self, name: str, *, account: str, description: str = "") -> Json:
        return self._c.request("POST", "/v1/lake/domains", json={
            "name": name, "account": account, "description": description},
            idempotency_key=new_idempotency_key())

    def domains(self) -> Json:
        return self._c.request("GET", "/v1/lake/domains")

    def create_database(self, account: str, name: str, *, description: str = "") -> Json:
        return self._c.request("POST", f"/v1/accounts/{_q(account)}/lake/databases",
                               json={"name": name, "description": description},
                               idempotency_key=new_idempotency_key())

    def tables(self, account: str, *, database: str | None = None) -> Json:
        return self._c.request("GET", f"/v1/accounts/{_q(account)}/lake/tables",
                               params={"database": database})

    def table(self, account: str, table: str) -> Json:
        return self._c.request("GET", _table_path(account, table))

    def snapshots(self, account: str, table: str) -> Json:
        return self._c.request("GET", _table_path(account, table) + "/snapshots")

    def add_rules(self, account: str, table: str, rules: list[str]) -> Json:
        return self._c.request("POST", _table_path(account, table) + "/rules",
                               json={"rules": rules}, idempotency_key=new_idempotency_key())

    def ingest(self, account: str, table: str, data: bytes | Iterable[bytes], *,
               format: str = "csv", mode: str = "append",
               schema: dict[str, Any] | None = None, evolve: bool = False,
               idempotency_key: str | None = None) -> Json:
        """Write CSV or Parquet bytes into `db.table` as one snapshot. `data` may be an
        iterable of chunks (a file read piece by piece, say, to show upload progress);
        nothing is written until the whole file has arrived.

        The write happens at most once per `idempotency_key` (default: a new one per
        call): sent again with the same key, after a lost answer, it returns the first
        write's report. This call resends it itself on a lost connection, unless `data`
        is a one-pass iterator."""
        return self._c.request("POST", _table_path(account, table) + "/ingest", params={
            "mode": mode, "format": format, "evolve": evolve or None,
            "schema": _json.dumps(schema) if schema is not None else None}, content=data,
            idempotency_key=idempotency_key or new_idempotency_key())

    def query(self, account: str, sql: str, *,
              snapshots: dict[str, int] | None = None) -> Any:
        """Run one governed SELECT; returns a `pyarrow.Table` (`.to_pandas()` for pandas)."""
        import pyarrow as pa

        data = self._c.request("POST", f"/v1/accounts/{_q(account)}/lake/query",
                               json={"sql": sql, "snapshots": snapshots or {}}, raw=True)
        return pa.ipc.open_stream(data).read_all()


    def grant(self, account: str, table: str | None = None, *, to: str,
              tags: str | None = None, columns: list[str] | None = None,
              exclude_columns: list[str] | None = None, row_filter: str | None = None,
              masks: dict[str, str] | None = None, grant_option: bool = False) -> Json:
        """Grant `db.table` (or columns whose tags match `tags`) to `group:G`, or share a
        table with `account:A`."""
        return self._c.request("POST", f"/v1/accounts/{_q(account)}/lake/grants", json={
            "table": table, "tags": tags, "to": to, "columns": columns,
            "exclude_columns": exclude_columns, "row_filter": row_filter,
            "masks": masks or {}, "grant_option": grant_option},
            idempotency_key=new_idempotency_key())

    def create_tag(self, key: str, values: list[str]) -> Json:
        return self._c.request("POST", "/v1/lake/tags", json={"key": key, "values": values},
                               idempotency_key=new_idempotency_key())

    def tag_keys(self) -> Json:
        return self._c.request("GET", "/v1/lake/tags")

    def assign_tag(self, account: str, resource: str, key: str, value: str) -> Json:
        """Tag `db`, `db.table` or `db.table.column` with key=value."""
        return self._c.request("POST", f"/v1/accounts/{_q(account)}/lake/tags",
                               json={"resource": resource, "key": key, "value": value},
                               idempotency_key=new_idempotency_key())

    def share(self, account: str, table: str, *, with_account: str, **policy: Any) -> Json:
        return self.grant(account, table, to=f"account:{with_account}", **policy)

    def grants(self, account: str, *, table: str | None = None) -> Json:
        return self._c.request("GET", f"/v1/accounts/{_q(account)}/lake/grants",
                               params={"table": table})

    def revoke(self, account: str, grant_id: str) -> Json:
        return self._c.request("DELETE",
                               f"/v1/accounts/{_q(account)}/lake/grants/{_q(grant_id)}",
                               idempotency_key=new_idempotency_key())


def _table_path(account: str, table: str) -> str:
    database, sep, name = table.partition(".")
    if not sep or not database or not name:
        raise Invalid(f"name the table as DB.TABLE, not {table!r}", code="invalid_table_name")
    return f"/v1/accounts/{_q(account)}/lake/tables/{_q(database)}/{_q(name)}"
