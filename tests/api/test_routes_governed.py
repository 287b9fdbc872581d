"""Every REST route authorizes and audits: a route that skips the pipeline fails here."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from charter.access.actions import ACTIONS
from charter.api.app import PUBLIC_PATHS, domain_routers
from charter.audit.orm import AuditEvent

PATH_VALUES = {
    "account": "team-a-dev",
    "control_id": "CHARTER-DET-1",
    "group": "team-a-leads",
    "user": "someone",
    "token_id": "tok-0000000000000000",
    "assignment_id": "asg-0000000000000000",
    "database": "bank",
    "table": "customers",
    "grant_id": "grt-0000000000000000",
    "permission_set": "auditor",
    "blueprint": "ml-team-dev",
    "seq": "1",
    "experiment_id": "1",
    "run_id": "0" * 32,
    "version": "1",
    "alias": "champion",
}

BODIES = {
    "AccountCreate": {"name": "team-z-dev", "ou": "/workloads/ml/nonprod",
                      "blueprint": "ml-team-dev", "tags": {"owner": "z", "cost-center": "c"}},
    "AccountUpdate": {"tags": {"stage": "dev"}},
    "OUCreate": {"path": "/workloads/ml/sandbox"},
    "UserCreate": {"name": "route-walker"},
    "GroupCreate": {"name": "route-walkers"},
    "AssignmentCreate": {"permission_set": "auditor", "group": "team-a-leads",
                         "account": "team-a-dev"},
    "TokenCreate": {},
    "EnablementCreate": {"ou": "/workloads"},
    "DomainCreate": {"name": "retail", "account": "team-a-dev"},
    "DatabaseCreate": {"name": "bank"},
    "RulesAdd": {"rules": ["not_null(id)"]},
    "QueryRequest": {"sql": "SELECT * FROM bank.customers"},
    "GrantCreate": {"table": "bank.customers", "to": "group:team-a-leads"},
    "TagKeyCreate": {"key": "domain", "values": ["retail"]},
    "TagAssign": {"resource": "bank", "key": "domain", "value": "retail"},
    "ExperimentCreate": {"name": "churn"},
    "RunCreate": {"experiment_id": "1"},
    "RunUpdate": {"status": "FINISHED"},
    "RunLog": {"params": [{"key": "model", "value": "rf"}]},
    "RunSearch": {"experiment_ids": ["1"], "filter": "metrics.acc > 0.5"},
    "RunInputCreate": {"table": "bank.customers", "snapshot_id": "1"},
    "ModelGroupCreate": {"name": "churn"},
    "ModelVersionCreate": {"source": "1/models/m-0/artifacts"},
    "ModelTagSet": {"key": "stage", "value": "dev"},
    "ModelAliasSet": {"version": 1},
    "ModelDecision": {"reason": "holdout AUC 0.91"},
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body_model: str | None


def governed_routes(app) -> list[Route]:
    """Every operation the app serves, read from its OpenAPI document (which includes
    routes added anywhere); a route hidden from the schema fails the next test."""
    routes = []
    for path, item in app.openapi()["paths"].items():
        if path in PUBLIC_PATHS:
            continue
        for method, op in item.items():
            ref = (op.get("requestBody", {}).get("content", {}).get("application/json", {})
                   .get("schema", {}).get("$ref"))
            routes.append(Route(method.upper(), path, ref.rsplit("/", 1)[-1] if ref else None))
    return routes


def test_no_route_is_hidden_from_the_walk(platform):
    walked = {(r.method, r.path) for r in governed_routes(platform.app)}
    for router in domain_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                assert (method, route.path) in walked, f"{method} {route.path} is not walked"


def _request(route: Route) -> tuple[str, str, dict | None]:
    path = route.path
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"add a sample value for the path parameter of {route.path}"
    body = None
    if route.body_model is not None:
        assert route.body_model in BODIES, f"add a sample body for {route.body_model}"
        body = BODIES[route.body_model]
    return route.method, path, body


def _records(platform, request_id: str) -> list[AuditEvent]:
    with platform.runtime.db.transaction() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id)))


@pytest.fixture
def walk(platform):
    platform.vend("team-a-dev")
    _, nobody_token = platform.user("nobody")
    return platform, nobody_token


def test_there_are_routes_to_walk(platform):
    assert len(governed_routes(platform.app)) >= 25


@pytest.mark.parametrize("as_admin", [False, True], ids=["unprivileged", "admin"])
def test_every_route_authorizes_and_audits(walk, as_admin):
    platform, nobody_token = walk
    token = platform.admin_token if as_admin else nobody_token
    client = platform.client(token)
    for route in governed_routes(platform.app):
        method, path, body = _request(route)
        response = client._http.request(method, path, json=body)
        request_id = response.headers["x-request-id"]
        records = _records(platform, request_id)
        assert records, f"{method} {route.path} wrote no audit record"
        assert all(r.action in ACTIONS for r in records), f"{route.path}: undeclared action"
        if not as_admin and response.status_code < 400:
            # Open to every signed-in user: only self-service and filtered listings.
            assert records[0].action in {
                "identity:WhoAmI", "org:ListAccounts", "controls:ListFindings",
                "audit:ListEvents", "identity:CreateToken", "identity:ListTokens",
                "org:ListBlueprints", "controls:ListControls", "identity:ListPermissionSets",
                "org:DescribeBlueprint", "identity:DescribePermissionSet",
            }, f"{method} {route.path} allowed a user with no permissions"
        if response.status_code == 403:
            assert records[0].decision == "deny"


def test_every_route_requires_a_token(platform):
    client = platform.client(None)
    for route in governed_routes(platform.app):
        method, path, body = _request(route)
        response = client._http.request(method, path, json=body)
        assert response.status_code == 401, f"{method} {route.path} answered without a token"
        assert response.json()["code"] == "missing_token"


def test_healthz_and_docs_need_no_token(platform):
    client = platform.client(None)
    assert client.healthz()["status"] == "ok"
    assert client._http.get("/docs").status_code == 200
    assert "/v1/accounts" in client._http.get("/openapi.json").json()["paths"]


def test_caller_chosen_ids_are_kept_beside_the_servers(platform):
    client = platform.client(platform.admin_token)
    for header, source in (({"x-request-id": "x" * 500, "x-charter-source": "a\tb"}, "api"),
                           ({"x-request-id": "trace-42",
                             "x-charter-source": "event:controls.detective"}, "api"),
                           ({"x-request-id": "trace-43", "x-charter-source": "cli"}, "cli")):
        response = client._http.get("/v1/identity/whoami", headers=header)
        assert response.status_code == 200
        server_id = response.headers["x-request-id"]
        assert server_id.startswith("req-") and server_id != header["x-request-id"]
        event = client.audit.events(request_id=server_id)["items"][0]
        assert event["source"] == source
    with platform.runtime.db.transaction() as session:
        details = session.scalar(select(AuditEvent.details).where(
            AuditEvent.request_id == server_id))
    assert '"client_request_id": "trace-43"' in details


def test_oversized_fields_are_refused_not_crashed(platform):
    response = platform.admin._http.post("/v1/identity/groups",
                                         json={"name": "big", "description": "d" * 10_000})
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/v1/identity/assignments", {"permission_set": "cloud-admin", "group": "g",
                                          "user": "alice", "ou": "/"}),
    ("PATCH", "/v1/accounts/team-a-dev", {"budget": -1}),
    ("PATCH", "/v1/accounts/team-a-dev", {"tags": {"Bad": "x"}}),
    ("GET", "/v1/accounts?limit=0", None),
])
def test_refused_input_is_audited_too(walk, method, path, body):
    platform, nobody_token = walk
    response = platform.client(nobody_token)._http.request(method, path, json=body)
    assert response.status_code == 422
    records = _records(platform, response.headers["x-request-id"])
    assert [(r.principal, r.action, r.decision) for r in records] == [
        ("nobody", "api:RejectRequest", "deny")]


def test_events_of_a_request_are_delivered_before_its_response(platform):
    """With inline dispatch, a write's events reach their subscribers before the caller
    gets the response, which names the request."""
    from charter.core import events

    seen: list[str] = []
    events.subscribe(platform.runtime, "test.inline", {"GroupMembershipChanged"},
                     lambda runtime, event: seen.append(event.request_id))
    platform.admin.groups.create("inline")
    platform.user("ivy")
    response = platform.admin._http.request("PUT", "/v1/identity/groups/inline/members/ivy")
    assert response.status_code < 300, response.text
    assert seen == [response.headers["x-request-id"]]


# -- the MLflow adapter (mounted at /mlflow, outside the OpenAPI document) ---------------

MLFLOW_IDS = {"experiment_id": "1", "run_id": "0" * 32, "model_id": "m-" + "0" * 32}


def test_every_mlflow_route_authorizes_and_audits(walk):
    """Every route of the MLflow adapter (tests.mlflow.routes fails on a route without a
    sample) runs a governed operation: refused for a user without permissions, audited,
    answered in MLflow's error shape; refused without a token or with a password."""
    from tests.mlflow.routes import calls

    platform, nobody_token = walk
    for token, status, code in ((None, 401, "missing_token"),
                                (nobody_token, 403, None),
                                ("Basic dXNlcjpwYXNz", 401, "basic_auth_refused")):
        http = platform.client(None)._http
        for method, path, params, body in calls(MLFLOW_IDS, "churn"):
            headers = ({} if token is None else {"authorization": token}
                       if token.startswith("Basic") else {"authorization": f"Bearer {token}"})
            response = http.request(method, f"/mlflow/team-a-dev{path}", params=params,
                                    json=body, headers=headers)
            assert response.status_code == status, (method, path, response.text)
            answer = response.json()
            assert answer["error_code"] == ("UNAUTHENTICATED" if status == 401
                                            else "PERMISSION_DENIED"), (path, answer)
            assert code is None or answer["charter_code"] == code
            records = _records(platform, response.headers["x-request-id"])
            assert records and all(r.decision == "deny" for r in records), path
            assert status == 401 or all(r.action in ACTIONS for r in records), path


def test_what_the_mlflow_adapter_does_not_serve_is_endpoint_not_found(walk):
    platform, _ = walk
    for method, path in (("POST", "/api/2.0/mlflow/runs/log-inputs"),
                         ("GET", "/api/2.0/mlflow/experiments/get-by-name-and-more"),
                         ("POST", "/api/3.0/mlflow/traces"), ("GET", "/ajax-api/2.0/x"),
                         ("DELETE", "/api/2.0/mlflow/runs/get")):
        response = platform.admin._http.request(method, f"/mlflow/team-a-dev{path}")
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        assert "not served by Charter's MLflow tracking server" in response.json()["message"]
