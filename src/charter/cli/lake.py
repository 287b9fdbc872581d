"""`charter lake`: data domains, databases, tables, ingestion, quality rules, snapshots,
governed queries, grants and tags."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from charter.cli.common import (
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    OutputOpt,
    YesOpt,
    confirm,
    default_group,
    out,
    output_format,
    parse_pairs,
    state,
)
from charter.cli.output import View, console, err_console, note, table
from charter.errors import CharterError, Invalid
from charter.sdk import new_idempotency_key

lake_app = typer.Typer(help="The data lake: domains, catalog, Iceberg tables, quality rules, "
                       "queries and grants.", no_args_is_help=True)
tags_app = typer.Typer(help="Tag keys and tags on databases, tables, columns.",
                       no_args_is_help=True)
domains_app = typer.Typer(help="Data domains and their producer accounts.", no_args_is_help=True)
databases_app = typer.Typer(help="Databases of a producer account.", no_args_is_help=True)
tables_app = typer.Typer(help="Tables in the catalog.", no_args_is_help=True)
rules_app = typer.Typer(help="Data quality rules, checked on every write.", no_args_is_help=True)
snapshots_app = typer.Typer(cls=default_group("list"), no_args_is_help=True,
                            help="Snapshots of a table: each write made one.")
grants_app = typer.Typer(cls=default_group("list"), no_args_is_help=True,
                         help="Grants to groups and shares with accounts: columns, rows, cells.")
for sub, name in ((tags_app, "tags"), (domains_app, "domains"), (databases_app, "databases"),
                  (tables_app, "tables"), (rules_app, "rules"), (snapshots_app, "snapshots"),
                  (grants_app, "grants")):
    lake_app.add_typer(sub, name=name)

AccountArg = Annotated[str, typer.Argument(help="The account whose catalog holds the table, "
                                           "e.g. retail-data.")]
TableArg = Annotated[str, typer.Argument(help="The table, as DB.TABLE (e.g. bank.customers).")]


def _listing(ctx: typer.Context, data: Any, view: View, json_: bool, output: str | None,
             shape: Any) -> None:
    """A page as the API answered it for programs; for people, its items reshaped by
    `shape` (a row per item) into `view`."""
    if output_format(ctx, json_, output) not in ("json", "yaml"):
        page = data.page
        data = {"items": [shape(item) for item in page.items], "total": page.total,
                "limit": page.limit, "offset": page.offset, "next_cursor": page.next_cursor}
    out(ctx, data, json_=json_, output=output, view=view)


def _machine(ctx: typer.Context, json_: bool, output: str | None) -> bool:
    return output_format(ctx, json_, output) in ("json", "yaml")


@domains_app.command("create")
def domains_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The domain's name, e.g. retail-banking.")],
    account: Annotated[str, typer.Option(help="Producer account (blueprint data-domain).")],
    description: Annotated[str, typer.Option(help="What the domain holds.")] = "",
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Register a data domain owned by a producer account.

    Example: charter lake domains create retail-banking --account retail-data
    """
    data = state(ctx).client().lake.create_domain(name, account=account, description=description)
    out(ctx, data, lambda d: console.print(f"domain {d['name']} produced by {d['account']}"),
        json_=json_, output=output)


@domains_app.command("list")
def domains_list(ctx: typer.Context, limit: LimitOpt = 100, offset: OffsetOpt = 0,
                 output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List data domains, by name.

    Example: charter lake domains list
    """
    data = state(ctx).client().lake.domains(limit=limit, offset=offset)
    out(ctx, data, json_=json_, output=output,
        view=View(["name", "account", "description"], wide=["crn", "created_at"],
                  keys=["name", "account"]))


@databases_app.command("create")
def databases_create(
    ctx: typer.Context, account: AccountArg,
    name: Annotated[str, typer.Argument(help="The database's name, e.g. bank.")],
    description: Annotated[str, typer.Option(help="What the database holds.")] = "",
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Create a database in a producer account.

    Example: charter lake databases create retail-data bank
    """
    data = state(ctx).client().lake.create_database(account, name, description=description)
    out(ctx, data, lambda d: console.print(f"created database {d['crn']}"),
        json_=json_, output=output)


@databases_app.command("list")
def databases_list(ctx: typer.Context, account: AccountArg, limit: LimitOpt = 100,
                   offset: OffsetOpt = 0, output: OutputOpt = None,
                   json_: JsonOpt = False) -> None:
    """List an account's databases that you may read from, by name.

    Example: charter lake databases list retail-data
    """
    data = state(ctx).client().lake.databases(account, limit=limit, offset=offset)
    out(ctx, data, json_=json_, output=output,
        view=View(["name", "description"], wide=["crn", "created_at"]))


def _records(count: int | None) -> str:
    """A record count, or why there is none: the caller reads the table under a row
    filter, and the count would include the rows it hides."""
    return "withheld (row filter)" if count is None else str(count)


@tables_app.command("list")
def tables_list(
    ctx: typer.Context, account: AccountArg,
    database: Annotated[str | None, typer.Argument(help="Only this database.")] = None,
    limit: LimitOpt = 100, offset: OffsetOpt = 0, output: OutputOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List the tables of an account's catalog that you may read.

    Example: charter lake tables list retail-data bank
    """
    data = state(ctx).client().lake.tables(account, database=database, limit=limit,
                                           offset=offset)
    _listing(ctx, data, View(["table", "owner", "total_records", "current_snapshot"],
                             wide=["rules", "crn", "created_at"],
                             keys=["table", "owner", "current_snapshot"]), json_, output,
             lambda t: {"table": f"{t.database}.{t.name}", "owner": t.account,
                        "total_records": _records(t.total_records),
                        "current_snapshot": t.current_snapshot, "rules": t.rules,
                        "crn": t.crn, "created_at": t.created_at})


@tables_app.command("show")
def tables_show(ctx: typer.Context, account: AccountArg, name: TableArg,
                output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Show a table's columns, rules and current snapshot.

    Example: charter lake tables show retail-data bank.customers
    """
    data = state(ctx).client().lake.table(account, name)

    def render(d: Any) -> None:
        console.print(Text(f"{d.database}.{d.name}", style="bold"), f" {d.crn}")
        counted = "record count withheld (row filter)" if d.total_records is None else \
            f"{d.total_records} records"
        console.print(f"  {counted}, snapshot {d.current_snapshot}")
        table([c.model_dump() for c in d.columns], ["name", "type", "required"])
        for rule in d.rules:
            console.print(f"  rule: {rule}", markup=False, highlight=False)

    out(ctx, data, render, json_=json_, output=output)


@lake_app.command("ingest")
def ingest(
    ctx: typer.Context, account: AccountArg, name: TableArg,
    file: Annotated[Path, typer.Argument(help="A .csv or .parquet file.", exists=True,
                                         dir_okay=False, readable=True)],
    mode: Annotated[str, typer.Option(help="create, append or overwrite.")] = "append",
    schema: Annotated[Path | None, typer.Option(
        help='JSON file: {"columns": [{"name": ..., "type": long|double|string|...}]}',
        exists=True, dir_okay=False)] = None,
    evolve: Annotated[bool, typer.Option("--evolve", help="Add new columns to the table.")]
    = False,
    format: Annotated[str | None, typer.Option(help="csv or parquet (default: extension).")]
    = None,
    delimiter: Annotated[str | None, typer.Option(
        help="A CSV's delimiter: comma, semicolon, tab, pipe or one character (default: "
             "found from the header line).")] = None,
    idempotency_key: Annotated[str | None, typer.Option(
        help="Finish an earlier ingest whose answer was lost: its key, as its error gave "
             "it. Default: a new key.")] = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Write a file into a table as one snapshot; a write that breaks a quality rule writes
    nothing and lists the failing rules with the numbers of failing rows. The write
    happens at most once per idempotency key, however often it is sent.

    Example: charter lake ingest retail-data bank.customers customers.csv --mode create
    """
    fmt = format or ("parquet" if file.suffix.lower() in (".parquet", ".pq") else "csv")
    declared = _read_schema(schema) if schema else None
    as_json = _machine(ctx, json_, output)
    client = state(ctx).client()
    key = idempotency_key or new_idempotency_key()
    with _IngestProgress(file, shown=not as_json) as progress:
        try:
            data = client.lake.ingest(account, name, progress, format=fmt, mode=mode,
                                      schema=declared, evolve=evolve, delimiter=delimiter,
                                      idempotency_key=key)
        except CharterError as error:
            progress.stop()
            _explain_failure(error, key, as_json)
            raise
    out(ctx, data, lambda d: console.print(
        f"{d.mode}: {d.rows_written} rows into {d.table}, snapshot {d.snapshot_id} "
        f"({d.total_records} records)"
        + (f"; new columns {', '.join(d.columns_added)}" if d.columns_added else "")),
        json_=json_, output=output)


def _explain_failure(error: CharterError, key: str, as_json: bool) -> None:
    """Failing rules with the numbers of failing rows, mismatched columns with their
    types; and where the answer was lost, how to finish the write without writing twice."""
    lost = error.code in ("unreachable", "internal_error")
    if lost:
        error.details.setdefault("idempotency_key", key)
    if as_json:
        return
    for failure in error.details.get("failures", []):
        rows = [str(e["row"]) for e in failure.get("examples", []) if "row" in e]
        err_console.print(f"  {failure['rule']}: {failure['failing_rows']} failing row(s)"
                          + (f", e.g. row {', '.join(rows[:5])}" if rows else ""),
                          highlight=False, markup=False)
    for column in error.details.get("columns", []):
        if isinstance(column, dict):
            err_console.print(f"  {column['column']}: the table holds {column['expected']}; "
                              f"the file has {column['found']}", highlight=False, markup=False)
    if lost:
        err_console.print("  the write may have happened: run the same command with "
                          f"--idempotency-key {key} to finish it, never twice",
                          highlight=False)


class _IngestProgress:
    """The file read in chunks as it is sent, with a byte progress bar on stderr, then a
    spinner while the server checks the quality rules and writes the snapshot. Iterable
    again for each attempt of the request."""

    CHUNK = 1 << 20

    def __init__(self, file: Path, *, shown: bool) -> None:
        self.file, self.size = file, file.stat().st_size
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
                            console=err_console, transient=True, disable=not shown)
        self.task = self.bar.add_task(f"sending {file.name}", total=self.size)

    def __enter__(self) -> _IngestProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.bar.stop()

    def __iter__(self) -> Iterator[bytes]:
        self.bar.reset(self.task, description=f"sending {self.file.name}")
        with self.file.open("rb") as source:
            while chunk := source.read(self.CHUNK):
                self.bar.advance(self.task, len(chunk))
                yield chunk
        self.bar.update(self.task, description="checking quality rules, writing snapshot")


def _read_schema(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise Invalid(f"{path} is not valid JSON: {exc}", code="invalid_schema") from None


@rules_app.command("add")
def rules_add(
    ctx: typer.Context, account: AccountArg, name: TableArg,
    rules: Annotated[list[str], typer.Argument(
        help="not_null(col) unique(col) range(col,min,max) allowed(col,a|b) regex(col,re) "
             "row_count(min,max)")],
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Declare quality rules on a table.

    Example: charter lake rules add retail-data bank.customers "not_null(id)" "unique(id)"
    """
    data = state(ctx).client().lake.add_rules(account, name, rules)
    out(ctx, data, lambda d: console.print(
        f"{d.database}.{d.name} rules: {', '.join(d.rules)}", markup=False, highlight=False),
        json_=json_, output=output)


@rules_app.command("list")
def rules_list(ctx: typer.Context, account: AccountArg, name: TableArg,
               limit: LimitOpt = 100, offset: OffsetOpt = 0, output: OutputOpt = None,
               json_: JsonOpt = False) -> None:
    """List a table's quality rules, in the order they were declared.

    Example: charter lake rules list retail-data bank.customers
    """
    rules = state(ctx).client().lake.table(account, name).rules
    page = {"items": [{"rule": r} for r in rules[offset:offset + limit]], "total": len(rules),
            "limit": limit, "offset": offset, "next_cursor": None}
    out(ctx, page, json_=json_, output=output, view=View(["rule"], keys=["rule"]))


@snapshots_app.command("list")
def snapshots_list(ctx: typer.Context, account: AccountArg, name: TableArg,
                   limit: LimitOpt = 100, offset: OffsetOpt = 0, output: OutputOpt = None,
                   json_: JsonOpt = False) -> None:
    """List a table's snapshots, oldest first: each write made one.

    Example: charter lake snapshots list retail-data bank.customers
    """
    data = state(ctx).client().lake.snapshots(account, name, limit=limit, offset=offset)
    _listing(ctx, data, View(["snapshot_id", "timestamp", "operation", "added_records",
                              "total_records"], wide=["parent_id"]), json_, output,
             lambda s: {**s.model_dump(mode="json"),
                        "added_records": _records(s.added_records),
                        "total_records": _records(s.total_records)})


QUERY_FORMATS = ("table", "csv", "json", "parquet")
_AS_QUERY_FORMAT = {"json": "json", "csv": "csv", "table": "table", "wide": "table"}


@lake_app.command("query")
def query(
    ctx: typer.Context, account: AccountArg,
    sql: Annotated[str, typer.Argument(help="One SELECT over database.table names.")],
    snapshot: Annotated[list[str] | None, typer.Option(
        help="Time travel: DB.TABLE=SNAPSHOT_ID; repeat for more.")] = None,
    format: Annotated[str | None, typer.Option(
        help="table (a preview of --max-rows rows), csv, json or parquet (default: table).")]
    = None,
    output: Annotated[Path | None, typer.Option(
        help="Write every row to this file (parquet needs one).")] = None,
    max_rows: Annotated[int, typer.Option(min=1, help="Rows the table preview shows.")] = 50,
    output_format_: Annotated[str | None, typer.Option(
        "-o", "--output-format", hidden=True, help="Same as --format.")] = None,
    json_: Annotated[bool, typer.Option("--json", hidden=True,
                                        help="Same as --format json.")] = False,
) -> None:
    """Query the lake under your grants: only SELECT, only catalog tables. The table shows
    the first rows; --format csv|parquet --output FILE writes every row.

    Example: charter lake query team-a-dev "SELECT * FROM bank.customers" --max-rows 20
    """
    fmt = format or _AS_QUERY_FORMAT.get(output_format(ctx, json_, output_format_), "")
    if fmt not in QUERY_FORMATS:
        raise Invalid(f"--format is one of {', '.join(QUERY_FORMATS)}", code="invalid_request")
    pins = {}
    for name, value in parse_pairs(snapshot, what="--snapshot", form="DB.TABLE=ID",
                                   code="invalid_snapshot").items():
        if not value.isdigit():
            raise Invalid(f"--snapshot takes a snapshot id, not {value!r}",
                          code="invalid_snapshot")
        pins[name] = int(value)
    if fmt == "parquet" and output is None:
        raise Invalid("--format parquet needs --output FILE", code="invalid_request")
    result = state(ctx).client().lake.query(account, sql, snapshots=pins)
    _write_result(result, fmt, output, max_rows)


def _write_result(result: Any, fmt: str, output: Path | None, max_rows: int) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        pq.write_table(result, output)
        note(f"wrote {result.num_rows} rows to {output}")
    elif fmt == "csv":
        if output is None:
            sink = io.BytesIO()
            pacsv.write_csv(result, sink)
            sys.stdout.write(sink.getvalue().decode())
        else:
            pacsv.write_csv(result, str(output))
            note(f"wrote {result.num_rows} rows to {output}")
    elif fmt == "json":
        text = json.dumps(result.to_pylist(), indent=2, default=str) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text)
    else:
        _preview(result, max_rows, output)


def _preview(result: Any, max_rows: int, output: Path | None) -> None:
    """The first `max_rows` rows as a table: only they become Python values, so a result
    of millions of rows previews as fast as a small one."""
    if output is not None:
        raise Invalid("--output writes every row: use it with --format csv, json or parquet",
                      code="invalid_request")
    shown = result.slice(0, max_rows)
    table(shown.to_pylist(), shown.column_names, keys=())
    if result.num_rows > shown.num_rows:
        note(f"showing {shown.num_rows} of {result.num_rows} rows; every row: "
             "--format csv|parquet --output FILE")
    else:
        note(f"{result.num_rows} row(s)")


ColumnsOpt = Annotated[str | None, typer.Option(help="Only these columns, comma-separated.")]
ExcludeOpt = Annotated[str | None, typer.Option(help="All but these columns, comma-separated.")]
FilterOpt = Annotated[str | None, typer.Option(help="Rows where this holds: region = 'EU'.")]
MaskOpt = Annotated[list[str] | None, typer.Option(
    "--mask", help="COL=KIND with KIND null, constant, hash (sha256 keyed per producer "
    "account: equal values match and join, guesses cannot be hashed) or lastN (e.g. "
    "last4); repeat.")]
GrantOptionOpt = Annotated[bool, typer.Option("--grant-option",
                                              help="The grantee may grant it onward.")]


def _policy_args(columns: str | None, exclude: str | None, row_filter: str | None,
                 mask: list[str] | None, grant_option: bool) -> dict[str, Any]:
    masks = parse_pairs(mask, what="--mask", form="COL=KIND", code="invalid_grant")
    return {"columns": _names(columns), "exclude_columns": _names(exclude),
            "row_filter": row_filter, "masks": masks, "grant_option": grant_option}


def _names(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def _render_grant(d: dict[str, Any]) -> None:
    console.print(f"{d['id']}: {d['grantee']} on {d['table']} (owner {d['owner']})")
    console.print(f"  columns: {', '.join(d['columns']) if d['columns'] else 'all'}; rows: "
                  f"{d['row_filter'] or 'all'}; masks: "
                  f"{', '.join(f'{c}={k}' for c, k in d['masks'].items()) or 'none'}",
                  highlight=False, markup=False)


def _render_grant(d: Any) -> None:
    console.print(f"{d.id}: {d.grantee} on {d.table} (owner {d.owner})", markup=False,
                  highlight=False)
    console.print(f"  columns: {', '.join(d.columns) if d.columns else 'all'}; rows: "
                  f"{d.row_filter or 'all'}; masks: "
                  f"{', '.join(f'{c}={k}' for c, k in d.masks.items()) or 'none'}",
                  highlight=False, markup=False)


def grants_create(
    ctx: typer.Context, account: AccountArg,
    name: Annotated[str | None, typer.Argument(
        help="DB.TABLE, or DB for all its tables (or use --tags).")] = None,
    to: Annotated[str, typer.Option(help="group:NAME or account:NAME")] = "",
    tags: Annotated[str | None, typer.Option(
        help="Columns whose tags match, e.g. \"domain=retail AND sensitivity IN (public)\".")]
    = None,
    columns: ColumnsOpt = None, exclude_columns: ExcludeOpt = None,
    row_filter: FilterOpt = None, mask: MaskOpt = None, grant_option: GrantOptionOpt = False,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Grant a table (or tagged columns) to a group, or share it with an account: columns,
    rows (filter) and cells (masks).

    Example: charter lake grants create team-a-dev bank.customers --to group:analysts
    """
    data = state(ctx).client().lake.grant(
        account, name, to=to, tags=tags,
        **_policy_args(columns, exclude_columns, row_filter, mask, grant_option))
    out(ctx, data, _render_grant, json_=json_, output=output)


grants_app.command("create")(grants_create)
lake_app.command("grant", hidden=True)(grants_create)


@lake_app.command("share")
def share(
    ctx: typer.Context, account: AccountArg,
    name: Annotated[str, typer.Argument(help="DB.TABLE, or DB for all its tables.")],
    with_account: Annotated[str, typer.Option("--with", help="The consumer account.")],
    columns: ColumnsOpt = None, exclude_columns: ExcludeOpt = None,
    row_filter: FilterOpt = None, mask: MaskOpt = None, grant_option: GrantOptionOpt = False,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Share a table with a consumer account through the central catalog (as `grants
    create --to account:NAME`).

    Example: charter lake share retail-data bank.customers --with team-a-dev
    """
    data = state(ctx).client().lake.share(
        account, name, with_account=with_account,
        **_policy_args(columns, exclude_columns, row_filter, mask, grant_option))
    out(ctx, data, _render_grant, json_=json_, output=output)


@grants_app.command("list")
def grants_list(
    ctx: typer.Context, account: AccountArg,
    name: Annotated[str | None, typer.Argument(help="Only this DB.TABLE.")] = None,
    limit: LimitOpt = 100, offset: OffsetOpt = 0, output: OutputOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List the grants an account made and the shares it received, oldest first.

    Example: charter lake grants list team-a-dev bank.customers
    """
    data = state(ctx).client().lake.grants(account, table=name, limit=limit, offset=offset)
    out(ctx, data, json_=json_, output=output, view=View(
        ["id", "table", "grantee", "columns", "row_filter", "masks"],
        wide=["owner", "grant_option", "crn", "created_by", "created_at"],
        keys=["id", "table", "grantee"]))


def grants_revoke(ctx: typer.Context, account: AccountArg,
                  grant_id: Annotated[str, typer.Argument(
                      help="The grant's id, as `lake grants list` shows it.")],
                  yes: YesOpt = False, output: OutputOpt = None,
                  json_: JsonOpt = False) -> None:
    """Revoke a grant or share (onward grants of a share go with it).

    Example: charter lake grants revoke team-a-dev grt-2704d9c1 --yes
    """
    confirm(f"revoke grant {grant_id} of {account}", yes)
    data = state(ctx).client().lake.revoke(account, grant_id)
    out(ctx, data, lambda d: console.print(f"revoked {d.id}"), json_=json_, output=output)


grants_app.command("revoke")(grants_revoke)
lake_app.command("revoke", hidden=True)(grants_revoke)


@tags_app.command("create")
def tags_create(ctx: typer.Context,
                key: Annotated[str, typer.Argument(help="The tag key, e.g. sensitivity.")],
                values: Annotated[str, typer.Option(help="Allowed values, comma-separated.")],
                output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Create a central tag key with its allowed values (data lake administrators).

    Example: charter lake tags create sensitivity --values public,pii
    """
    data = state(ctx).client().lake.create_tag(key, _names(values) or [])
    out(ctx, data, lambda d: console.print(f"tag {d.key}: {', '.join(d.values)}",
                                           markup=False, highlight=False),
        json_=json_, output=output)


@tags_app.command("list")
def tags_list(ctx: typer.Context, limit: LimitOpt = 100, offset: OffsetOpt = 0,
              output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List tag keys and their allowed values, by key.

    Example: charter lake tags list
    """
    data = state(ctx).client().lake.tag_keys(limit=limit, offset=offset)
    out(ctx, data, json_=json_, output=output, view=View(["key", "values"]))


@tags_app.command("assign")
def tags_assign(
    ctx: typer.Context, account: AccountArg,
    resource: Annotated[str, typer.Argument(help="DB, DB.TABLE or DB.TABLE.COLUMN")],
    tag: Annotated[str, typer.Argument(help="KEY=VALUE")],
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Tag a database, table or column; columns inherit and may override.

    Example: charter lake tags assign retail-data bank.customers.ssn sensitivity=pii
    """
    [(key, value)] = parse_pairs([tag], what="the tag", code="invalid_tag").items()
    data = state(ctx).client().lake.assign_tag(account, resource, key, value)
    out(ctx, data, lambda d: console.print(f"{d['resource']}: {d['key']}={d['value']}",
                                           markup=False, highlight=False),
        json_=json_, output=output)

COMMANDS = {"lake": lake_app}
