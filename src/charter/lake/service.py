"""Lake service: data domains, databases and tables in the central catalog, ingestion into
Iceberg with quality rules, snapshots."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException, ValidationError
from sqlalchemy import select

from charter.access.actions import declare
from charter.access.authorizer import Target, account_target
from charter.access.pipeline import allowed, emit, operation
from charter.core.clock import now
from charter.core.context import Context
from charter.core.ids import check_name, crn, new_id
from charter.errors import Conflict, Invalid, NotFound
from charter.lake import _iceberg, _policy, _quality, _query, _sql, _tagging, _tags
from charter.lake.orm import LakeDatabase, LakeDomain, LakeGrant, LakeTable
from charter.lake.schemas import (
    ColumnRead,
    DatabaseCreate,
    DatabaseRead,
    DomainCreate,
    DomainRead,
    GrantCreate,
    GrantRead,
    IngestReport,
    RulesAdd,
    SnapshotRead,
    TableList,
    TableRead,
)
from charter.org import service as org

DATA_GOVERNANCE = "data-governance"
# Tag operations live in _tagging; they are part of this service's API.
create_tag_key = _tagging.create_tag_key
list_tag_keys = _tagging.list_tag_keys
assign_tag = _tagging.assign_tag
MODES = ("create", "append", "overwrite")
FORMATS = ("csv", "parquet")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")


def check_identifier(value: str, what: str) -> str:
    """Database, table and column names are SQL identifiers: a-z, digits, underscores."""
    if not _IDENTIFIER.fullmatch(value or ""):
        raise Invalid(f"invalid {what} name {value!r}: use lower-case letters, digits and "
                      "underscores, starting with a letter", code=f"invalid_{what}_name")
    return value


def _in(ctx: Context, account: str, type_: str, path: str) -> Target:
    return org.target_in_account(ctx.db, account, crn(account, "lake", type_, path))


def _table_target(ctx: Context, account: str, database: str, table: str, *a: Any,
                  **k: Any) -> Target:
    return _in(ctx, account, "table", f"{database}/{table}")


def _require_database(ctx: Context, account: str, database: str) -> LakeDatabase:
    org.require_account(ctx.db, account)
    found = ctx.db.get(LakeDatabase, (account, database))
    if found is None:
        raise NotFound(f"database {database!r} does not exist in {account}",
                       code="database_not_found")
    return found


def _require_table(ctx: Context, account: str, database: str, table: str) -> LakeTable:
    _require_database(ctx, account, database)
    found = ctx.db.get(LakeTable, (account, database, table))
    if found is None:
        raise NotFound(f"table {database}.{table} does not exist in {account}",
                       code="table_not_found")
    return found


# -- domains and databases -------------------------------------------------------------

@operation("lake:CreateDomain", "write",
           target=lambda ctx, body: _in(ctx, body.account, "domain", body.name))
def create_domain(ctx: Context, body: DomainCreate) -> DomainRead:
    """Register a data domain owned by a producer account (blueprint data-domain)."""
    check_name(body.name, "domain")
    account = org.require_account(ctx.db, body.account)
    if account.blueprint != "data-domain":
        raise Invalid(f"{body.account} is a {account.blueprint} account; a domain's producer "
                      "account is vended from the data-domain blueprint",
                      code="not_a_data_domain_account")
    if ctx.db.get(LakeDomain, body.name) is not None:
        raise Conflict(f"domain {body.name!r} already exists", code="domain_exists")
    if ctx.db.scalar(select(LakeDomain.name).where(LakeDomain.account == body.account)):
        raise Conflict(f"{body.account} already produces a domain", code="domain_exists")
    domain = LakeDomain(name=body.name, account=body.account, description=body.description,
                        created_by=ctx.principal.name, created_at=now())
    ctx.db.add(domain)
    emit(ctx, "DomainCreated", body.account, {"domain": body.name})
    return _domain_read(domain)


def _domain_read(d: LakeDomain) -> DomainRead:
    return DomainRead(name=d.name, crn=crn(DATA_GOVERNANCE, "lake", "domain", d.name),
                      account=d.account, description=d.description, created_at=d.created_at)


@operation("lake:ListDomains", "read",
           target=lambda ctx: account_target(DATA_GOVERNANCE,
                                             crn(DATA_GOVERNANCE, "lake", "domain", "*")))
def list_domains(ctx: Context) -> list[DomainRead]:
    """Data domains in the central catalog."""
    return [_domain_read(d) for d in ctx.db.scalars(select(LakeDomain).order_by(LakeDomain.name))]


@operation("lake:CreateDatabase", "write",
           target=lambda ctx, account, body: _in(ctx, account, "database", body.name))
def create_database(ctx: Context, account: str, body: DatabaseCreate) -> DatabaseRead:
    """Create a database in a producer account's part of the catalog."""
    check_identifier(body.name, "database")
    org.require_account(ctx.db, account)
    if not ctx.db.scalar(select(LakeDomain.name).where(LakeDomain.account == account)):
        raise Invalid(f"{account} produces no data domain; create one with "
                      "`charter lake domains create`", code="no_data_domain")
    if ctx.db.get(LakeDatabase, (account, body.name)) is not None:
        raise Conflict(f"database {body.name!r} already exists in {account}",
                       code="database_exists")
    database = LakeDatabase(account=account, name=body.name, description=body.description,
                            created_by=ctx.principal.name, created_at=now())
    ctx.db.add(database)
    return _database_read(database)


def _database_read(d: LakeDatabase) -> DatabaseRead:
    return DatabaseRead(account=d.account, name=d.name,
                        crn=crn(d.account, "lake", "database", d.name),
                        description=d.description, created_at=d.created_at)


# -- tables ----------------------------------------------------------------------------

def _table_read(ctx: Context, row: LakeTable,
                policy: dict[str, Any] | None = None) -> TableRead:
    """A table as the caller may see it: under a grant, only its granted columns (and
    none of the quality rules, which name columns)."""
    columns: list[ColumnRead] = []
    snapshot, total = None, 0
    try:
        iceberg = _iceberg.load(ctx.runtime, row.account, row.database, row.name)
    except NotFound:
        iceberg = None
    if iceberg is not None:
        visible = policy["columns"] if policy is not None else None
        columns = [ColumnRead(name=f.name, type=str(f.field_type), required=f.required)
                   for f in iceberg.schema().fields if visible is None or f.name in visible]
        current = iceberg.current_snapshot()
        if current is not None:
            snapshot = current.snapshot_id
            total = _iceberg.snapshot_summary(iceberg, current)["total_records"]
    return TableRead(account=row.account, database=row.database, name=row.name,
                     crn=crn(row.account, "lake", "table", f"{row.database}/{row.name}"),
                     description=row.description, columns=columns,
                     rules=[] if policy is not None else
                     [_quality.rule_text(r) for r in row.rules["rules"]],
                     current_snapshot=snapshot, total_records=total,
                     created_at=row.created_at)


@operation("lake:ListTables", "read",
           target=lambda ctx, account, **k: _in(ctx, account, "table", "*"))
def list_tables(ctx: Context, account: str, *, database: str | None = None) -> TableList:
    """Databases and tables of an account, optionally of one database."""
    org.require_account(ctx.db, account)
    names = [(t.database, t.name) for t in ctx.db.scalars(
        select(LakeTable).where(LakeTable.account == account))]
    for share in ctx.db.scalars(select(LakeGrant).where(
            LakeGrant.grantee_type == "account", LakeGrant.grantee == account)):
        if share.table != "*":
            names.append((share.database, share.table))
        else:
            names += [(t.database, t.name) for t in ctx.db.scalars(select(LakeTable).where(
                LakeTable.account == share.owner, LakeTable.database == share.database))]
    tables = []
    for db_name, name in sorted(set(names)):
        if database is not None and db_name != database:
            continue
        found = _effective(ctx, account, db_name, name)
        if found is not None:
            owner, policy = found
            tables.append(_table_read(ctx, ctx.db.get(LakeTable, (owner, db_name, name)),
                                      policy))
    dbs = select(LakeDatabase).where(LakeDatabase.account == account)
    if database is not None:
        dbs = dbs.where(LakeDatabase.name == database)
    everything = allowed(ctx, "lake:ReadTable", [_in(ctx, account, "table", "*")])[0]
    shown = {t.database for t in tables}
    return TableList(
        databases=[_database_read(d) for d in ctx.db.scalars(dbs.order_by(LakeDatabase.name))
                   if everything or d.name in shown],
        tables=tables)


@operation("lake:DescribeTable", "read", target=_table_target)
def get_table(ctx: Context, account: str, database: str, table: str) -> TableRead:
    """A table's columns, quality rules and current snapshot, as the caller may see it."""
    owner, policy = _visible(ctx, account, database, table)
    return _table_read(ctx, ctx.db.get(LakeTable, (owner, database, table)), policy)


def _visible(ctx: Context, account: str, database: str,
             table: str) -> tuple[str, dict[str, Any] | None]:
    """(owner, policy) of a table the caller may read in `account`'s catalog; the same
    refusal whether the table is missing or not the caller's to see."""
    org.require_account(ctx.db, account)
    found = _effective(ctx, account, database, table)
    if found is None:
        raise NotFound(f"no table {database}.{table} that you may read in {account}",
                       code="table_not_found")
    return found


@operation("lake:ListSnapshots", "read", target=_table_target)
def list_snapshots(ctx: Context, account: str, database: str, table: str) -> list[SnapshotRead]:
    """Every snapshot of a table, oldest first: each write made one."""
    owner, _ = _visible(ctx, account, database, table)
    iceberg = _iceberg.load(ctx.runtime, owner, database, table)
    out = []
    for snap in iceberg.snapshots():
        s = _iceberg.snapshot_summary(iceberg, snap)
        out.append(SnapshotRead(
            snapshot_id=s["snapshot_id"], parent_id=s["parent_id"],
            timestamp=datetime.fromtimestamp(s["timestamp_ms"] / 1000, UTC),
            operation=s["operation"], added_records=s["added_records"],
            total_records=s["total_records"]))
    return out


@operation("lake:AddQualityRules", "write", target=_table_target)
def add_rules(ctx: Context, account: str, database: str, table: str,
              body: RulesAdd) -> TableRead:
    """Declare quality rules on a table; every later write must pass them."""
    row = _require_table(ctx, account, database, table)
    parsed = [_quality.parse_rule(text) for text in body.rules]
    columns = {c.name for c in _table_read(ctx, row).columns}
    for rule in parsed:
        if "column" in rule and columns and rule["column"] not in columns:
            raise Invalid(f"rule {_quality.rule_text(rule)} names column {rule['column']!r}, "
                          f"which {database}.{table} does not have", code="unknown_column")
    known = {_quality.rule_text(r) for r in row.rules["rules"]}
    row.rules = {"rules": [*row.rules["rules"],
                           *(r for r in parsed if _quality.rule_text(r) not in known)]}
    return _table_read(ctx, row)


@operation("lake:IngestTable", "write", target=_table_target)
def ingest(ctx: Context, account: str, database: str, table: str, data: bytes, *,
           fmt: str = "csv", mode: str = "append", schema: dict[str, Any] | None = None,
           evolve: bool = False) -> IngestReport:
    """Write a CSV or Parquet file into a table as one snapshot, after its quality rules
    pass; a failing write writes nothing and reports the failing rules with examples."""
    if mode not in MODES or fmt not in FORMATS:
        raise Invalid(f"mode is one of {', '.join(MODES)}; format one of {', '.join(FORMATS)}",
                      code="invalid_request")
    _require_database(ctx, account, database)
    check_identifier(table, "table")
    row = ctx.db.get(LakeTable, (account, database, table))
    if mode == "create" and row is not None:
        raise Conflict(f"table {database}.{table} already exists; use --mode append or "
                       "overwrite", code="table_exists")
    if mode != "create" and row is None:
        raise NotFound(f"table {database}.{table} does not exist in {account}; use --mode "
                       "create", code="table_not_found")
    new = _iceberg.read_input(data, fmt, schema)
    for column in new.column_names:
        check_identifier(column, "column")
    if row is None:
        row = LakeTable(account=account, database=database, name=table, description="",
                        rules={"rules": []}, created_by=ctx.principal.name, created_at=now())
        ctx.db.add(row)
        ctx.db.flush()
        return _write_new(ctx, row, new)
    return _write_existing(ctx, row, new, mode, evolve)


def _quality_gate(row: LakeTable, new: Any, existing: Any, replaces: bool) -> None:
    failures = _quality.check(row.rules["rules"], new, existing, replaces)
    if failures:
        names = ", ".join(f["rule"] for f in failures)
        raise Invalid(f"the write breaks {len(failures)} quality rule(s): {names}; nothing "
                      "was written", code="quality_check_failed", failures=failures)


def _write_new(ctx: Context, row: LakeTable, new: Any) -> IngestReport:
    cat = _iceberg.catalog(ctx.runtime)
    ident = (row.account, row.database, row.name)
    cat.create_namespace_if_not_exists((row.account, row.database))
    iceberg = cat.create_table(ident, schema=new.schema, location=_iceberg.location(
        ctx.runtime, *ident))
    try:
        iceberg.append(new)
    except Exception:
        cat.drop_table(ident)  # the catalog row rolls back with the operation
        raise
    return _report(ctx, row, "create", iceberg, new.num_rows, [])


def _write_existing(ctx: Context, row: LakeTable, new: Any, mode: str,
                    evolve: bool) -> IngestReport:
    iceberg = _iceberg.load(ctx.runtime, row.account, row.database, row.name)
    current = {f.name for f in iceberg.schema().fields}
    added = [c for c in new.column_names if c not in current]
    if added and not evolve:
        raise Invalid(f"the file has columns the table does not: {', '.join(added)}; add "
                      "--evolve to add them to the table", code="schema_mismatch")
    needs_existing = mode == "append" and any(
        r["kind"] in ("unique", "row_count") for r in row.rules["rules"])
    existing = iceberg.scan().to_arrow() if needs_existing else None
    _quality_gate(row, new, existing, replaces=mode == "overwrite")
    try:
        with iceberg.transaction() as tx:  # schema change and data: one commit
            if added:
                with tx.update_schema() as update:
                    update.union_by_name(new.schema)
            if mode == "overwrite":
                tx.overwrite(new)
            else:
                tx.append(new)
    except (ValueError, TypeError, ValidationError, pa.ArrowException) as exc:
        message = str(exc).splitlines()[0][:300]
        raise Invalid(f"the file does not match the table's schema: {message}",
                      code="schema_mismatch") from None
    except CommitFailedException as exc:
        raise Conflict(f"another write to {row.database}.{row.name} committed first: {exc}",
                       code="concurrent_write") from None
    iceberg = iceberg.refresh()
    return _report(ctx, row, mode, iceberg, new.num_rows, added)


def _report(ctx: Context, row: LakeTable, mode: str, iceberg: Any, rows: int,
            added: list[str]) -> IngestReport:
    current = iceberg.current_snapshot()
    summary = _iceberg.snapshot_summary(iceberg, current)
    emit(ctx, "TableWritten", row.account,
         {"table": f"{row.database}.{row.name}", "snapshot": current.snapshot_id, "mode": mode})
    return IngestReport(table=f"{row.database}.{row.name}", mode=mode, rows_written=rows,
                        snapshot_id=current.snapshot_id,
                        total_records=summary["total_records"], columns_added=added)


# -- governed SQL ----------------------------------------------------------------------

declare("lake:ReadTable", "read",
        "Read every column and row of a table (producers and data lake administrators)")


def _query_target(ctx: Context, account: str, sql: str, **k: Any) -> Target:
    return _in(ctx, account, "query", "sql")


@operation("lake:QueryTables", "read", target=_query_target)
def query(ctx: Context, account: str, sql: str, *,
          snapshots: dict[str, int] | None = None) -> pa.Table:
    """Run one SELECT over the account's catalog under the caller's effective policy."""
    org.require_account(ctx.db, account)
    parsed = _sql.parse(sql)
    pinned = _pinned_snapshots(snapshots or {})
    views: dict[tuple[str, str], str] = {}
    sources: dict[str, Any] = {}
    read: list[dict[str, Any]] = []
    ctx.audit_details["tables"] = read
    view_sql: dict[str, str] = {}
    for i, (database, table) in enumerate(parsed.tables):
        owner, policy, iceberg = _readable(ctx, account, database, table)
        data, snapshot = _query.source(iceberg, pinned.pop((database, table), None))
        views[(database, table)] = name = f"__charter_view_{i}"
        sources[f"__charter_source_{i}"] = data
        columns = list(data.schema.names)
        view_sql[name] = _policy.view_sql(policy, columns, f"__charter_source_{i}")
        read.append({"table": f"{database}.{table}", "owner": owner, "snapshot": snapshot,
                     "columns": [c for c in columns if policy is None or
                                 policy["columns"] is None or c in policy["columns"]],
                     "governed": policy is not None})
    if pinned:
        names = ", ".join(f"{d}.{t}" for d, t in pinned)
        raise Invalid(f"--snapshot names tables the query does not read: {names}",
                      code="invalid_snapshot")
    result = _query.run(_sql.rewrite(parsed, views), sources, view_sql)
    ctx.audit_details["rows"] = result.num_rows
    return result


def _pinned_snapshots(snapshots: dict[str, int]) -> dict[tuple[str, str], int]:
    out = {}
    for name, snapshot_id in snapshots.items():
        database, sep, table = name.lower().partition(".")
        if not sep or not isinstance(snapshot_id, int):
            raise Invalid(f"--snapshot takes DB.TABLE=ID, not {name}={snapshot_id}",
                          code="invalid_snapshot")
        out[(database, table)] = snapshot_id
    return out


def _readable(ctx: Context, account: str, database: str,
              table: str) -> tuple[str, dict[str, Any] | None, Any]:
    """(owner, policy, Iceberg table) if the caller may read it; otherwise the same refusal
    whether or not it exists, so a query never tells which tables there are."""
    found = _effective(ctx, account, database, table)
    if found is None:
        raise _sql.refused(f"no table {database}.{table} that you may read in the catalog "
                           f"of {account}")
    owner, policy = found
    return owner, policy, _iceberg.load(ctx.runtime, owner, database, table)


# -- grants and shares -----------------------------------------------------------------

def _grant_read(g: LakeGrant) -> GrantRead:
    name = (f"tags: {g.policy['tags']}" if g.database == "*" else g.database
            if g.table == "*" else f"{g.database}.{g.table}")
    return GrantRead(id=g.id, crn=crn(g.account, "lake", "grant", g.id), account=g.account,
                     owner=g.owner, table=name,
                     grantee=f"{g.grantee_type}:{g.grantee}", columns=g.policy["columns"],
                     row_filter=g.policy["row_filter"], masks=g.policy["masks"],
                     grant_option=g.grant_option, created_by=g.created_by,
                     created_at=g.created_at)


def _split_table(name: str) -> tuple[str, str]:
    database, sep, table = name.lower().partition(".")
    if not sep or not database or not table:
        raise Invalid(f"name the table as DB.TABLE, not {name!r}", code="invalid_table_name")
    return database, table


def _share_to(ctx: Context, account: str, database: str, table: str) -> LakeGrant | None:
    """The share of `database.table` that `account` received (of the table itself, else of
    its whole database), if any."""
    shares = {g.table: g for g in ctx.db.scalars(select(LakeGrant).where(
        LakeGrant.grantee_type == "account", LakeGrant.grantee == account,
        LakeGrant.database == database, LakeGrant.table.in_([table, "*"])))}
    return shares.get(table) or shares.get("*")


def _columns(ctx: Context, owner: str, database: str, table: str) -> list[str]:
    return [f.name for f in _iceberg.load(ctx.runtime, owner, database, table).schema().fields]


def _policy_for(ctx: Context, grant: LakeGrant, table: str) -> dict[str, Any] | None:
    """A grant's policy on one table; a database grant fits itself to the table's columns
    (None: its row filter names a column the table lacks, so it does not cover it)."""
    if grant.table != "*":
        return grant.policy
    return _policy.fit(grant.policy, _columns(ctx, grant.owner, grant.database, table))


def _grant_target(ctx: Context, account: str, body: GrantCreate) -> Target:
    return _in(ctx, account, "grant", body.table or "tags")


@operation("lake:GrantTable", "write", target=_grant_target)
def grant_table(ctx: Context, account: str, body: GrantCreate) -> GrantRead:
    """Grant a table (or every column whose tags match an expression) to a group, or share
    a table with another account, with optional column list, row filter and masks. A
    consumer grants a share onward only within it."""
    from charter.identity import service as identity

    kind, _, grantee = body.to.partition(":")
    if kind not in ("group", "account") or not grantee:
        raise Invalid("--to takes group:NAME or account:NAME", code="invalid_grantee")
    if (body.table is None) == (body.tags is None):
        raise Invalid("grant either DB.TABLE or --tags EXPR", code="invalid_grant")
    if kind == "group":
        identity.ensure_group_exists(ctx, grantee)
    if body.tags is not None:
        return _grant_by_tags(ctx, account, body, grantee)
    if "." not in (body.table or ""):
        return _grant_database(ctx, account, body, kind, grantee)
    database, table = _split_table(body.table)
    owned = ctx.db.get(LakeTable, (account, database, table))
    share = None if owned else _share_to(ctx, account, database, table)
    if owned is None and share is None:
        raise NotFound(f"{account} has no table {database}.{table} of its own or shared with "
                       "it", code="table_not_found")
    owner = account if owned else share.owner
    iceberg = _iceberg.load(ctx.runtime, owner, database, table)
    policy = _policy.make_policy([f.name for f in iceberg.schema().fields],
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
    _require_database(ctx, account, database)
    if body.columns or body.exclude_columns:
        raise Invalid("a database grant covers whole tables; column lists go on grants by "
                      "table name", code="invalid_grant")
    if kind == "account":
        _check_share_target(ctx, account, grantee, database)
    policy = {"columns": None, "masks": _policy.check_masks(body.masks),
              "row_filter": _policy.parse_filter(body.row_filter, None)
              if body.row_filter else None}
    return _add_grant(ctx, account, account, database, "*", kind, grantee, policy, body)


def _check_share_target(ctx: Context, account: str, grantee: str, database: str) -> None:
    org.require_account(ctx.db, grantee)
    if grantee == account:
        raise Invalid("an account cannot share with itself", code="invalid_grantee")
    if ctx.db.get(LakeDatabase, (grantee, database)) is not None:
        raise Conflict(f"{grantee} has a database named {database} of its own",
                       code="database_name_taken")


def _check_onward(share: LakeGrant, kind: str, policy: dict[str, Any], name: str,
                  account: str, shared: dict[str, Any] | None) -> None:
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
    expression = _tags.parse_expression(body.tags or "", _tagging.tag_keys(ctx))
    # Masks and a row filter apply to each matching table that has the columns they name;
    # a table without a filter's columns is not covered (never shown unfiltered).
    policy = {"columns": None, "masks": _policy.check_masks(body.masks), "tags": expression,
              "row_filter": _policy.parse_filter(body.row_filter, None)
              if body.row_filter else None}
    return _add_grant(ctx, account, account, "*", "*", "group", group, policy, body)


def _add_grant(ctx: Context, account: str, owner: str, database: str, table: str, kind: str,
               grantee: str, policy: dict[str, Any], body: GrantCreate) -> GrantRead:
    if ctx.db.scalar(select(LakeGrant.id).where(
            LakeGrant.account == account, LakeGrant.database == database,
            LakeGrant.table == table, LakeGrant.grantee_type == kind,
            LakeGrant.grantee == grantee)):
        raise Conflict(f"{body.to} already holds this grant; revoke it first",
                       code="grant_exists")
    row = LakeGrant(id=new_id("grt-"), account=account, owner=owner, database=database,
                    table=table, grantee_type=kind, grantee=grantee, policy=policy,
                    grant_option=body.grant_option, created_by=ctx.principal.name,
                    created_at=now())
    ctx.db.add(row)
    emit(ctx, "TableShared" if kind == "account" else "TableGranted", account,
         {"grant": row.id, "table": body.table or body.tags, "to": body.to})
    return _grant_read(row)


@operation("lake:RevokeGrant", "write",
           target=lambda ctx, account, grant_id: _in(ctx, account, "grant", grant_id))
def revoke_grant(ctx: Context, account: str, grant_id: str) -> GrantRead:
    """Revoke a grant or share made by this account (onward grants of a share go with it)."""
    row = ctx.db.get(LakeGrant, grant_id)
    if row is None or row.account != account:
        raise NotFound(f"{account} made no grant {grant_id!r}", code="grant_not_found")
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
           target=lambda ctx, account, **k: _in(ctx, account, "grant", "*"))
def list_grants(ctx: Context, account: str, *, table: str | None = None) -> list[GrantRead]:
    """Grants this account made and shares it received."""
    org.require_account(ctx.db, account)
    query = select(LakeGrant).where((LakeGrant.account == account)
                                    | ((LakeGrant.grantee_type == "account")
                                       & (LakeGrant.grantee == account)))
    if table:
        database, name = _split_table(table)
        query = query.where(LakeGrant.database == database, LakeGrant.table == name)
    return [_grant_read(g) for g in ctx.db.scalars(query.order_by(LakeGrant.created_at))]


def _tag_policies(ctx: Context, account: str, database: str, table: str,
                  groups: list[str]) -> list[dict[str, Any]]:
    """One policy per tag grant of the caller's groups that matches some column."""
    grants = list(ctx.db.scalars(select(LakeGrant).where(
        LakeGrant.account == account, LakeGrant.database == "*",
        LakeGrant.grantee_type == "group", LakeGrant.grantee.in_(groups or [""]))))
    if not grants:
        return []
    columns = [f.name for f in _iceberg.load(ctx.runtime, account, database, table)
               .schema().fields]
    tags = _tags.effective(_tagging.assignments_of(ctx, account, database, table), columns)
    out = []
    for grant in grants:
        visible = [c for c in columns if _tags.matches(grant.policy["tags"], tags[c])]
        row_filter = grant.policy["row_filter"]
        if not visible or (row_filter and not _policy.filter_columns(row_filter) <= set(columns)):
            continue
        masks = {c: k for c, k in grant.policy["masks"].items() if c in visible}
        out.append({"columns": visible, "row_filter": row_filter, "masks": masks})
    return out


def _effective(ctx: Context, account: str, database: str,
               table: str) -> tuple[str, dict[str, Any] | None] | None:
    """(owner account, policy) of a table in `account`'s catalog view for the caller:
    policy None means every column and row; None overall means not visible."""
    from charter.identity import service as identity

    full = allowed(ctx, "lake:ReadTable", [_in(ctx, account, "table", f"{database}/{table}")])[0]
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
