"""OpenAPI links: which answer names the resource a next request acts on (a client, or a
stateful test such as schemathesis's, follows them from a create to its reads and deletes)."""

from __future__ import annotations

from typing import Any

ACCOUNT = "/v1/accounts/{account}"
TABLE = ACCOUNT + "/lake/tables/{database}/{table}"
MEMBERS = "/v1/identity/groups/{group}/members/{user}"
_IN_ACCOUNT = {"account": "$request.path.account"}
_IN_TABLE = {**_IN_ACCOUNT, "database": "$request.path.database", "table": "$request.path.table"}
_NEW_ACCOUNT = {"account": "$response.body#/name"}

# (method, path of the answering operation, status) -> link name -> (method, path, parameters)
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("post", "/v1/accounts", "201"): {
        "DescribeAccount": ("get", ACCOUNT, _NEW_ACCOUNT),
        "UpdateAccount": ("patch", ACCOUNT, _NEW_ACCOUNT),
        "CloseAccount": ("post", ACCOUNT + "/close", _NEW_ACCOUNT),
        "CreateDatabase": ("post", ACCOUNT + "/lake/databases", _NEW_ACCOUNT),
        "ListTables": ("get", ACCOUNT + "/lake/tables", _NEW_ACCOUNT),
        "ListGrants": ("get", ACCOUNT + "/lake/grants", _NEW_ACCOUNT),
    },
    ("post", "/v1/identity/users", "201"): {
        "AddToGroup": ("put", MEMBERS, {"user": "$response.body#/name"}),
    },
    ("post", "/v1/identity/groups", "201"): {
        "AddMember": ("put", MEMBERS, {"group": "$response.body#/name"}),
    },
    ("put", MEMBERS, "200"): {
        "RemoveMember": ("delete", MEMBERS, {"group": "$request.path.group",
                                             "user": "$request.path.user"}),
    },
    ("post", "/v1/identity/assignments", "201"): {
        "DeleteAssignment": ("delete", "/v1/identity/assignments/{assignment_id}",
                             {"assignment_id": "$response.body#/id"}),
    },
    ("post", "/v1/identity/tokens", "201"): {
        "RevokeToken": ("post", "/v1/identity/tokens/{token_id}/revoke",
                        {"token_id": "$response.body#/id"}),
    },
    ("get", "/v1/controls", "200"): {
        "EnableControl": ("post", "/v1/controls/{control_id}/enablements",
                          {"control_id": "$response.body#/0/id"}),
    },
    ("post", "/v1/controls/{control_id}/enablements", "201"): {
        "DisableControl": ("post", "/v1/controls/{control_id}/disable",
                           {"control_id": "$request.path.control_id"}),
    },
    ("post", "/v1/lake/domains", "201"): {
        "CreateDatabase": ("post", ACCOUNT + "/lake/databases",
                           {"account": "$response.body#/account"}),
    },
    ("post", ACCOUNT + "/lake/databases", "201"): {
        "Ingest": ("post", ACCOUNT + "/lake/tables/{database}/{table}/ingest",
                   {**_IN_ACCOUNT, "database": "$response.body#/name"}),
    },
    ("post", TABLE + "/ingest", "200"): {
        "GetTable": ("get", TABLE, _IN_TABLE),
        "ListSnapshots": ("get", TABLE + "/snapshots", _IN_TABLE),
        "AddRules": ("post", TABLE + "/rules", _IN_TABLE),
    },
    ("post", ACCOUNT + "/lake/grants", "201"): {
        "RevokeGrant": ("delete", ACCOUNT + "/lake/grants/{grant_id}",
                        {**_IN_ACCOUNT, "grant_id": "$response.body#/id"}),
    },
}


def operation_ref(method: str, path: str) -> str:
    """The JSON pointer to an operation in the document (`~1` is `/` in a pointer)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def add_links(document: dict[str, Any]) -> None:
    """Put LINKS into the document's answers."""
    for (method, path, status), links in LINKS.items():
        answer = document["paths"][path][method]["responses"][status]
        answer["links"] = {
            name: {"operationRef": operation_ref(m, p), "parameters": parameters}
            for name, (m, p, parameters) in links.items()}
