"""The OpenAPI document: operation ids named like the SDK's calls, one error shape documented
on every operation, the bearer scheme, and the links between operations.

Key contracts:
- Every operation's id is the SDK call that sends it (`client.accounts.list` ->
  `accounts_list`); `OPERATION_IDS` holds them, keyed by the route function's name, and a
  route missing from it is named after its function (the document test then fails).
- Every error the API answers, whatever its status, is one `Error` body (`code`,
  `message`, `details`); each operation documents the statuses it can answer and a
  `default` for the rest, all with that schema.
- Operations that need a token carry the `bearer` security scheme (declared by the
  dependency that reads the token, `api.deps.get_context`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from charter.api.links import add_links

# Route function -> the SDK call that sends the request (`part_method`, or a Client method).
OPERATION_IDS: dict[str, str] = {
    "healthz": "healthz",
    # organisation
    "get_ou_tree": "org_tree",
    "create_ou": "org_create_ou",
    "list_blueprints": "org_blueprints",
    "get_blueprint": "org_blueprint",
    "create_account": "accounts_create",
    "list_accounts": "accounts_list",
    "get_account": "accounts_get",
    "update_account": "accounts_update",
    "close_account": "accounts_close",
    # identity
    "whoami": "whoami",
    "create_user": "users_create",
    "list_users": "users_list",
    "get_user": "users_get",
    "delete_user": "users_delete",
    "create_group": "groups_create",
    "list_groups": "groups_list",
    "get_group": "groups_get",
    "add_group_member": "groups_add_member",
    "remove_group_member": "groups_remove_member",
    "list_permission_sets": "permission_sets_list",
    "get_permission_set": "permission_sets_get",
    "create_assignment": "assignments_create",
    "list_assignments": "assignments_list",
    "delete_assignment": "assignments_delete",
    "create_token": "tokens_create",
    "list_tokens": "tokens_list",
    "revoke_token": "tokens_revoke",
    # controls
    "list_controls": "controls_list",
    "enable_control": "controls_enable",
    "disable_control": "controls_disable",
    "list_findings": "controls_findings",
    "evaluate_controls": "controls_evaluate",
    # audit
    "list_events": "audit_events",
    "get_event": "audit_event",
    "verify_trail": "audit_verify",
    "checkpoint_trail": "audit_checkpoint",
    "list_checkpoints": "audit_checkpoints",
    "stop_trail": "audit_stop",
    "delete_events": "audit_delete",
    # lake
    "create_domain": "lake_create_domain",
    "list_domains": "lake_domains",
    "create_database": "lake_create_database",
    "list_databases": "lake_databases",
    "list_tables": "lake_tables",
    "get_table": "lake_table",
    "list_snapshots": "lake_snapshots",
    "add_rules": "lake_add_rules",
    "ingest": "lake_ingest",
    "query": "lake_query",
    "grant_table": "lake_grant",
    "list_grants": "lake_grants",
    "revoke_grant": "lake_revoke",
    "create_tag_key": "lake_create_tag",
    "list_tag_keys": "lake_tag_keys",
    "assign_tag": "lake_assign_tag",
    # experiments
    "create_experiment": "experiments_create",
    "list_experiments": "experiments_list",
    "get_experiment_by_name": "experiments_get_by_name",
    "get_experiment": "experiments_get",
    "create_run": "runs_create",
    "list_runs": "runs_list",
    "search_runs": "runs_search_page",
    "compare_runs": "runs_compare",
    "get_run": "runs_get",
    "update_run": "runs_update",
    "log_run_batch": "runs_log_batch",
    "get_metric_history": "runs_metric_history",
    "log_run_input": "runs_log_input",
    "put_run_artifact": "runs_upload",
    "get_run_artifact": "runs_download",
    "list_run_artifacts": "runs_artifacts",
    # registry
    "create_model_group": "models_create_group",
    "list_model_groups": "models_groups",
    "get_model_group": "models_group",
    "set_model_group_tag": "models_set_group_tag",
    "delete_model_group_tag": "models_delete_group_tag",
    "set_model_alias": "models_set_alias",
    "delete_model_alias": "models_delete_alias",
    "get_model_version_by_alias": "models_version_by_alias",
    "create_model_version": "models_create_version",
    "list_model_versions": "models_versions",
    "get_model_version": "models_version",
    "get_model_version_file": "models_download",
    "set_model_version_tag": "models_set_version_tag",
    "delete_model_version_tag": "models_delete_version_tag",
    "approve_model_version": "models_approve",
    "reject_model_version": "models_reject",
}


def operation_id(route: APIRoute) -> str:
    """The stable id of a route's operation (FastAPI's `generate_unique_id_function`)."""
    return OPERATION_IDS.get(route.name, route.name)


class ErrorBody(BaseModel):
    """What the API answers on any failure, whatever its status."""

    model_config = ConfigDict(title="Error")

    code: str = Field(description="Stable code, e.g. `access_denied`, `account_not_found`.")
    message: str = Field(description="What went wrong and what to do about it.")
    details: dict[str, Any] | None = Field(
        default=None, description="Facts of the failure a program can use (the columns a "
        "file lacks, the limit reached, ...); absent when there are none.")


ERROR_REF = "#/components/schemas/Error"
STATUSES = {
    "401": "No valid bearer token (`missing_token`, `invalid_token`, `token_expired`, "
           "`token_revoked`).",
    "403": "Refused by Cedar (`access_denied`) or by a guardrail.",
    "404": "Something the request names does not exist (`account_not_found`, "
           "`table_not_found`, ...).",
    "406": "None of the media types the `Accept` header names can be answered "
           "(`not_acceptable`).",
    "409": "In conflict with the current state: it exists already, a concurrent write "
           "committed first, or the idempotency key was used for another request.",
    "413": "The request body is larger than this server accepts (`body_too_large`).",
    "422": "Invalid input (`invalid_request`, `invalid_text`, ...) or refused by a "
           "proactive control (`control_violation`).",
    "429": "As many of these requests run already as are allowed (`too_many_queries`).",
    "default": "Any other failure, in the same shape (`internal_error` for a 500).",
}
# Statuses particular to an operation, beyond those its method and inputs imply.
EXTRA_STATUSES: dict[str, tuple[str, ...]] = {"lake_query": ("406", "429")}
_WRITES = {"post", "put", "patch", "delete"}


def add_openapi(app: FastAPI) -> None:
    """Serve the document with links, error responses and the `Error` schema in it; it is
    built once, on first request."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            add_links(document)
            document_errors(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Give every operation that needs a token the error statuses it can answer, all of
    the one `Error` schema, in place of FastAPI's validation error."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ErrorBody.model_json_schema()
    for methods in document["paths"].values():
        for method, operation in methods.items():
            responses = operation["responses"]
            responses.pop("422", None)
            if not operation.get("security"):
                continue  # public: answers without a token, and nothing it takes can fail
            for status in error_statuses(method, operation):
                responses[status] = {
                    "description": STATUSES[status],
                    "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}
    return document


def error_statuses(method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation that needs a token can answer."""
    statuses = {"401", "403", "422", "default"}  # any request: a token, Cedar, its text
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add("404")  # it names something
    if method in _WRITES:
        statuses.add("409")
    if "requestBody" in operation:
        statuses.add("413")
    statuses.update(EXTRA_STATUSES.get(operation["operationId"], ()))
    return sorted(statuses, key=lambda s: (s == "default", s))
