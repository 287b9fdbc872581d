"""Lake routes: domains, databases, tables, ingestion, quality rules, snapshots."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Body, Header, Query, Response

from charter.api.deps import Ctx, PageDep
from charter.api.results import QUERY_RESPONSES, choose_media_type, result_response
from charter.core.text import invalid_text, refused_in
from charter.errors import Invalid
from charter.lake import service
from charter.lake.schemas import (
    DatabaseCreate,
    DatabasePage,
    DatabaseRead,
    DomainCreate,
    DomainPage,
    DomainRead,
    GrantCreate,
    GrantPage,
    GrantRead,
    IngestReport,
    QueryRequest,
    RulesAdd,
    SnapshotPage,
    TablePage,
    TableRead,
    TagAssign,
    TagKeyCreate,
    TagKeyPage,
    TagKeyRead,
)

router = APIRouter(prefix="/v1", tags=["lake"])
TABLE = "/accounts/{account}/lake/tables/{database}/{table}"


@router.post("/lake/domains", status_code=201)
def create_domain(body: DomainCreate, ctx: Ctx) -> DomainRead:
    """Register a data domain owned by a producer account."""
    return service.create_domain(ctx, body)


@router.get("/lake/domains")
def list_domains(ctx: Ctx, page: PageDep) -> DomainPage:
    """Data domains in the central catalog."""
    return service.list_domains(ctx, page=page)


@router.post("/accounts/{account}/lake/databases", status_code=201)
def create_database(account: str, body: DatabaseCreate, ctx: Ctx) -> DatabaseRead:
    """Create a database in a producer account."""
    return service.create_database(ctx, account, body)


@router.get("/accounts/{account}/lake/databases")
def list_databases(account: str, ctx: Ctx, page: PageDep) -> DatabasePage:
    """Databases of an account that the caller may read from."""
    return service.list_databases(ctx, account, page=page)


@router.get("/accounts/{account}/lake/tables")
def list_tables(account: str, ctx: Ctx, page: PageDep, database: str | None = None) -> TablePage:
    """Tables of an account's catalog that the caller may read."""
    return service.list_tables(ctx, account, database=database, page=page)


@router.get(TABLE)
def get_table(account: str, database: str, table: str, ctx: Ctx) -> TableRead:
    """A table's columns, rules and current snapshot."""
    return service.get_table(ctx, account, database, table)


@router.get(TABLE + "/snapshots")
def list_snapshots(account: str, database: str, table: str, ctx: Ctx,
                   page: PageDep) -> SnapshotPage:
    """A table's snapshots, oldest first."""
    return service.list_snapshots(ctx, account, database, table, page=page)


@router.post(TABLE + "/rules")
def add_rules(account: str, database: str, table: str, body: RulesAdd, ctx: Ctx) -> TableRead:
    """Declare quality rules on a table."""
    return service.add_rules(ctx, account, database, table, body)


@router.post(TABLE + "/ingest")
def ingest(
    account: str, database: str, table: str, ctx: Ctx,
    data: bytes = Body(b"", media_type="application/octet-stream"),
    mode: Literal["create", "append", "overwrite"] = "append",
    format: Literal["csv", "parquet"] = "csv",
    evolve: bool = False,
    delimiter: str | None = Query(None, max_length=10, description=
                                  "A CSV's delimiter (default: found from its header line)."),
    # 5,000 characters: even percent-encoded as 4-byte UTF-8 (12 bytes each), the request
    # line stays within what the HTTP parser reads (64 KiB), so the API answers it.
    schema: str | None = Query(None, max_length=5_000,
                               description='Declared schema: {"columns": [...]} as JSON, '
                               'at most 5,000 characters.'),
) -> IngestReport:
    """Write a CSV or Parquet file into a table as one snapshot, after its quality rules."""
    declared = None
    if schema is not None:
        try:
            declared = json.loads(schema)
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            raise Invalid("the schema is not valid JSON, or is nested too deeply",
                          code="invalid_schema") from None
        if refused_in(declared):  # its escapes decode past the query string's check
            raise invalid_text("schema")
    return service.ingest(ctx, account, database, table, data, fmt=format, mode=mode,
                          schema=declared, evolve=evolve, delimiter=delimiter)


@router.post("/accounts/{account}/lake/query", response_class=Response,
             responses=QUERY_RESPONSES)
def query(account: str, body: QueryRequest, ctx: Ctx,
          accept: str | None = Header(None, include_in_schema=False)) -> Response:
    """Run one governed SELECT over the account's catalog; the result comes as an Arrow
    stream, JSON rows or CSV, as `Accept` asks, and header `X-Charter-Snapshots` names
    the tables read and their snapshots (JSON `[{account, owner, table, snapshot_id}]`)."""
    media_type = choose_media_type(accept)  # before the query: no work for no answer
    result = service.query(ctx, account, body.sql, snapshots=body.snapshots)
    response = result_response(result, media_type)
    response.headers["x-charter-snapshots"] = json.dumps([
        {"account": account, "owner": t["owner"], "table": t["table"],
         "snapshot_id": str(t["snapshot"])}
        for t in ctx.audit_details.get("tables", []) if t.get("snapshot") is not None])
    return response


@router.post("/accounts/{account}/lake/grants", status_code=201)
def grant_table(account: str, body: GrantCreate, ctx: Ctx) -> GrantRead:
    """Grant a table to a group or share it with an account, with filters and masks."""
    return service.grant_table(ctx, account, body)


@router.get("/accounts/{account}/lake/grants")
def list_grants(account: str, ctx: Ctx, page: PageDep,
                table: str | None = None) -> GrantPage:
    """Grants the account made and shares it received."""
    return service.list_grants(ctx, account, table=table, page=page)


@router.delete("/accounts/{account}/lake/grants/{grant_id}")
def revoke_grant(account: str, grant_id: str, ctx: Ctx) -> GrantRead:
    """Revoke a grant or share."""
    return service.revoke_grant(ctx, account, grant_id)


@router.post("/lake/tags", status_code=201)
def create_tag_key(body: TagKeyCreate, ctx: Ctx) -> TagKeyRead:
    """Create a central tag key with its allowed values."""
    return service.create_tag_key(ctx, body)


@router.get("/lake/tags")
def list_tag_keys(ctx: Ctx, page: PageDep) -> TagKeyPage:
    """Central tag keys and their allowed values."""
    return service.list_tag_keys(ctx, page=page)


@router.post("/accounts/{account}/lake/tags")
def assign_tag(account: str, body: TagAssign, ctx: Ctx) -> dict[str, str]:
    """Tag a database, table or column."""
    return service.assign_tag(ctx, account, body)
