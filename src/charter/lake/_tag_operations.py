"""Lake tag operations: central tag keys (data lake administrators) and tags on
databases, tables and columns (producers)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from charter.access.authorizer import account_target
from charter.access.idempotency import idempotent
from charter.access.pipeline import operation
from charter.core.accounts import DATA_GOVERNANCE
from charter.core.clock import now
from charter.core.context import Context
from charter.core.ids import crn
from charter.core.lookup import require
from charter.core.pagination import PageParams, page_of
from charter.errors import Conflict, Invalid
from charter.lake import _iceberg
from charter.lake._common import column_names, require_database, require_table
from charter.lake.orm import LakeTagAssignment, LakeTagKey
from charter.lake.schemas import TagAssign, TagKeyCreate, TagKeyPage, TagKeyRead
from charter.org import service as org

_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_VALUE = re.compile(r"[A-Za-z0-9_-]{1,100}")


def tag_keys(ctx: Context) -> dict[str, list[str]]:
    return {k.key: k.values["values"] for k in ctx.db.scalars(select(LakeTagKey))}


def _catalog(ctx: Context, *args: Any, **kwargs: Any):
    return account_target(DATA_GOVERNANCE, crn(DATA_GOVERNANCE, "lake", "tag", "*"))


@operation("lake:CreateTag", "write", target=_catalog)
@idempotent
def create_tag_key(ctx: Context, body: TagKeyCreate) -> TagKeyRead:
    """Create a central tag key with its allowed values."""
    if not _KEY.fullmatch(body.key):
        raise Invalid(f"invalid tag key {body.key!r}", code="invalid_tag")
    bad = [v for v in body.values if not _VALUE.fullmatch(v)]
    if bad or not body.values:
        raise Invalid(f"invalid tag values {bad or body.values}: letters, digits, _ and -",
                      code="invalid_tag")
    if ctx.db.get(LakeTagKey, body.key) is not None:
        raise Conflict(f"tag key {body.key!r} already exists", code="tag_exists")
    ctx.db.add(LakeTagKey(key=body.key, values={"values": list(dict.fromkeys(body.values))},
                          created_by=ctx.principal.name, created_at=now()))
    return TagKeyRead(key=body.key, values=list(dict.fromkeys(body.values)))


@operation("lake:ListTags", "read", target=_catalog)
def list_tag_keys(ctx: Context, *, page: PageParams | None = None) -> TagKeyPage:
    """Central tag keys and their allowed values, by key (one page)."""
    return page_of(TagKeyPage, ctx.db, select(LakeTagKey), key=(LakeTagKey.key,), params=page,
                   read=lambda rows: [TagKeyRead(key=k.key, values=k.values["values"])
                                      for k in rows])


@operation("lake:AssignTag", "write",
           target=lambda ctx, account, body: org.target_in_account(
               ctx.db, account, crn(account, "lake", "tag", body.resource)))
@idempotent
def assign_tag(ctx: Context, account: str, body: TagAssign) -> dict[str, str]:
    """Tag a database, table or column (`db`, `db.table`, `db.table.column`)."""
    parts = body.resource.lower().split(".")
    if not 1 <= len(parts) <= 3:
        raise Invalid("tag DB, DB.TABLE or DB.TABLE.COLUMN", code="invalid_tag")
    database, table, column = ([*parts, "", ""])[:3]
    require_database(ctx, account, database)
    if table:
        require_table(ctx, account, database, table)
    if column and column not in column_names(_iceberg.load(ctx.runtime, account, database,
                                                           table)):
        raise Invalid(f"{database}.{table} has no column {column!r}", code="unknown_column")
    allowed = require(ctx.db.get(LakeTagKey, body.key), f"tag key {body.key!r}",
                      code="tag_not_found"
                      ).values["values"]
    if body.value not in allowed:
        raise Invalid(f"{body.value!r} is not a value of {body.key} ({', '.join(allowed)})",
                      code="invalid_tag")
    row = ctx.db.get(LakeTagAssignment, (account, database, table, column, body.key))
    if row is None:
        ctx.db.add(LakeTagAssignment(account=account, database=database, table=table,
                                     column=column, key=body.key, value=body.value))
    else:
        row.value = body.value
    return {"resource": ".".join(p for p in (database, table, column) if p), "key": body.key,
            "value": body.value}


def assignments_of(ctx: Context, account: str, database: str, table: str) -> list[Any]:
    """The tags on a table, its database and its columns."""
    return list(ctx.db.scalars(select(LakeTagAssignment).where(
        LakeTagAssignment.account == account, LakeTagAssignment.database == database,
        LakeTagAssignment.table.in_(["", table]))))
