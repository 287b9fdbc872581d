"""Lake schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from charter.core.pagination import Page
from charter.core.wire import BigId, Schema


class DomainCreate(Schema):
    name: str = Field(max_length=63, description="Domain name, e.g. retail-banking.")
    account: str = Field(max_length=63, description="Producer account (blueprint data-domain).")
    description: str = Field(default="", max_length=500)


class DomainRead(Schema):
    name: str
    crn: str
    account: str
    description: str
    created_at: datetime


class DatabaseCreate(Schema):
    name: str = Field(max_length=63)
    description: str = Field(default="", max_length=500)


class DatabaseRead(Schema):
    account: str
    name: str
    crn: str
    description: str
    created_at: datetime


class ColumnRead(Schema):
    name: str
    type: str
    required: bool


# The counts are the table's, every row included: a caller who reads it under a row
# filter is not told them (docs/design.md, "Counts under a row filter").
WITHHELD = "Rows in the table; null for a caller who reads it under a row filter."


class SnapshotRead(Schema):
    snapshot_id: BigId
    parent_id: BigId | None
    timestamp: datetime
    operation: str
    added_records: int | None = Field(description=WITHHELD)
    total_records: int | None = Field(description=WITHHELD)


class TableRead(Schema):
    account: str
    database: str
    name: str
    crn: str
    description: str
    columns: list[ColumnRead]
    rules: list[str]
    current_snapshot: BigId | None
    total_records: int | None = Field(description=WITHHELD)
    created_at: datetime


DomainPage = Page[DomainRead]
DatabasePage = Page[DatabaseRead]
TablePage = Page[TableRead]
SnapshotPage = Page[SnapshotRead]


class RulesAdd(Schema):
    rules: list[str] = Field(min_length=1, max_length=50,
                             description="e.g. not_null(id), range(age, 18, 120)")


class RuleFailure(Schema):
    rule: str
    failing_rows: int
    examples: list[dict[str, Any]]


class IngestReport(Schema):
    table: str
    mode: Literal["create", "append", "overwrite"]
    rows_written: int
    snapshot_id: BigId
    total_records: int
    columns_added: list[str]


class QueryRequest(Schema):
    sql: str = Field(min_length=1, max_length=1_000_000,
                     description="One SELECT (CHARTER_LAKE_QUERY_MAX_LENGTH bounds it).")
    snapshots: dict[str, BigId] = Field(default_factory=dict,
                                      description="Time travel: DB.TABLE -> snapshot id.")


class TagKeyCreate(Schema):
    key: str = Field(max_length=63)
    values: list[str] = Field(max_length=100)


class TagKeyRead(Schema):
    key: str
    values: list[str]


TagKeyPage = Page[TagKeyRead]


class TagAssign(Schema):
    resource: str = Field(max_length=200, description="DB, DB.TABLE or DB.TABLE.COLUMN")
    key: str = Field(max_length=63)
    value: str = Field(max_length=100)


class GrantCreate(Schema):
    table: str | None = Field(default=None, max_length=130,
                              description="DB.TABLE, or DB for every table of a database")
    tags: str | None = Field(default=None, max_length=1000,
                             description="Or a tag expression: domain=retail AND ...")
    to: str = Field(max_length=80, description="group:NAME or account:NAME")
    columns: list[str] | None = Field(default=None, max_length=500)
    exclude_columns: list[str] | None = Field(default=None, max_length=500)
    row_filter: str | None = Field(default=None, max_length=2000,
                                   description="e.g. region = 'EU' AND age >= 18")
    masks: dict[str, str] = Field(default_factory=dict,
                                  description="column -> null, constant, hash or lastN")
    grant_option: bool = False


class GrantRead(Schema):
    id: str
    crn: str
    account: str
    owner: str
    table: str
    grantee: str
    columns: list[str] | None
    row_filter: str | None
    masks: dict[str, str]
    grant_option: bool
    created_by: str
    created_at: datetime


GrantPage = Page[GrantRead]
