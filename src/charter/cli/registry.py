"""`charter models`: the account's model registry: groups, versions, approval."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from charter.cli.common import CursorOpt, JsonOpt, LimitOpt, OffsetOpt, OutputOpt, out, state
from charter.cli.output import View, console, table

models_app = typer.Typer(help="The model registry: model groups, versions and approval.",
                         no_args_is_help=True)

AccountArg = Annotated[str, typer.Argument(help="The account whose registry it is.")]
GroupArg = Annotated[str, typer.Argument(help="Model group name.")]
VersionArg = Annotated[int, typer.Argument(min=1, help="Version number.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded with the decision, "
                                        "at most 1,000 characters).")]


@models_app.command("groups")
def models_groups(ctx: typer.Context, account: AccountArg, limit: LimitOpt = 100,
                  offset: OffsetOpt = 0, cursor: CursorOpt = None, output: OutputOpt = None,
                  json_: JsonOpt = False) -> None:
    """List an account's model groups.

    Example: charter models groups team-a-dev
    """
    data = state(ctx).client().models.groups(account, limit=limit, offset=offset,
                                             cursor=cursor)
    out(ctx, data, json_=json_, output=output, view=View(
        ["name", "latest_version", "aliases", "updated_at"],
        wide=["description", "tags", "created_by", "crn"], keys=["name"]))


@models_app.command("versions")
def models_versions(ctx: typer.Context, account: AccountArg, group: GroupArg,
                    limit: LimitOpt = 100, offset: OffsetOpt = 0, cursor: CursorOpt = None,
                    output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List a model group's versions, newest first, with their approval status.

    Example: charter models versions team-a-dev churn
    """
    data = state(ctx).client().models.versions(account, group, limit=limit, offset=offset,
                                               cursor=cursor)
    out(ctx, data, json_=json_, output=output, view=View(
        ["version", "approval_status", "flavor", "run_id", "created_by", "created_at"],
        wide=["aliases", "source", "crn"], keys=["version"]))


@models_app.command("show")
def models_show(ctx: typer.Context, account: AccountArg, group: GroupArg,
                version: VersionArg, output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Show a model version: approval, files with sha256, metrics and lake inputs.

    Example: charter models show team-a-dev churn 1
    """
    data = state(ctx).client().models.version(account, group, version)
    out(ctx, data, _render_version, json_=json_, output=output)


def _render_version(v: Any) -> None:
    console.print(Text(f"{v.group} version {v.version}", style="bold"), f" {v.crn}")
    console.print(f"  {v.approval_status}, {v.flavor}, source {v.source}", markup=False,
                  highlight=False)
    if v.approval is not None:
        console.print(f"  by {v.approval.by} at {v.approval.at}: {v.approval.reason}",
                      markup=False, highlight=False)
    if v.run_id:
        console.print(f"  run {v.run_id}", markup=False, highlight=False)
    table([f.model_dump() for f in v.files], ["path", "size", "sha256"], keys=["path"])
    if v.metrics:
        table([m.model_dump() for m in v.metrics], ["key", "value", "step"], keys=["key"])
    if v.lake_inputs:
        table([i.model_dump(mode="json") for i in v.lake_inputs],
              ["account", "table", "snapshot_id"], keys=["table"])


def _decided(v: Any) -> None:
    console.print(f"{v.group} version {v.version}: {v.approval_status}", markup=False)


@models_app.command("approve")
def models_approve(ctx: typer.Context, account: AccountArg, group: GroupArg,
                   version: VersionArg, reason: ReasonOpt, output: OutputOpt = None,
                   json_: JsonOpt = False) -> None:
    """Approve a model version (the account's ML team lead only).

    Example: charter models approve team-a-dev churn 1 --reason "AUC 0.91 on holdout"
    """
    data = state(ctx).client().models.approve(account, group, version, reason=reason)
    out(ctx, data, _decided, json_=json_, output=output)


@models_app.command("reject")
def models_reject(ctx: typer.Context, account: AccountArg, group: GroupArg,
                  version: VersionArg, reason: ReasonOpt, output: OutputOpt = None,
                  json_: JsonOpt = False) -> None:
    """Reject a model version (the account's ML team lead only).

    Example: charter models reject team-a-dev churn 2 --reason "leaks the target column"
    """
    data = state(ctx).client().models.reject(account, group, version, reason=reason)
    out(ctx, data, _decided, json_=json_, output=output)


COMMANDS = {"models": models_app}
