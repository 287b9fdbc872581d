"""Attacks on the sign-in cache (identity._tokens.sign_in): a token this process found
valid and kept, then revoked, expired or deleted elsewhere, must not do anything: every
refusal is a 401 with a stable code, recorded once as `anonymous` /
`identity:Authenticate`, and nothing is written."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from charter.audit.orm import AuditEvent
from charter.errors import Unauthenticated
from charter.identity import _tokens
from charter.identity.orm import Token


@pytest.fixture
def http(platform):
    with TestClient(platform.app, raise_server_exceptions=False) as client:
        yield client


def _records(platform, request_id: str) -> list[AuditEvent]:
    with platform.runtime.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.request_id == request_id).order_by(AuditEvent.seq)))


def _assert_refused_once(platform, response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert code in response.text
    rows = _records(platform, response.headers["x-request-id"])
    assert [(r.principal, r.action, r.error_code) for r in rows] == [
        ("anonymous", "identity:Authenticate", code)]


def _kept_then_revoked(platform, elsewhere, name: str = "ron") -> tuple[str, str]:
    """A token this process found valid (and kept), revoked by another process."""
    client, token = platform.user(name, "security-auditors")
    token_id = client.whoami()["token_id"]
    elsewhere.tokens.revoke(token_id)
    return token, token_id


# -- findings --------------------------------------------------------------------------

def test_a_revoked_kept_token_with_a_malformed_body_is_answered_401(platform, elsewhere,
                                                                    http):
    token, _ = _kept_then_revoked(platform, elsewhere)
    response = http.post("/v1/identity/groups", json={"nope": 1},
                         headers={"authorization": f"Bearer {token}"})
    _assert_refused_once(platform, response, "token_revoked")


def test_a_revoked_kept_token_refused_by_a_route_before_its_operation_is_answered_401(
        platform, elsewhere, http):
    token, _ = _kept_then_revoked(platform, elsewhere)
    response = http.put("/mlflow/management/api/2.0/mlflow-artifacts/artifacts/"
                        "registered-models/m/1/f.bin", content=b"x",
                        headers={"authorization": f"Bearer {token}"})
    _assert_refused_once(platform, response, "token_revoked")


def test_a_revoked_kept_token_is_never_marked_used_after_its_revocation(platform, elsewhere,
                                                                       monkeypatch):
    client, _ = platform.user("ron", "security-auditors")
    token_id = client.whoami()["token_id"]
    elsewhere.tokens.revoke(token_id)
    with platform.runtime.db.read() as session:
        revoked_at = session.get(Token, token_id).revoked_at
    later = _tokens.now() + timedelta(seconds=120)
    monkeypatch.setattr(_tokens, "now", lambda: later)
    with pytest.raises(Unauthenticated):
        client.whoami()
    with platform.runtime.db.read() as session:
        used = session.get(Token, token_id).last_used_at
    assert used is None or used <= revoked_at


# -- attacks that held ------------------------------------------------------------------

def test_a_revoked_kept_token_with_a_large_body_is_refused_and_nothing_stored(
        platform, elsewhere, http):
    platform.vend("team-a-dev")
    token, _ = _kept_then_revoked(platform, elsewhere)
    body = b"\x01" * (2**20 + 10)
    response = http.put("/mlflow/team-a-dev/api/2.0/mlflow-artifacts/artifacts/big.bin",
                        content=body, headers={"authorization": f"Bearer {token}",
                                               "content-type": "application/octet-stream"})
    _assert_refused_once(platform, response, "token_revoked")
    stored = http.get("/mlflow/team-a-dev/api/2.0/mlflow-artifacts/artifacts/big.bin",
                      headers={"authorization": f"Bearer {platform.admin_token}"})
    assert stored.status_code == 404, stored.text


def test_a_revoked_kept_token_on_an_mlflow_path_is_refused_once(platform, elsewhere, http):
    platform.vend("team-a-dev")
    token, _ = _kept_then_revoked(platform, elsewhere)
    response = http.post("/mlflow/team-a-dev/api/2.0/mlflow/experiments/create",
                         json={"name": "never-made"},
                         headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    rows = _records(platform, response.headers["x-request-id"])
    assert [(r.principal, r.action, r.error_code) for r in rows] == [
        ("anonymous", "identity:Authenticate", "token_revoked")]


def test_a_child_token_is_refused_once_its_parent_is_revoked_elsewhere(platform, elsewhere,
                                                                      http):
    ron, _ = platform.user("ron", "security-auditors")
    parent_id = ron.whoami()["token_id"]
    child = ron.tokens.create()["token"]
    child_client = platform.client(child)
    assert child_client.whoami()["name"] == "ron"  # kept
    elsewhere.tokens.revoke(parent_id)
    response = http.get("/v1/identity/whoami", headers={"authorization": f"Bearer {child}"})
    _assert_refused_once(platform, response, "token_revoked")


def test_a_short_token_is_refused_once_it_expires(platform, http):
    ron, _ = platform.user("ron", "security-auditors")
    short = ron.tokens.create(expires_in="1s")["token"]
    first = http.get("/v1/identity/whoami", headers={"authorization": f"Bearer {short}"})
    assert first.status_code == 200
    time.sleep(1.3)
    response = http.get("/v1/identity/whoami", headers={"authorization": f"Bearer {short}"})
    _assert_refused_once(platform, response, "token_expired")


def test_a_token_sharing_a_kept_tokens_prefix_is_not_taken_for_it(platform, http):
    _, token = platform.user("ron", "security-auditors")
    assert http.get("/v1/identity/whoami",
                    headers={"authorization": f"Bearer {token}"}).status_code == 200
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    response = http.get("/v1/identity/whoami", headers={"authorization": f"Bearer {forged}"})
    _assert_refused_once(platform, response, "invalid_token")


@pytest.mark.parametrize("header", [
    "Bearer chr_\x00abc", "Bearer chr_" + "A" * 60_000, "Bearer chr_\xe9\xe8",
    "Bearer  ", "bearer", "Basic Zm9vOmJhcg=="])
def test_odd_authorization_headers_are_refused_once(platform, http, header):
    response = http.get("/v1/identity/whoami",
                        headers={"authorization": header.encode("latin-1")})
    assert response.status_code == 401, response.text
    rows = _records(platform, response.headers["x-request-id"])
    assert [(r.principal, r.action) for r in rows] == [("anonymous", "identity:Authenticate")]


def test_a_refusal_is_a_refusal_while_other_requests_sign_in(monkeypatch):
    import sys
    import threading
    import types
    from datetime import datetime

    from charter.core.context import Principal

    class _Gone:  # the token's row as confirm_token reads it: gone
        def connection(self):
            return self

        def execute(self, *args, **kwargs):
            return self

        def first(self):
            return None

    runtime = types.SimpleNamespace(cache={})
    seen = _tokens._seen(runtime)
    far = datetime.now(UTC) + timedelta(days=1)

    def kept(i: int) -> _tokens._Seen:
        return _tokens._Seen(Principal(name="u", token_id=f"tok-{i}"), far, far, 1)

    for i in range(9_999):  # within _SEEN_MOST
        seen[f"h{i}"] = kept(i)
    ctx = types.SimpleNamespace(db=_Gone(), runtime=runtime,
                                principal=Principal(name="u", token_id="tok-5"))
    stop = threading.Event()

    def sign_ins() -> None:  # what _look_up does for other callers, in other threads
        i = 0
        while not stop.is_set():
            seen[f"new{i}"] = kept(i)
            i += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the scheduler's luck, made likely
    other = threading.Thread(target=sign_ins)
    other.start()
    outcomes = []
    try:
        for _ in range(100):
            try:
                _tokens.confirm_token(ctx)
            except Unauthenticated:
                outcomes.append("401")
            except RuntimeError as error:
                outcomes.append(str(error))
            seen["h5"] = kept(5)
    finally:
        stop.set()
        other.join()
        sys.setswitchinterval(interval)
    assert set(outcomes) == {"401"}


# -- two workers of `charter server` over PostgreSQL -----------------------------------

def _fresh(url: str, method: str, path: str, token: str, **kw):
    import httpx

    with httpx.Client(base_url=url, timeout=60) as client:  # a new connection: any worker
        return client.request(method, path, headers={"authorization": f"Bearer {token}"},
                              **kw)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_refuse_a_token_revoked_in_either_at_once(platform):
    import threading

    from tests.audit.test_workers import _start, _workers_of
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("set CHARTER_TEST_DATABASE_URL to a PostgreSQL server")
    _, token = platform.user("ron", "security-auditors")
    server = _start(platform.settings.home, workers=2)
    try:
        assert len(_workers_of(server)) == 2
        for _ in range(30):  # kept by both workers
            assert _fresh(server.url, "GET", "/v1/identity/whoami", token).status_code == 200
        token_id = _fresh(server.url, "GET", "/v1/identity/whoami", token).json()["token_id"]
        child = _fresh(server.url, "POST", "/v1/identity/tokens", token,
                       json={"description": "child"}).json()["token"]
        for _ in range(10):
            assert _fresh(server.url, "GET", "/v1/identity/whoami", child).status_code == 200

        # requests racing the revocation; any sent after its answer must be refused
        done = threading.Event()
        stop = threading.Event()
        after: list[tuple[int, str]] = []

        def hammer(secret: str) -> None:
            while not stop.is_set():
                started_after = done.is_set()
                response = _fresh(server.url, "GET", "/v1/identity/whoami", secret)
                if started_after:
                    after.append((response.status_code, response.headers["x-request-id"]))

        threads = [threading.Thread(target=hammer, args=(s,)) for s in (token, child) * 3]
        for t in threads:
            t.start()
        time.sleep(0.5)
        revoked = _fresh(server.url, "POST", f"/v1/identity/tokens/{token_id}/revoke",
                         platform.admin_token)
        assert revoked.status_code == 200, revoked.text
        done.set()
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        writes = [_fresh(server.url, "POST", "/v1/identity/groups", s,
                         json={"name": f"never-{i}"}) for i, s in enumerate((token, child) * 5)]
    finally:
        server.stop()
    assert after and {code for code, _ in after} == {401}
    assert {w.status_code for w in writes} == {401}
    ids = [rid for _, rid in after] + [w.headers["x-request-id"] for w in writes]
    with platform.runtime.db.read() as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.request_id.in_(ids))))
    assert sorted(r.request_id for r in rows) == sorted(ids)  # exactly one each
    assert {(r.principal, r.action, r.error_code) for r in rows} == {
        ("anonymous", "identity:Authenticate", "token_revoked")}
    names = {g["name"] for g in platform.admin.groups.list()["items"]}
    assert not any(n.startswith("never-") for n in names)


def test_a_kept_token_of_a_user_removed_from_a_group_elsewhere_loses_its_rights(
        platform, elsewhere):
    ron, _ = platform.user("ron", "security-auditors")
    nobody, _ = platform.user("nobody")
    as_nobody = _shown(nobody.audit.events())
    assert _shown(ron.audit.events()) != as_nobody  # an auditor reads the trail; kept
    elsewhere.groups.remove_member("security-auditors", "ron")
    assert _shown(ron.audit.events()) == as_nobody


def _shown(page) -> str:
    items = page["items"] if isinstance(page, dict) else page
    return "some" if any(i["principal"] == "admin" for i in items) else "none"


def test_a_revoked_token_is_refused_after_the_kept_tokens_overflow(platform, elsewhere, http,
                                                                   monkeypatch):
    monkeypatch.setattr(_tokens, "_SEEN_MOST", 3)
    clients = [platform.user(f"user-{i}", "security-auditors") for i in range(5)]
    for client, _ in clients:
        client.whoami()  # the kept tokens overflow and are cleared on the way
    token_id = clients[-1][0].whoami()["token_id"]
    elsewhere.tokens.revoke(token_id)
    for client, _ in clients[:-1]:
        client.whoami()
    response = http.get("/v1/identity/whoami",
                        headers={"authorization": f"Bearer {clients[-1][1]}"})
    _assert_refused_once(platform, response, "token_revoked")
