"""The OpenAPI document, walked: every operation has a stable id named like its SDK call, the
bearer scheme and its error statuses documented with the one `Error` schema; and the API
answers every error, unknown routes and invalid input included, in that shape."""

from __future__ import annotations

import pytest

from charter.api.app import PUBLIC_PATHS

# The operation ids clients generate code from: changing one breaks them, so it is done
# here on purpose, never by renaming a route function.
OPERATION_IDS = sorted([
    "healthz", "whoami",
    "org_tree", "org_create_ou", "org_blueprints", "org_blueprint",
    "accounts_create", "accounts_list", "accounts_get", "accounts_update", "accounts_close",
    "users_create", "users_list", "users_get", "users_delete", "groups_create", "groups_list",
    "groups_get", "groups_add_member", "groups_remove_member",
    "permission_sets_list", "permission_sets_get", "assignments_create", "assignments_list",
    "assignments_delete",
    "tokens_create", "tokens_list", "tokens_revoke",
    "controls_list", "controls_enable", "controls_disable", "controls_findings",
    "controls_evaluate",
    "audit_events", "audit_event", "audit_verify", "audit_checkpoint", "audit_checkpoints",
    "audit_stop",
    "audit_delete",
    "lake_create_domain", "lake_domains", "lake_create_database", "lake_databases",
    "lake_tables", "lake_table",
    "lake_snapshots", "lake_add_rules", "lake_ingest", "lake_query", "lake_grant", "lake_grants",
    "lake_revoke",
    "lake_create_tag", "lake_tag_keys", "lake_assign_tag",
    "experiments_create", "experiments_list", "experiments_get_by_name", "experiments_get",
    "runs_create", "runs_list", "runs_search_page", "runs_compare", "runs_get", "runs_update",
    "runs_log_batch", "runs_metric_history", "runs_log_input", "runs_upload", "runs_download",
    "runs_artifacts",
    "models_create_group", "models_groups", "models_group", "models_set_group_tag",
    "models_delete_group_tag", "models_set_alias", "models_delete_alias", "models_version_by_alias",
    "models_create_version", "models_versions", "models_version", "models_set_version_tag",
    "models_delete_version_tag", "models_approve", "models_reject",
    "models_download",
])
ERROR_REF = "#/components/schemas/Error"


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(method, path, operation) for path, item in document["paths"].items()
            for method, operation in item.items()]


@pytest.fixture
def document(platform) -> dict:
    """The document as the server serves it."""
    answer = platform.admin._http.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def test_operation_ids_are_unique_and_stable(document):
    ids = [operation["operationId"] for *_, operation in _operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert sorted(ids) == OPERATION_IDS


def test_operation_ids_name_the_sdk_calls_that_send_them(platform, document):
    """`accounts_list` is `client.accounts.list`; `whoami` is `client.whoami`."""
    client = platform.admin
    for *_, operation in _operations(document):
        op_id = operation["operationId"]
        calls = [getattr(client, op_id, None)] + [
            getattr(getattr(client, op_id[:i], None), op_id[i + 1:], None)
            for i, c in enumerate(op_id) if c == "_"]
        assert any(callable(call) for call in calls), f"no SDK call is named {op_id}"


def test_every_operation_but_the_public_ones_needs_the_bearer_token(document):
    assert document["components"]["securitySchemes"] == {"bearer": {
        "type": "http", "scheme": "bearer", "bearerFormat": "chr_...",
        "description": "An API token: `charter tokens create`, or the administrator's from "
                       "`charter init`."}}
    for method, path, operation in _operations(document):
        if path in PUBLIC_PATHS:
            assert "security" not in operation, path
        else:
            assert operation.get("security") == [{"bearer": []}], f"{method} {path}"


def test_every_error_is_documented_with_the_one_error_schema(document):
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Error"]["required"] == ["code", "message"]
    assert set(schemas["Error"]["properties"]) == {"code", "message", "details"}
    for method, path, operation in _operations(document):
        if path in PUBLIC_PATHS:
            continue
        responses = operation["responses"]
        errors = {s for s in responses if s == "default" or int(s) >= 400}
        expected = {"401", "403", "422", "default"}
        if method != "get":
            expected.add("409")
        if "requestBody" in operation:
            expected |= {"404", "413"}
        if "{" in path:
            expected.add("404")
        assert expected <= errors, f"{method} {path}: {sorted(expected - errors)} undocumented"
        for status in errors:
            content = responses[status]["content"]
            assert content == {"application/json": {"schema": {"$ref": ERROR_REF}}}, (
                f"{method} {path} {status}")
    query = document["paths"]["/v1/accounts/{account}/lake/query"]["post"]["responses"]
    assert {"406", "429"} <= set(query)


def test_the_query_documents_its_three_media_types(document):
    answer = document["paths"]["/v1/accounts/{account}/lake/query"]["post"]["responses"]["200"]
    assert set(answer["content"]) == {"application/vnd.apache.arrow.stream",
                                      "application/json", "text/csv"}
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/QueryRows"}


def _is_error(answer) -> dict:
    body = answer.json()
    assert set(body) <= {"code", "message", "details"} and {"code", "message"} <= set(body), (
        body)
    assert isinstance(body["code"], str) and isinstance(body["message"], str)
    return body


def test_unknown_routes_and_methods_answer_in_the_error_shape(platform):
    http = platform.admin._http
    for path in ("/nowhere", "/v1/nowhere", "/v1/accounts/team-a-dev/nothing-here"):
        answer = http.get(path)
        assert answer.status_code == 404 and _is_error(answer)["code"] == "route_not_found"
    answer = http.put("/v1/accounts")
    assert answer.status_code == 405 and _is_error(answer)["code"] == "method_not_allowed"
    anonymous = platform.client(None)._http.get("/v1/nowhere")
    assert anonymous.status_code == 401 and _is_error(anonymous)["code"] == "missing_token"


def test_invalid_input_answers_in_the_error_shape(platform):
    http = platform.admin._http
    answer = http.post("/v1/accounts", json={"name": "x"})
    body = _is_error(answer)
    assert answer.status_code == 422 and body["code"] == "invalid_request"
    assert "ou: Field required" in body["message"]
    answer = http.get("/v1/accounts", params={"limit": "many"})
    assert answer.status_code == 422 and _is_error(answer)["code"] == "invalid_request"
    answer = http.post("/v1/accounts", content=b"{not json",
                       headers={"content-type": "application/json"})
    assert 400 <= answer.status_code < 500 and _is_error(answer)


def test_docs_and_redoc_load_nothing_from_elsewhere(platform):
    http = platform.client(None)._http
    for page in ("/docs", "/redoc"):
        html = http.get(page)
        assert html.status_code == 200
        assert "http://" not in html.text and "https://" not in html.text, html.text
    for asset in ("/docs/assets/swagger/swagger-ui-bundle.js",
                  "/docs/assets/swagger/swagger-ui.css",
                  "/docs/assets/redoc/redoc.standalone.js",
                  "/docs/assets/fastapi/favicon.png", "/redoc/logo-mini.svg"):
        assert http.get(asset).status_code == 200, asset
    missing = http.get("/docs/assets/swagger/nothing.js")
    assert missing.status_code == 404 and _is_error(missing)["code"] == "route_not_found"


def _success_schema(document: dict, operation: dict) -> dict:
    for status in ("200", "201"):
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema:
            ref = schema.get("$ref", "")
            return document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema
    return {}


def test_every_list_operation_is_paged(document):
    """A listing answers the one page envelope and takes limit and offset: no operation
    answers a bare array, which could neither be paged nor grow a field."""
    pages = 0
    for method, path, operation in _operations(document):
        schema = _success_schema(document, operation)
        assert schema.get("type") != "array", f"{method.upper()} {path} answers a bare array"
        properties = schema.get("properties", {})
        if {"items", "total", "limit", "offset", "next_cursor"} <= set(properties):
            pages += 1
            params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert {"limit", "offset"} <= params, f"{method.upper()} {path} pages without limit"
    assert pages >= 15


def test_mlflows_protocol_is_documented_apart(platform, document):
    """The MLflow adapter speaks MLflow's protocol, documented in docs/mlflow.md; Charter's
    own document holds only Charter's API."""
    assert not [p for p in document["paths"] if p.startswith("/mlflow")]
    response = platform.admin._http.get("/mlflow/team-a-dev/api/2.0/mlflow/nothing")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
