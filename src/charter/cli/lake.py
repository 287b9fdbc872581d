"""`charter lake`: data domains, databases, tables, ingestion, quality rules, snapshots."""

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

from charter.cli.common import JsonOpt, parse_pairs, state, want_json
from charter.cli.output import console, err_console, show, table
from charter.errors import CharterError, Invalid
from charter.sdk import new_idempotency_key

lake_app = typer.Typer(help="The data lake: domains, catalog, Iceberg tables, quality rules.",
                       no_args_is_help=True)
tags_app = typer.Typer(help="Tag keys and tags on databases, tables, columns.",
                       no_args_is_help=True)
domains_app = typer.Typer(help="Data domains and their producer accounts.", no_args_is_help=True)
databases_app = typer.Typer(help="Databases of a producer account.", no_args_is_help=True)
tables_app = typer.Typer(help="Tables in the catalog.", no_args_is_help=True)
rules_app = typer.Typer(help="Data quality rules, checked on every write.", no_args_is_help=True)
for sub, name in ((tags_app, "tags"), (domains_app, "domains"), (databases_app, "databases"),
                  (tables_app, "tables"), (rules_app, "rules")):
    lake_app.add_typer(sub, name=name)

AccountArg = Annotated[str, typer.Argument(help="The producer account, e.g. retail-data.")]
TableArg = Annotated[str, typer.Argument(help="DB.TABLE")]


@domains_app.command("create")
def domains_create(
    ctx: typer.Context, name: str,
    account: Annotated[str, typer.Option(help="Producer account (blueprint data-domain).")],
    description: Annotated[str, typer.Option(help="What the domain holds.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Register a data domain owned by a producer account."""
    data = state(ctx).client().lake.create_domain(name, account=account, description=description)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"domain {d['name']} produced by {d['account']}"))


@domains_app.command("list")
def domains_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List data domains."""
    data = state(ctx).client().lake.domains()
    show(data, want_json(ctx, json_), lambda d: table(d, ["name", "account", "description"]))


@databases_app.command("create")
def databases_create(
    ctx: typer.Context, account: AccountArg, name: str,
    description: Annotated[str, typer.Option(help="What the database holds.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Create a database in a producer account."""
    data = state(ctx).client().lake.create_database(account, name, description=description)
    show(data, want_json(ctx, json_), lambda d: console.print(f"created database {d['crn']}"))


def _records(count: int | None) -> str:
    """A record count, or why there is none: the caller reads the table under a row
    filter, and the count would include the rows it hides."""
    return "withheld (row filter)" if count is None else str(count)


@tables_app.command("list")
def tables_list(
    ctx: typer.Context, account: AccountArg,
    database: Annotated[str | None, typer.Argument(help="Only this database.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List an account's databases and tables."""
    data = state(ctx).client().lake.tables(account, database=database)
    show(data, want_json(ctx, json_), lambda d: table(
        [{**t, "table": f"{t['database']}.{t['name']}",
          "total_records": _records(t["total_records"])} for t in d["tables"]],
        ["table", "total_records", "current_snapshot", "rules"],
        title=f"{len(d['databases'])} database(s), {len(d['tables'])} table(s)"))


@tables_app.command("show")
def tables_show(ctx: typer.Context, account: AccountArg, name: TableArg,
                json_: JsonOpt = False) -> None:
    """Show a table's columns, rules and current snapshot."""
    data = state(ctx).client().lake.table(account, name)

    def render(d: dict[str, Any]) -> None:
        console.print(f"[bold]{d['database']}.{d['name']}[/bold]  {d['crn']}")
        records = d["total_records"]
        counted = "record count withheld (row filter)" if records is None else \
            f"{records} records"
        console.print(f"  {counted}, snapshot {d['current_snapshot']}")
        table(d["columns"], ["name", "type", "required"])
        for rule in d["rules"]:
            console.print(f"  rule: {rule}")

    show(data, want_json(ctx, json_), render)


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
    idempotency_key: Annotated[str | None, typer.Option(
        help="Finish an earlier ingest whose answer was lost: its key, as its error gave "
             "it. Default: a new key.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Write a file into a table as one snapshot; a write that breaks a quality rule writes
    nothing and lists the failing rules with example rows. The write happens at most once
    per idempotency key, however often it is sent."""
    fmt = format or ("parquet" if file.suffix.lower() in (".parquet", ".pq") else "csv")
    declared = _read_schema(schema) if schema else None
    as_json = want_json(ctx, json_)
    client = state(ctx).client()
    key = idempotency_key or new_idempotency_key()
    with _IngestProgress(file, shown=not as_json) as progress:
        try:
            data = client.lake.ingest(account, name, progress, format=fmt, mode=mode,
                                      schema=declared, evolve=evolve, idempotency_key=key)
        except CharterError as error:
            progress.stop()
            _explain_failure(error, key, as_json)
            raise
    show(data, as_json, lambda d: console.print(
        f"{d['mode']}: {d['rows_written']} rows into {d['table']}, snapshot "
        f"{d['snapshot_id']} ({d['total_records']} records)"
        + (f"; new columns {', '.join(d['columns_added'])}" if d["columns_added"] else "")))


def _explain_failure(error: CharterError, key: str, as_json: bool) -> None:
    """Failing rules with examples; and where the answer was lost, how to finish the write
    without writing twice."""
    lost = error.code in ("unreachable", "internal_error")
    if lost:
        error.details.setdefault("idempotency_key", key)
    if as_json:
        return
    for failure in error.details.get("failures", []):
        err_console.print(f"  {failure['rule']}: {failure['failing_rows']} rows, "
                          f"e.g. {failure['examples'][:3]}", highlight=False)
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
    json_: JsonOpt = False,
) -> None:
    """Declare quality rules on a table."""
    data = state(ctx).client().lake.add_rules(account, name, rules)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"{d['database']}.{d['name']} rules: {', '.join(d['rules'])}"))


@lake_app.command("snapshots")
def snapshots(ctx: typer.Context, account: AccountArg, name: TableArg,
              json_: JsonOpt = False) -> None:
    """List a table's snapshots, oldest first: each write made one."""
    data = state(ctx).client().lake.snapshots(account, name)
    show(data, want_json(ctx, json_), lambda d: table(
        [{**s, "added_records": _records(s["added_records"]),
          "total_records": _records(s["total_records"])} for s in d],
        ["snapshot_id", "timestamp", "operation", "added_records", "total_records"]))


@lake_app.command("query")
def query(
    ctx: typer.Context, account: AccountArg,
    sql: Annotated[str, typer.Argument(help="One SELECT over database.table names.")],
    snapshot: Annotated[list[str] | None, typer.Option(
        help="Time travel: DB.TABLE=SNAPSHOT_ID; repeat for more.")] = None,
    format: Annotated[str, typer.Option(help="table, csv, json or parquet.")] = "table",
    output: Annotated[Path | None, typer.Option(help="Write to a file (parquet needs one).")]
    = None,
    json_: JsonOpt = False,
) -> None:
    """Query the lake under your grants: only SELECT, only catalog tables."""
    pins = {}
    for name, value in parse_pairs(snapshot, what="--snapshot", form="DB.TABLE=ID",
                                   code="invalid_snapshot").items():
        if not value.isdigit():
            raise Invalid(f"--snapshot takes a snapshot id, not {value!r}",
                          code="invalid_snapshot")
        pins[name] = int(value)
    result = state(ctx).client().lake.query(account, sql, snapshots=pins)
    fmt = "json" if want_json(ctx, json_) else format
    _write_result(result, fmt, output)


def _write_result(result: Any, fmt: str, output: Path | None) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        if output is None:
            raise Invalid("--format parquet needs --output FILE", code="invalid_request")
        pq.write_table(result, output)
        console.print(f"wrote {result.num_rows} rows to {output}")
    elif fmt == "csv":
        sink = io.BytesIO()
        pacsv.write_csv(result, sink)
        _emit(sink.getvalue().decode(), output)
    elif fmt == "json":
        _emit(json.dumps(result.to_pylist(), indent=2, default=str) + "\n", output)
    elif fmt == "table":
        rows = result.to_pylist()
        table(rows, result.column_names, title=f"{result.num_rows} row(s)")
    else:
        raise Invalid("--format is table, csv, json or parquet", code="invalid_request")


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


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


@lake_app.command("grant")
def grant(
    ctx: typer.Context, account: AccountArg,
    name: Annotated[str | None, typer.Argument(
        help="DB.TABLE, or DB for all its tables (or use --tags).")] = None,
    to: Annotated[str, typer.Option(help="group:NAME or account:NAME")] = "",
    tags: Annotated[str | None, typer.Option(
        help="Columns whose tags match, e.g. \"domain=retail AND sensitivity IN (public)\".")]
    = None,
    columns: ColumnsOpt = None, exclude_columns: ExcludeOpt = None,
    row_filter: FilterOpt = None, mask: MaskOpt = None, grant_option: GrantOptionOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Grant a table (or tagged columns) to a group or account: columns, rows (filter) and
    cells (masks)."""
    data = state(ctx).client().lake.grant(
        account, name, to=to, tags=tags,
        **_policy_args(columns, exclude_columns, row_filter, mask, grant_option))
    show(data, want_json(ctx, json_), _render_grant)


@lake_app.command("share")
def share(
    ctx: typer.Context, account: AccountArg,
    name: Annotated[str, typer.Argument(help="DB.TABLE, or DB for all its tables.")],
    with_account: Annotated[str, typer.Option("--with", help="The consumer account.")],
    columns: ColumnsOpt = None, exclude_columns: ExcludeOpt = None,
    row_filter: FilterOpt = None, mask: MaskOpt = None, grant_option: GrantOptionOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Share a table with a consumer account through the central catalog."""
    data = state(ctx).client().lake.share(
        account, name, with_account=with_account,
        **_policy_args(columns, exclude_columns, row_filter, mask, grant_option))
    show(data, want_json(ctx, json_), _render_grant)


@lake_app.command("grants")
def grants(
    ctx: typer.Context, account: AccountArg,
    name: Annotated[str | None, typer.Argument(help="Only this DB.TABLE.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Grants an account made and shares it received."""
    data = state(ctx).client().lake.grants(account, table=name)
    show(data, want_json(ctx, json_), lambda d: table(
        d, ["id", "table", "owner", "grantee", "columns", "row_filter", "masks",
            "grant_option"]))


@lake_app.command("revoke")
def revoke(ctx: typer.Context, account: AccountArg,
           grant_id: Annotated[str, typer.Argument(help="The grant's id (lake grants).")],
           json_: JsonOpt = False) -> None:
    """Revoke a grant or share (onward grants of a share go with it)."""
    data = state(ctx).client().lake.revoke(account, grant_id)
    show(data, want_json(ctx, json_), lambda d: console.print(f"revoked {d['id']}"))


@tags_app.command("create")
def tags_create(ctx: typer.Context, key: str,
                values: Annotated[str, typer.Option(help="Allowed values, comma-separated.")],
                json_: JsonOpt = False) -> None:
    """Create a central tag key with its allowed values (data lake administrators)."""
    data = state(ctx).client().lake.create_tag(key, _names(values) or [])
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"tag {d['key']}: {', '.join(d['values'])}"))


@tags_app.command("list")
def tags_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List tag keys and their allowed values."""
    data = state(ctx).client().lake.tag_keys()
    show(data, want_json(ctx, json_), lambda d: table(d, ["key", "values"]))


@tags_app.command("assign")
def tags_assign(
    ctx: typer.Context, account: AccountArg,
    resource: Annotated[str, typer.Argument(help="DB, DB.TABLE or DB.TABLE.COLUMN")],
    tag: Annotated[str, typer.Argument(help="KEY=VALUE")],
    json_: JsonOpt = False,
) -> None:
    """Tag a database, table or column; columns inherit and may override."""
    [(key, value)] = parse_pairs([tag], what="the tag", code="invalid_tag").items()
    data = state(ctx).client().lake.assign_tag(account, resource, key, value)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"{d['resource']}: {d['key']}={d['value']}"))

COMMANDS = {"lake": lake_app}
