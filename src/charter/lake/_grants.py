"""Lake grants and shares: who sees which columns, rows and cells of which table, and
the effective policy of a caller on a table (used by queries and catalog listings)."""

from __future__ import annotations

from sqlalchemy import select

from charter.access.authorizer import Target
from charter.access.idempotency import idempotent
from charter.access.pipeline import allowed, emit, operation
from charter.core.clock import now
from charter.core.context import Context
from charter.core.db import lock
from charter.core.ids import crn, new_id, split_table_name
from charter.core.lookup import require
from charter.core.pagination import PageParams, page_of
from charter.errors import Conflict, Invalid, NotFound
from charter.identity import service as identity
from charter.lake import _iceberg, _policy, _tag_expressions, _tag_operations
from charter.lake._common import (
    catalog_names_lock,
    check_identifier,
    column_names,
    lake_target,
    require_database,
)
from charter.lake._policy import AccessPolicy
from charter.lake.orm import LakeDatabase, LakeGrant, LakeTable
from charter.lake.schemas import GrantCreate, GrantPage, GrantRead
from charter.org import service as org


def _grant_read(g: LakeGrant) -> GrantRead:
    policy = AccessPolicy.from_json(g.policy)
    name = (f"tags: {policy.tags}" if g.database == "*" else g.database
            if g.table == "*" else f"{g.database}.{g.table}")
    return GrantRead(id=g.id, crn=crn(g.account, "lake", "grant", g.id), account=g.account,
                     owner=g.owner, table=name, grantee=f"{g.grantee_type}:{g.grantee}",
                     columns=None if policy.columns is None else list(policy.columns),
                     row_filter=policy.row_filter, masks=dict(policy.masks),
                     grant_option=g.grant_option, created_by=g.created_by,
                     created_at=g.created_at)


def _share_to(ctx: Context, account: str, database: str, table: str) -> LakeGrant | None:
    """The share of `database.table` that `account` received (of the table itself, else of
    its whole database), if any."""
    shares = {g.table: g for g in ctx.db.scalars(select(LakeGrant).where(
        LakeGrant.grantee_type == "account", LakeGrant.grantee == account,
        LakeGrant.database == database, LakeGrant.table.in_([table, "*"])))}
    return shares.get(table) or shares.get("*")


def _columns(ctx: Context, owner: str, database: str, table: str) -> list[str]:
    return column_names(_iceberg.load(ctx.runtime, owner, database, table))


def _policy_for(ctx: Context, grant: LakeGrant, table: str) -> AccessPolicy | None:
    """A grant's policy on one table; a database grant fits itself to the table's columns
    (None: its row filter names a column the table lacks, so it does not cover it)."""
    policy = AccessPolicy.from_json(grant.policy)
    if grant.table != "*":
        return policy
    return _policy.fit(policy, _columns(ctx, grant.owner, grant.database, table))


def _grant_target(ctx: Context, account: str, body: GrantCreate) -> Target:
    return lake_target(ctx, account, "grant", body.table or "tags")


@operation("lake:GrantTable", "write", target=_grant_target)
@idempotent
def grant_table(ctx: Context, account: str, body: GrantCreate) -> GrantRead:
    """Grant a table (or every column whose tags match an expression) to a group, or share
    a table with another account, with optional column list, row filter and masks. A
    consumer grants a share onward only within it."""
    kind, _, grantee = body.to.partition(":")
    if kind not in ("group", "account") or not grantee:
        raise Invalid("a grantee is group:NAME or account:NAME", code="invalid_grantee")
    if (body.table is None) == (body.tags is None):
        raise Invalid("grant either a table (DB.TABLE) or columns by a tag expression",
                      code="invalid_grant")
    if kind == "group":
        identity.ensure_group_exists(ctx, grantee)
    if body.tags is not None:
        return _grant_by_tags(ctx, account, body, grantee)
    if "." not in (body.table or ""):
        return _grant_database(ctx, account, body, kind, grantee)
    database, table = split_table_name(body.table)
    owned = ctx.db.get(LakeTable, (account, database, table))
    share = None if owned else _share_to(ctx, account, database, table)
    if owned is None and share is None:
        raise NotFound(f"{account} has no table {database}.{table} of its own or shared with "
                       "it", code="table_not_found")
    owner = account if owned else share.owner
    policy = _policy.make_policy(_columns(ctx, owner, database, table),
                                 include=body.columns, exclude=body.exclude_columns,
                                 row_filter=body.row_filter, masks=body.masks)
    if kind == "account":
        _check_share_target(ctx, account, grantee, database)
    if share is not None:
        _check_onward(share, kind, policy, f"{database}.{table}", account,
                      _policy_for(ctx, share, table))
    return _add_grant(ctx, account, owner, database, table, kind, grantee, policy, body)


def _grant_database(ctx: Context, account: str, body: GrantCreate, kind: str,
                    grantee: str) -> GrantRead:
    """A grant on every table of a database, present and future."""
    database = check_identifier((body.table or "").lower(), "database")
    require_database(ctx, account, database)
    if body.columns or body.exclude_columns:
        raise Invalid("a database grant covers whole tables; column lists go on grants by "
                      "table name", code="invalid_grant")
    if kind == "account":
        _check_share_target(ctx, account, grantee, database)
    policy = _policy.whole_tables(body.masks, body.row_filter)
    return _add_grant(ctx, account, account, database, "*", kind, grantee, policy, body)


def _check_share_target(ctx: Context, account: str, grantee: str, database: str) -> None:
    """A share never takes the name of one of the consumer's own databases, which would
    shadow it (creating a database refuses the other order)."""
    org.require_account(ctx.db, grantee)
    if grantee == account:
        raise Invalid("an account cannot share with itself", code="invalid_grantee")
    lock(ctx.db, catalog_names_lock(grantee))
    if ctx.db.get(LakeDatabase, (grantee, database)) is not None:
        raise Conflict(f"{grantee} has a database named {database} of its own",
                       code="database_name_taken")


def _check_onward(share: LakeGrant, kind: str, policy: AccessPolicy, name: str,
                  account: str, shared: AccessPolicy | None) -> None:
    if not share.grant_option:
        raise Invalid(f"{account} received {name} without the right to grant it onward",
                      code="exceeds_share")
    if kind == "account":
        raise Invalid("a shared table is granted onward to groups only", code="exceeds_share")
    if shared is None or not _policy.within(shared, policy):
        raise Invalid("the grant exposes columns or unmasked values the share does not",
                      code="exceeds_share")


def _grant_by_tags(ctx: Context, account: str, body: GrantCreate, group: str) -> GrantRead:
    if not body.to.startswith("group:"):
        raise Invalid("tag expressions are granted to groups; share tables by name",
                      code="invalid_grant")
    if body.columns or body.exclude_columns:
        raise Invalid("a tag grant chooses columns by their tags; column lists go on grants "
                      "by table name", code="invalid_grant")
    org.require_account(ctx.db, account)
    expression = _tag_expressions.parse_expression(body.tags or "", _tag_operations.tag_keys(ctx))
    policy = _policy.whole_tables(body.masks, body.row_filter, tags=expression)
    return _add_grant(ctx, account, account, "*", "*", "group", group, policy, body)


def _add_grant(ctx: Context, account: str, owner: str, database: str, table: str, kind: str,
               grantee: str, policy: AccessPolicy, body: GrantCreate) -> GrantRead:
    if ctx.db.scalar(select(LakeGrant.id).where(
            LakeGrant.account == account, LakeGrant.database == database,
            LakeGrant.table == table, LakeGrant.grantee_type == kind,
            LakeGrant.grantee == grantee)):
        raise Conflict(f"{body.to} already holds this grant; revoke it first",
                       code="grant_exists")
    row = LakeGrant(id=new_id("grt-"), account=account, owner=owner, database=database,
                    table=table, grantee_type=kind, grantee=grantee, policy=policy.to_json(),
                    grant_option=body.grant_option, created_by=ctx.principal.name,
                    created_at=now())
    ctx.db.add(row)
    emit(ctx, "TableShared" if kind == "account" else "TableGranted", account,
         {"grant": row.id, "table": body.table or body.tags, "to": body.to})
    return _grant_read(row)


@operation("lake:RevokeGrant", "write",
           target=lambda ctx, account, grant_id: lake_target(ctx, account, "grant", grant_id))
@idempotent
def revoke_grant(ctx: Context, account: str, grant_id: str) -> GrantRead:
    """Revoke a grant or share made by this account (onward grants of a share go with it)."""
    row = ctx.db.get(LakeGrant, grant_id)
    row = require(row if row is not None and row.account == account else None,
                  f"grant {grant_id!r} made by {account}", code="grant_not_found")
    read = _grant_read(row)
    if row.grantee_type == "account":
        onward = select(LakeGrant).where(
            LakeGrant.account == row.grantee, LakeGrant.owner == row.owner,
            LakeGrant.database == row.database)
        if row.table != "*":
            onward = onward.where(LakeGrant.table == row.table)
        for grant in ctx.db.scalars(onward):
            ctx.db.delete(grant)
    ctx.db.delete(row)
    return read


@operation("lake:ListGrants", "read",
           target=lambda ctx, account, **k: lake_target(ctx, account, "grant", "*"))
def list_grants(ctx: Context, account: str, *, table: str | None = None,
                page: PageParams | None = None) -> GrantPage:
    """Grants this account made and shares it received, oldest first (one page)."""
    org.require_account(ctx.db, account)
    query = select(LakeGrant).where((LakeGrant.account == account)
                                    | ((LakeGrant.grantee_type == "account")
                                       & (LakeGrant.grantee == account)))
    if table:
        database, name = split_table_name(table)
        query = query.where(LakeGrant.database == database, LakeGrant.table == name)
    return page_of(GrantPage, ctx.db, query, key=(LakeGrant.created_at, LakeGrant.id),
                   params=page, read=lambda rows: [_grant_read(g) for g in rows])


def _tag_policies(ctx: Context, account: str, database: str, table: str,
                  groups: list[str]) -> list[AccessPolicy]:
    """One policy per tag grant of the caller's groups that matches some column."""
    grants = list(ctx.db.scalars(select(LakeGrant).where(
        LakeGrant.account == account, LakeGrant.database == "*",
        LakeGrant.grantee_type == "group", LakeGrant.grantee.in_(groups or [""]))))
    if not grants:
        return []
    columns = _columns(ctx, account, database, table)
    assigned = _tag_operations.assignments_of(ctx, account, database, table)
    tags = _tag_expressions.effective(assigned, columns)
    out = []
    for grant in grants:
        policy = AccessPolicy.from_json(grant.policy)
        visible = [c for c in columns
                   if policy.tags and _tag_expressions.matches(policy.tags, tags[c])]
        fitted = _policy.fit(policy, columns, visible) if visible else None
        if fitted is not None:
            out.append(fitted)
    return out


def effective(ctx: Context, account: str, database: str,
               table: str) -> tuple[str, AccessPolicy | None] | None:
    """(owner account, policy) of a table in `account`'s catalog view for the caller:
    policy None means every column and row; None overall means not visible."""
    target = lake_target(ctx, account, "table", f"{database}/{table}")
    full = allowed(ctx, "lake:ReadTable", [target])[0]
    groups = [] if ctx.principal.is_system else identity.groups_of(ctx.db, ctx.principal.name)
    grants = ctx.db.scalars(select(LakeGrant).where(
        LakeGrant.account == account, LakeGrant.database == database,
        LakeGrant.table.in_([table, "*"]), LakeGrant.grantee_type == "group",
        LakeGrant.grantee.in_(groups or [""])))
    mine = [p for p in (_policy_for(ctx, g, table) for g in grants) if p is not None]
    if ctx.db.get(LakeTable, (account, database, table)) is not None:
        if full:
            return account, None
        mine += _tag_policies(ctx, account, database, table, groups)
        return (account, _policy.union(mine)) if mine else None
    share = _share_to(ctx, account, database, table)
    shared = _policy_for(ctx, share, table) if share is not None else None
    if shared is None or ctx.db.get(LakeTable, (share.owner, database, table)) is None:
        return None
    if full:
        return share.owner, shared
    if not mine:
        return None
    return share.owner, _policy.intersect(shared, _policy.union(mine))
