"""Lake service: data domains, databases and tables in the central catalog, ingestion into
Iceberg with quality rules, snapshots, and governed queries.

A governed query keeps, per caller, what it may read of each table under the policy and
data versions (`_readable`: never stale, since only write operations change it), and
hands the rest to `_sql` (parse, rewrite) and `_query` (check, run); docs/design.md,
"What a query keeps"."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pyarrow as pa
from cachetools import LRUCache
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, ValidationError
from sqlalchemy import func, select

from charter.access.actions import declare
from charter.access.authorizer import Target, account_target, current_version, data_version
from charter.access.idempotency import idempotent
from charter.access.pipeline import allowed, emit, operation
from charter.core import faults
from charter.core.accounts import DATA_GOVERNANCE
from charter.core.clock import now
from charter.core.context import Context, Runtime
from charter.core.db import lock
from charter.core.ids import check_name, crn, split_table_name
from charter.core.pagination import PageParams, page_of, paginate
from charter.core.storage import storage_errors
from charter.errors import Conflict, Invalid, NotFound
from charter.lake import (
    _admission,
    _grants,
    _iceberg,
    _input,
    _policy,
    _quality,
    _query,
    _recovery,
    _sql,
    _tag_operations,
)
from charter.lake._common import (
    catalog_names_lock,
    check_identifier,
    column_names,
    hash_mask_key,
    lake_target,
    require_database,
    require_table,
)
from charter.lake._grants import effective as _effective
from charter.lake._policy import AccessPolicy
from charter.lake.orm import LakeDatabase, LakeDomain, LakeGrant, LakeTable
from charter.lake.schemas import (
    ColumnRead,
    DatabaseCreate,
    DatabasePage,
    DatabaseRead,
    DomainCreate,
    DomainPage,
    DomainRead,
    IngestReport,
    RulesAdd,
    SnapshotPage,
    SnapshotRead,
    TablePage,
    TableRead,
)
from charter.org import service as org

# Grant and tag operations live in _grants and _tag_operations; they are part of this API.
grant_table = _grants.grant_table
revoke_grant = _grants.revoke_grant
list_grants = _grants.list_grants
create_tag_key = _tag_operations.create_tag_key
list_tag_keys = _tag_operations.list_tag_keys
assign_tag = _tag_operations.assign_tag
recover = _recovery.recover


def install(runtime: Runtime) -> None:
    """At the start of every serving process: undo what a crash left in the lake catalog."""
    recover(runtime)
MODES = ("create", "append", "overwrite")
FORMATS = ("csv", "parquet")
def _table_target(ctx: Context, account: str, database: str, table: str, *a: Any,
                  **k: Any) -> Target:
    return lake_target(ctx, account, "table", f"{database}/{table}")


# -- domains and databases -------------------------------------------------------------

@operation("lake:CreateDomain", "write",
           target=lambda ctx, body: lake_target(ctx, body.account, "domain", body.name))
@idempotent
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
           target=lambda ctx, **k: account_target(DATA_GOVERNANCE,
                                                  crn(DATA_GOVERNANCE, "lake", "domain", "*")))
def list_domains(ctx: Context, *, page: PageParams | None = None) -> DomainPage:
    """Data domains in the central catalog, by name (one page)."""
    return page_of(DomainPage, ctx.db, select(LakeDomain), key=(LakeDomain.name,),
                   params=page, read=lambda rows: [_domain_read(d) for d in rows])


@operation("lake:CreateDatabase", "write",
           target=lambda ctx, account, body: lake_target(ctx, account, "database", body.name))
@idempotent
def create_database(ctx: Context, account: str, body: DatabaseCreate) -> DatabaseRead:
    """Create a database in a producer account's part of the catalog."""
    check_identifier(body.name, "database")
    org.require_account(ctx.db, account)
    if not ctx.db.scalar(select(LakeDomain.name).where(LakeDomain.account == account)):
        raise Invalid(f"{account} produces no data domain; register a data domain owned by "
                      "it first", code="no_data_domain")
    if ctx.db.get(LakeDatabase, (account, body.name)) is not None:
        raise Conflict(f"database {body.name!r} already exists in {account}",
                       code="database_exists")
    # A database of the account's own would shadow a share of that name in its catalog.
    # Of a share and a database of one name made at once, the second waits for the first.
    lock(ctx.db, catalog_names_lock(account))
    if ctx.db.scalar(select(LakeGrant.owner).where(
            LakeGrant.grantee_type == "account", LakeGrant.grantee == account,
            LakeGrant.database == body.name).limit(1)):
        raise Conflict(f"{account} receives a share of a database named {body.name!r}; "
                       "choose another name", code="database_name_taken")
    database = LakeDatabase(account=account, name=body.name, description=body.description,
                            created_by=ctx.principal.name, created_at=now())
    ctx.db.add(database)
    return _database_read(database)


def _database_read(d: LakeDatabase) -> DatabaseRead:
    return DatabaseRead(account=d.account, name=d.name,
                        crn=crn(d.account, "lake", "database", d.name),
                        description=d.description, created_at=d.created_at)


# -- tables ----------------------------------------------------------------------------

def _row_filtered(policy: AccessPolicy | None) -> bool:
    """Whether a caller's policy hides some rows: then the table's counts, which count
    them too, are withheld."""
    return bool(policy and policy.row_filter)


def _table_read(ctx: Context, row: LakeTable,
                policy: AccessPolicy | None = None) -> TableRead:
    """A table as the caller may see it: under a grant, only its granted columns (and
    none of the quality rules, which name columns); under a row filter, no count."""
    columns: list[ColumnRead] = []
    snapshot, total = None, None if _row_filtered(policy) else 0
    try:
        iceberg = _iceberg.load(ctx.runtime, row.account, row.database, row.name)
    except NotFound:
        iceberg = None
    if iceberg is not None:
        columns = [ColumnRead(name=f.name, type=str(f.field_type), required=f.required)
                   for f in iceberg.schema().fields if policy is None or policy.shows(f.name)]
        current = iceberg.current_snapshot()
        if current is not None:
            snapshot = current.snapshot_id
            if total is not None:
                total = _iceberg.snapshot_summary(iceberg, current)["total_records"]
    return TableRead(account=row.account, database=row.database, name=row.name,
                     crn=crn(row.account, "lake", "table", f"{row.database}/{row.name}"),
                     description=row.description, columns=columns,
                     rules=[] if policy is not None else
                     [_quality.rule_text(r) for r in row.rules["rules"]],
                     current_snapshot=snapshot, total_records=total,
                     created_at=row.created_at)


def _catalog_query(account: str, database: str | None) -> Any:
    """The tables of an account's catalog: its own and those shared with it."""
    shared = select(LakeGrant.id).where(
        LakeGrant.grantee_type == "account", LakeGrant.grantee == account,
        LakeGrant.owner == LakeTable.account, LakeGrant.database == LakeTable.database,
        LakeGrant.table.in_([LakeTable.name, "*"]))
    query = select(LakeTable).where((LakeTable.account == account) | shared.exists())
    if database is not None:
        query = query.where(LakeTable.database == database)
    return query


@operation("lake:ListTables", "read",
           target=lambda ctx, account, **k: lake_target(ctx, account, "table", "*"))
def list_tables(ctx: Context, account: str, *, database: str | None = None,
                page: PageParams | None = None) -> TablePage:
    """One page of the tables in an account's catalog (its own and those shared with it)
    that the caller may read, optionally of one database; its total counts only those."""
    org.require_account(ctx.db, account)
    policies: dict[tuple[str, str, str], AccessPolicy | None] = {}

    def readable(rows: list[LakeTable]) -> list[bool]:
        kept = []
        for row in rows:
            found = _effective(ctx, account, row.database, row.name)
            # The table this name stands for in the account's catalog, and no other.
            kept.append(found is not None and found[0] == row.account)
            if kept[-1] and found is not None:
                policies[(row.account, row.database, row.name)] = found[1]
        return kept

    page = page or PageParams()
    query = _catalog_query(account, database)
    # A caller who reads every table of the account is counted in SQL; another's total
    # takes a decision per table.
    everything = allowed(ctx, "lake:ReadTable", [lake_target(ctx, account, "table", "*")])[0]
    found = paginate(ctx.db, query, key=(LakeTable.database, LakeTable.name, LakeTable.account),
                     params=page, keep=readable, count=not everything)
    if everything:
        found = dataclasses.replace(found, total=ctx.db.scalar(
            select(func.count()).select_from(query.subquery())) or 0)
    tables = [_table_read(ctx, t, policies[(t.account, t.database, t.name)])
              for t in found.rows]
    return found.to_page(TablePage, tables, page)


@operation("lake:ListDatabases", "read",
           target=lambda ctx, account, **k: lake_target(ctx, account, "database", "*"))
def list_databases(ctx: Context, account: str, *,
                   page: PageParams | None = None) -> DatabasePage:
    """One page of an account's own databases, by name: all of them for a caller who may
    read its every table, else those holding a table the caller may read."""
    org.require_account(ctx.db, account)
    keep = None
    if not allowed(ctx, "lake:ReadTable", [lake_target(ctx, account, "table", "*")])[0]:
        def keep(rows: list[LakeDatabase]) -> list[bool]:
            return [any(found is not None and found[0] == account
                        for found in (_effective(ctx, account, d.name, t) for t in
                                      ctx.db.scalars(select(LakeTable.name).where(
                                          LakeTable.account == account,
                                          LakeTable.database == d.name))))
                    for d in rows]
    return page_of(DatabasePage, ctx.db,
                   select(LakeDatabase).where(LakeDatabase.account == account),
                   key=(LakeDatabase.name,), params=page, keep=keep,
                   read=lambda rows: [_database_read(d) for d in rows])


@operation("lake:DescribeTable", "read", target=_table_target)
def get_table(ctx: Context, account: str, database: str, table: str) -> TableRead:
    """A table's columns, quality rules and current snapshot, as the caller may see it."""
    owner, policy = _visible(ctx, account, database, table)
    return _table_read(ctx, ctx.db.get(LakeTable, (owner, database, table)), policy)


def _visible(ctx: Context, account: str, database: str,
             table: str) -> tuple[str, AccessPolicy | None]:
    """(owner, policy) of a table the caller may read in `account`'s catalog; the same
    refusal whether the table is missing or not the caller's to see."""
    org.require_account(ctx.db, account)
    found = _effective(ctx, account, database, table)
    if found is None:
        raise NotFound(f"no table {database}.{table} that you may read in {account}",
                       code="table_not_found")
    return found


@operation("lake:ListSnapshots", "read", target=_table_target)
def list_snapshots(ctx: Context, account: str, database: str, table: str, *,
                   page: PageParams | None = None) -> SnapshotPage:
    """One page of a table's snapshots, oldest first: each write made one. Under a row
    filter, without their counts."""
    page = page or PageParams()
    if page.cursor:
        raise Invalid("snapshots page by offset, not by cursor", code="invalid_cursor")
    owner, policy = _visible(ctx, account, database, table)
    counts = not _row_filtered(policy)
    iceberg = _iceberg.load(ctx.runtime, owner, database, table)
    every = iceberg.snapshots()  # Iceberg's metadata holds them all, oldest first
    items = []
    for snap in every[page.offset:page.offset + page.limit]:
        s = _iceberg.snapshot_summary(iceberg, snap)
        items.append(SnapshotRead(
            snapshot_id=s["snapshot_id"], parent_id=s["parent_id"],
            timestamp=datetime.fromtimestamp(s["timestamp_ms"] / 1000, UTC),
            operation=s["operation"], added_records=s["added_records"] if counts else None,
            total_records=s["total_records"] if counts else None))
    return SnapshotPage(items=items, total=len(every), limit=page.limit, offset=page.offset)


@operation("lake:AddQualityRules", "write", target=_table_target)
@idempotent
def add_rules(ctx: Context, account: str, database: str, table: str,
              body: RulesAdd) -> TableRead:
    """Declare quality rules on a table; every later write must pass them."""
    row = require_table(ctx, account, database, table)
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
@idempotent
def ingest(ctx: Context, account: str, database: str, table: str, data: bytes, *,
           fmt: str = "csv", mode: str = "append", schema: dict[str, Any] | None = None,
           evolve: bool = False, delimiter: str | None = None) -> IngestReport:
    """Write a CSV or Parquet file into a table as one snapshot, after its quality rules
    pass; a failing write writes nothing and reports the failing rules with examples.
    The snapshot commits with the operation's transaction (docs/design.md)."""
    faults.arm_commit(ctx.settings.fault_point, ctx.db)
    _fault(ctx, "lake.ingest.start")
    if mode not in MODES or fmt not in FORMATS:
        raise Invalid(f"mode is one of {', '.join(MODES)}; format one of {', '.join(FORMATS)}",
                      code="invalid_request")
    require_database(ctx, account, database)
    check_identifier(table, "table")
    # Writes to one table queue here (on SQLite every write already does), so the second
    # of two creates finds the first's table, and appends do not race to commit.
    lock(ctx.db, f"lake.table:{account}.{database}.{table}")
    row = ctx.db.get(LakeTable, (account, database, table))
    if mode == "create" and row is not None:
        raise Conflict(f"table {database}.{table} already exists; ingest in mode append or "
                       "overwrite", code="table_exists")
    if mode != "create" and row is None:
        raise NotFound(f"table {database}.{table} does not exist in {account}; ingest in "
                       "mode create", code="table_not_found")
    iceberg = None
    if row is not None:  # a CSV is read with the table's types
        with storage_errors(ctx.runtime.storage):
            iceberg = _iceberg.load(ctx.runtime, account, database, table, session=ctx.db)
    new = _input.read_input(data, fmt, schema, delimiter=delimiter,
                            max_columns=ctx.settings.lake.ingest_max_columns,
                            table=iceberg.schema() if iceberg is not None else None)
    for column in new.column_names:
        check_identifier(column, "column")
    _fault(ctx, "lake.ingest.read")
    with storage_errors(ctx.runtime.storage):  # files and metadata go to the object store
        if row is None:
            row = LakeTable(account=account, database=database, name=table, description="",
                            rules={"rules": []}, created_by=ctx.principal.name,
                            created_at=now())
            ctx.db.add(row)
            ctx.db.flush()
            report = _write_new(ctx, row, new)
        else:
            report = _write_existing(ctx, row, iceberg, new, mode, evolve)
    _fault(ctx, "lake.ingest.written")
    return report


def _fault(ctx: Context, name: str) -> None:
    faults.reach(ctx.settings.fault_point, name)


def _quality_gate(row: LakeTable, new: Any, existing: Any, replaces: bool) -> None:
    failures = _quality.check(row.rules["rules"], new, existing, replaces)
    if failures:
        names = ", ".join(f["rule"] for f in failures)
        raise Invalid(f"the write breaks {len(failures)} quality rule(s): {names}; nothing "
                      "was written", code="quality_check_failed", failures=failures)


def _write_new(ctx: Context, row: LakeTable, new: Any) -> IngestReport:
    cat = _iceberg.joined(ctx.runtime, ctx.db)
    ident = (row.account, row.database, row.name)
    # The namespace row commits with this write: a create of another table beside it
    # waits here, then finds it, rather than failing on the insert.
    lock(ctx.db, f"lake.namespace:{row.account}.{row.database}")
    cat.create_namespace_if_not_exists((row.account, row.database))
    try:
        # A catalog entry without its Charter table: left by a write that crashed under
        # an older version, which committed the catalog on its own. Replaced.
        cat.drop_table(ident)
        ctx.audit_details["replaced_orphan_catalog_entry"] = True
    except NoSuchTableError:
        pass
    _fault(ctx, "lake.ingest.checked")
    iceberg = cat.create_table(ident, schema=new.schema, location=_iceberg.location(
        ctx.runtime, *ident))
    iceberg.append(new)  # a failure rolls the catalog row back with the operation
    return _report(ctx, row, "create", iceberg, new.num_rows, [])


def _write_existing(ctx: Context, row: LakeTable, iceberg: Any, new: Any, mode: str,
                    evolve: bool) -> IngestReport:
    current = set(column_names(iceberg))
    added = [c for c in new.column_names if c not in current]
    if added and not evolve:
        raise Invalid(f"the file has columns the table does not: {', '.join(added)}; ingest "
                      "with evolve to add them to the table", code="schema_mismatch",
                      columns=added)
    _check_types(row, iceberg.schema(), new)  # rules read values of the table's types
    needs_existing = mode == "append" and any(
        r["kind"] in ("unique", "row_count") for r in row.rules["rules"])
    existing = iceberg.scan().to_arrow() if needs_existing else None
    _quality_gate(row, new, existing, replaces=mode == "overwrite")
    _fault(ctx, "lake.ingest.checked")
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
        message = _input.redacted(str(exc)).rstrip(":")
        raise Invalid(f"the file does not match the table's schema: {message}",
                      code="schema_mismatch") from None
    except CommitFailedException as exc:
        raise Conflict(f"another write to {row.database}.{row.name} committed first: {exc}",
                       code="concurrent_write") from None
    iceberg = iceberg.refresh()
    return _report(ctx, row, mode, iceberg, new.num_rows, added)


def _check_types(row: LakeTable, table: Any, new: pa.Table) -> None:
    """Refuse a file whose columns the table cannot take, naming each with its types."""
    columns = _input.mismatched(table, new.schema)
    if columns:
        named = ", ".join(f"{c['column']} ({c['found']}, expected {c['expected']})"
                          for c in columns[:10])
        raise Invalid(f"the file does not match the schema of {row.database}.{row.name}: "
                      f"{named}; nothing was written", code="schema_mismatch",
                      columns=columns)


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
    return lake_target(ctx, account, "query", "sql")


@operation("lake:QueryTables", "read", target=_query_target, read_only=True)
def query(ctx: Context, account: str, sql: str, *,
          snapshots: dict[str, int] | None = None) -> pa.Table:
    """Run one SELECT over the account's catalog under the caller's effective policy."""
    limit = ctx.settings.lake.query_max_length
    if len(sql) > limit:
        raise Invalid(f"the query is {len(sql)} characters long; at most {limit} are accepted "
                      "(CHARTER_LAKE_QUERY_MAX_LENGTH)", code="query_too_long")
    scope = (ctx.principal.name, ctx.principal.is_system)  # what is kept by text, per caller
    # Parsing, planning and running all hold a slot: see _admission.
    with _admission.slots(ctx.runtime).slot(scope):
        return _query_in_slot(ctx, account, sql, snapshots or {}, scope)


def _query_in_slot(ctx: Context, account: str, sql: str, snapshots: dict[str, int],
                   scope: _sql.Scope) -> pa.Table:
    # Held for the whole query, so the session's identity map answers later lookups of it.
    _account = org.require_account(ctx.db, account)
    parsed = _sql.parse(sql, scope)
    pinned = _pinned_snapshots(snapshots)
    read: list[dict[str, Any]] = []
    ctx.audit_details["tables"] = read
    # View names no query can guess (and the parser refuses the prefix anyway), the same
    # for every query of this process, so a repeated query's checks are kept by its text.
    prefix = ctx.runtime.cache.setdefault("lake.view_prefix",
                                          f"{_sql.RESERVED}_{secrets.token_hex(8)}")
    readings = []
    for i, (database, table) in enumerate(parsed.tables):
        owner, policy, data, snapshot = _readable(ctx, account, database, table,
                                                  pinned.pop((database, table), None))
        reading = _Reading((database, table), owner, policy, data, f"{prefix}_view_{i}",
                           f"{prefix}_data_{i}")
        readings.append(reading)
        read.append({"table": f"{database}.{table}", "owner": owner, "snapshot": snapshot,
                     "columns": [c for c in data.columns
                                 if policy is None or policy.shows(c)],
                     "governed": policy is not None, "row_filter": reading.filtered})
    if pinned:
        names = ", ".join(f"{d}.{t}" for d, t in pinned)
        raise Invalid(f"snapshots are pinned for tables the query does not read: {names}",
                      code="invalid_snapshot")
    facts = tuple((r.table, (tuple((c, k) for _, c, k in r.data.fields),
                             frozenset(_policy.unmasked(r.policy, list(r.data.columns)))))
                  for r in readings if r.filtered and r.data.fields)
    prepared = _sql.prepare(sql, tuple((r.table, r.view) for r in readings), facts, scope,
                            parsed=parsed)
    keys = {r.owner: hash_mask_key(ctx.runtime, r.owner) for r in readings}
    view_sql = {r.view: _policy.view_sql(
        r.policy, list(r.data.columns),
        r.data.relation(r.source, statistics=not r.filtered),
        prepared.pushed.get(r.table), guard=prepared.guard, hash_key=keys[r.owner])
        for r in readings}
    result = _query.run(ctx.runtime, prepared.sql, {r.source: r.data for r in readings},
                        view_sql, scope, secrets=tuple(keys.values()))
    ctx.audit_details["rows"] = result.num_rows
    return result


class _Reading(NamedTuple):
    """One catalog table a query reads: whose it is, the caller's policy on it, its data,
    and the names its view and data take in the engine."""
    table: tuple[str, str]
    owner: str
    policy: AccessPolicy | None
    data: _query.Source
    view: str
    source: str

    @property
    def filtered(self) -> bool:
        return _row_filtered(self.policy)


def _pinned_snapshots(snapshots: dict[str, int]) -> dict[tuple[str, str], int]:
    out = {}
    for name, snapshot_id in snapshots.items():
        if not isinstance(snapshot_id, int):
            raise Invalid(f"a snapshot is pinned as DB.TABLE=ID, not {name}={snapshot_id}",
                          code="invalid_snapshot")
        out[split_table_name(name, code="invalid_snapshot")] = snapshot_id
    return out


_READABLE = 4096  # (caller, table, snapshot) plans kept per runtime
_readable_lock = threading.Lock()


def _readable(ctx: Context, account: str, database: str, table: str, snapshot: int | None
              ) -> tuple[str, AccessPolicy | None, _query.Source, int | None]:
    """(owner, policy, data, snapshot id read) of a table if the caller may read it;
    otherwise the same refusal whether or not it exists, so a query never tells which
    tables there are. Kept per (caller, table, snapshot asked) under the policy and data
    versions: what a caller may read changes only with a write operation."""
    key = (ctx.principal.name, ctx.principal.is_system, account, database, table, snapshot,
           current_version(ctx.db), data_version(ctx.db))
    cache: LRUCache[Any, Any] = ctx.runtime.cache.setdefault("lake.readable",
                                                             LRUCache(_READABLE))
    with _readable_lock:
        found = cache.get(key)
    if found is None:
        found = _plan_readable(ctx, account, database, table, snapshot)
        if isinstance(found, NotFound) or found[2].arrow is None:  # never keep data itself
            with _readable_lock:
                cache[key] = found
    if isinstance(found, NotFound):
        raise NotFound(found.message, code=found.code)
    return found


def _plan_readable(ctx: Context, account: str, database: str, table: str,
                   snapshot: int | None) -> Any:
    effective = _effective(ctx, account, database, table)
    if effective is None:
        # The same answer whether the table is missing or not the caller's to read, as
        # everywhere in the lake: a query never tells which tables there are.
        return NotFound(f"no table {database}.{table} that you may read in the catalog of "
                        f"{account}", code="table_not_found")
    owner, policy = effective
    data, read = _query.source(ctx.runtime, _iceberg.load(ctx.runtime, owner, database, table),
                               snapshot)
    return owner, policy, data, read


