"""`charter experiments` and `charter runs`: experiments, runs, their params, metrics,
tags, lake inputs and artifacts; search and side-by-side comparison."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from charter.cli.common import (
    CursorOpt,
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    OutputOpt,
    out,
    output_format,
    parse_tags,
    state,
)
from charter.cli.output import View, console, table
from charter.experiments.schemas import RunRead

experiments_app = typer.Typer(help="Experiments: named groups of runs in an account.",
                              no_args_is_help=True)
runs_app = typer.Typer(help="Runs: params, metrics, tags, lake inputs, artifacts; search and "
                       "compare.", no_args_is_help=True)

AccountArg = Annotated[str, typer.Argument(help="The account, e.g. team-a-dev.")]
RunArg = Annotated[str, typer.Argument(help="A run's id (32 hex characters).")]
ExperimentOpt = Annotated[str | None, typer.Option(
    "--experiment", "-e", help="An experiment's id or name.")]
RUN_VIEW = View(["id", "name", "status", "experiment_id", "started"],
                wide=["ended", "user", "metrics", "params"], keys=["id", "name"])


def _time(millis: int | None) -> str:
    if millis is None:
        return ""
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _value(value: float) -> str:
    return str(value) if math.isnan(value) or math.isinf(value) else f"{value:.6g}"


def _run_row(r: RunRead) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "status": r.status, "experiment_id": r.experiment_id,
            "started": _time(r.start_time), "ended": _time(r.end_time), "user": r.user,
            "metrics": ", ".join(f"{m.key}={_value(m.value)}" for m in r.metrics),
            "params": ", ".join(f"{k}={v}" for k, v in r.params.items())}


def _machine(ctx: typer.Context, json_: bool, output: str | None) -> bool:
    return output_format(ctx, json_, output) in ("json", "yaml")


def _experiment_id(ctx: typer.Context, account: str, experiment: str) -> str:
    if experiment.isdigit():
        return experiment
    return state(ctx).client().experiments.get_by_name(account, experiment).id


@experiments_app.command("create")
def experiments_create(
    ctx: typer.Context, account: AccountArg,
    name: Annotated[str, typer.Argument(help="The experiment's name, unique in the account.")],
    tag: Annotated[list[str] | None, typer.Option(help="A tag, KEY=VALUE (repeatable).")
                   ] = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Create an experiment.

    Example: charter experiments create team-a-dev churn --tag goal=retention
    """
    data = state(ctx).client().experiments.create(account, name, tags=parse_tags(tag))
    out(ctx, data, lambda d: console.print(f"experiment {d.id} {d.name} in {d.account}",
                                           markup=False, highlight=False),
        json_=json_, output=output)


@experiments_app.command("list")
def experiments_list(ctx: typer.Context, account: AccountArg, limit: LimitOpt = 100,
                     offset: OffsetOpt = 0, cursor: CursorOpt = None,
                     output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List an account's experiments, by id.

    Example: charter experiments list team-a-dev
    """
    data = state(ctx).client().experiments.list(account, limit=limit, offset=offset,
                                                cursor=cursor)
    out(ctx, data, json_=json_, output=output,
        view=View(["id", "name", "created_by", "created_at"],
                  wide=["artifact_location", "lifecycle_stage", "crn"], keys=["id", "name"]))


@runs_app.command("list")
def runs_list(ctx: typer.Context, account: AccountArg, experiment: ExperimentOpt = None,
              limit: LimitOpt = 100, offset: OffsetOpt = 0, cursor: CursorOpt = None,
              output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List an account's runs (of one experiment), newest first.

    Example: charter runs list team-a-dev --experiment churn
    """
    experiment_id = _experiment_id(ctx, account, experiment) if experiment else None
    data = state(ctx).client().runs.list(account, experiment_id=experiment_id, limit=limit,
                                         offset=offset, cursor=cursor)
    if not _machine(ctx, json_, output):
        page = data.page
        data = {"items": [_run_row(r) for r in page.items], "total": page.total,
                "limit": page.limit, "offset": page.offset, "next_cursor": page.next_cursor}
    out(ctx, data, json_=json_, output=output, view=RUN_VIEW)


@runs_app.command("show")
def runs_show(ctx: typer.Context, account: AccountArg, run_id: RunArg,
              output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Show a run: params, latest metrics, tags, lake inputs (table @ snapshot), artifacts.

    Example: charter runs show team-a-dev 0123456789abcdef0123456789abcdef
    """
    client = state(ctx).client()
    run = client.runs.get(account, run_id)
    artifacts = list(client.runs.artifacts(account, run_id))
    data = {**run.model_dump(mode="json"),
            "artifacts": [a.model_dump(mode="json") for a in artifacts]}

    def render(_: Any) -> None:
        console.print(Text(f"{run.name}", style="bold"), f" {run.id}", highlight=False)
        console.print(f"  {run.status}, experiment {run.experiment_id}, by {run.user}, "
                      f"{_time(run.start_time)} - {_time(run.end_time)}",
                      markup=False, highlight=False)
        table([{"param": k, "value": v} for k, v in run.params.items()], ["param", "value"],
              title="params")
        table([{"metric": m.key, "value": _value(m.value), "step": m.step}
               for m in run.metrics], ["metric", "value", "step"], title="metrics")
        table([{"tag": k, "value": v} for k, v in run.tags.items()], ["tag", "value"],
              title="tags")
        table([{"input": f"{i.table} @ {i.snapshot_id}", "account": i.account}
               for i in run.inputs], ["input", "account"], title="inputs")
        table([{"artifact": a.path + ("/" if a.is_dir else ""), "size": a.size}
               for a in artifacts], ["artifact", "size"], title="artifacts")

    out(ctx, data, render, json_=json_, output=output)


@runs_app.command("search")
def runs_search(
    ctx: typer.Context, account: AccountArg,
    experiment: Annotated[list[str], typer.Option(
        "--experiment", "-e", help="An experiment's id or name (repeatable).")],
    filter_: Annotated[str, typer.Option(
        "--filter", help="MLflow's filter grammar, e.g. \"metrics.acc > 0.8 and "
        "params.model = 'rf'\".")] = "",
    order_by: Annotated[list[str] | None, typer.Option(
        help="e.g. \"metrics.acc DESC\", params.model, attributes.start_time "
        "(repeatable).")] = None,
    max_results: Annotated[int, typer.Option(min=1, max=50_000,
                                             help="At most this many runs.")] = 100,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Search runs of experiments with a filter in MLflow's grammar, in the order asked.

    A filter: --filter "metrics.acc > 0.8 and params.model = 'rf'".

    Example: charter runs search team-a-dev -e churn --order-by "metrics.acc DESC"
    """
    ids = [_experiment_id(ctx, account, e) for e in experiment]
    runs = state(ctx).client().runs.search(account, ids, filter=filter_,
                                           order_by=order_by or [], max_results=max_results)
    data: Any = runs if _machine(ctx, json_, output) else [_run_row(r) for r in runs]
    out(ctx, data, json_=json_, output=output, view=RUN_VIEW)


@runs_app.command("compare")
def runs_compare(
    ctx: typer.Context, account: AccountArg,
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Compare runs side by side: params and latest metrics as rows, runs as columns.

    Example: charter runs compare team-a-dev RUN_ID RUN_ID
    """
    runs = state(ctx).client().runs.compare(account, run_ids)
    if _machine(ctx, json_, output):
        out(ctx, runs, json_=json_, output=output)
        return
    columns = ["", *(r.name or r.id[:8] for r in runs)]
    rows = [dict(zip(columns, ["run id", *(r.id for r in runs)], strict=True)),
            dict(zip(columns, ["status", *(r.status for r in runs)], strict=True))]
    for key in sorted({k for r in runs for k in r.params}):
        rows.append(dict(zip(columns, [f"params.{key}",
                                       *(r.params.get(key, "") for r in runs)], strict=True)))
    for key in sorted({m.key for r in runs for m in r.metrics}):
        values = [next((_value(m.value) for m in r.metrics if m.key == key), "") for r in runs]
        rows.append(dict(zip(columns, [f"metrics.{key}", *values], strict=True)))
    out(ctx, rows, json_=json_, output=output, view=View(columns, keys=[""]))


COMMANDS = {"experiments": experiments_app, "runs": runs_app}
