"""Around every request: a NUL or lone surrogate anywhere is refused (`invalid_text`) before
it reaches the database, on either backend; every refused or failed request has an audit
record under the `x-request-id` the server answered; a 500 keeps the connection open."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from .conftest import one_record

ESCALATION = {"permission_set": "cloud-admin", "user": "admin", "ou": "/"}


def _send(client, method: str, path: str, *, params=None, body=None):
    """Send `body` as JSON with escapes (`\\u0000`, `\\udc80`), as an attacker's tool does."""
    content = json.dumps(body) if body is not None else None
    return client._http.request(method, path, params=params, content=content,
                                headers={"content-type": "application/json"})


@pytest.fixture
def viewer(platform):
    """A cost viewer across the organisation: signed in, allowed to read costs only."""
    platform.vend("team-a-dev")
    client, _ = platform.user("carl")
    platform.admin.assignments.create(permission_set="cost-viewer", user="carl", ou="/")
    return platform, client


TEXT_CASES = {
    "escalation-body": ("POST", "/v1/identity/assignments", None,
                        {**ESCALATION, "user": "admin\x00"}),
    "surrogate-body": ("POST", "/v1/identity/users", None, {"name": "ann\udc80"}),
    "nul-in-key": ("PATCH", "/v1/accounts/team-a-dev", None, {"tags": {"owner\x00": "x"}}),
    "nested-body": ("POST", "/v1/accounts/team-a-dev/lake/query", None,
                    {"sql": "SELECT 1", "snapshots": {"a": 1}, "x": [[["\x00"]]]}),
    "path": ("GET", "/v1/accounts/team-a%00dev", None, None),
    "audit-filter": ("GET", "/v1/audit/events", {"principal": "adm\x00in"}, None),
    "since": ("GET", "/v1/audit/events", {"since": "\x00"}, None),
    "sql": ("POST", "/v1/accounts/team-a-dev/lake/query", None, {"sql": "SELECT 1 -- \x00"}),
}


@pytest.mark.parametrize("case", TEXT_CASES.values(), ids=TEXT_CASES.keys())
def test_text_the_store_refuses_is_refused_and_recorded(viewer, case):
    platform, carl = viewer
    method, path, params, body = case
    answer = _send(carl, method, path, params=params, body=body)
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_text")
    record = one_record(platform, answer)
    assert (record.principal, record.action, record.error_code) == (
        "carl", "api:RejectRequest", "invalid_text")
    assert "\x00" not in record.resource


def test_the_escalation_attempt_is_recorded_with_or_without_nul(viewer):
    platform, carl = viewer
    denied = _send(carl, "POST", "/v1/identity/assignments", body=ESCALATION)
    assert denied.status_code == 403
    assert one_record(platform, denied).decision == "deny"
    refused = _send(carl, "POST", "/v1/identity/assignments",
                    body={**ESCALATION, "user": "admin\x00"})
    assert refused.status_code == 422
    assert one_record(platform, refused).principal == "carl"
    assert platform.admin.audit.verify()["ok"]


@pytest.mark.parametrize("token", [None, "chr_guessed"], ids=["no-token", "guessed-token"])
def test_an_unauthenticated_request_with_nul_is_recorded_with_it_escaped(platform, token):
    client = platform.client(token)
    answer = _send(client, "POST", "/v1/identity/assignments%00x",
                   body={**ESCALATION, "user": "admin\x00"})
    assert answer.status_code == 401
    record = one_record(platform, answer)
    assert (record.principal, record.action) == ("anonymous", "identity:Authenticate")
    assert record.resource == "POST /v1/identity/assignments\\x00x"
    assert platform.admin.audit.verify()["ok"]


REFUSALS = {
    "no-route": ("GET", "/v1/no-such-thing", None, 404, "route_not_found"),
    "no-method": ("PUT", "/v1/audit/events", None, 405, "method_not_allowed"),
    "not-utf8": ("POST", "/v1/identity/users", b'{"name": "\xff"}', 400, "malformed_body"),
    "not-json": ("POST", "/v1/identity/users", b'{"name": ', 422, "invalid_request"),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_requests_refused_before_their_route_ran_are_recorded(platform, case):
    method, path, content, status, code = case
    answer = platform.admin._http.request(method, path, content=content,
                                          headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    record = one_record(platform, answer)
    assert (record.principal, record.action, record.error_code) == (
        "admin", "api:RejectRequest", code)


def test_a_request_to_no_route_without_a_token_is_told_only_to_sign_in(platform):
    answer = platform.client(None)._http.get("/v1/no-such-thing")
    assert (answer.status_code, answer.json()["code"]) == (401, "missing_token")
    assert one_record(platform, answer).action == "identity:Authenticate"


def _get(conn: http.client.HTTPConnection, path: str, token: str):
    conn.request("GET", path, headers={"authorization": f"Bearer {token}"})
    answer = conn.getresponse()
    return answer, json.loads(answer.read() or b"null")


def test_a_500_is_recorded_and_the_connection_kept(server):
    platform, url, _ = server
    platform.vend("team-a-dev")
    # Real faults in the database the server runs on: a row the code cannot read (inside
    # an operation), then a column gone under authentication (before any operation).
    with platform.runtime.db.transaction() as session:
        session.execute(text("UPDATE org_accounts SET baseline = '\"broken\"' "
                             "WHERE name = 'team-a-dev'"))
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    failed, body = _get(conn, "/v1/accounts/team-a-dev", platform.admin_token)
    assert (failed.status, body["code"]) == (500, "internal_error")
    record = one_record(platform, failed)
    assert (record.principal, record.action, record.outcome, record.error_code) == (
        "admin", "org:DescribeAccount", "error", "internal_error")
    sock = conn.sock
    assert _get(conn, "/healthz", platform.admin_token)[0].status == 200
    assert conn.sock is sock  # the same connection answered

    fresh = platform.admin.tokens.create(user="admin")["token"]  # never seen by the server
    with platform.runtime.db.transaction() as session:
        session.execute(text("ALTER TABLE identity_tokens RENAME COLUMN last_used_at TO gone"))
    failed, body = _get(conn, "/v1/identity/whoami", fresh)
    assert (failed.status, body["code"]) == (500, "internal_error")
    record = one_record(platform, failed)
    assert (record.principal, record.action, record.outcome) == (
        "anonymous", "api:ServeRequest", "error")
    assert _get(conn, "/healthz", platform.admin_token)[0].status == 200
    assert conn.sock is sock
    conn.close()
