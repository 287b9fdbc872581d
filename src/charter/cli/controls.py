"""`charter controls`: the control library, enablement and findings."""

from __future__ import annotations

from typing import Annotated

import typer

from charter.cli.common import (
    CursorOpt,
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    OutputOpt,
    YesOpt,
    confirm,
    out,
    state,
)
from charter.cli.output import View, console

controls_app = typer.Typer(help="Preventive, proactive and detective controls.",
                           no_args_is_help=True)

OuOpt = Annotated[str | None, typer.Option("--ou", help="OU path.")]
AccountOpt = Annotated[str | None, typer.Option("--account", help="Or one account.")]
ControlArg = Annotated[str, typer.Argument(help="Control id, e.g. CHARTER-DET-1.")]


@controls_app.command("list")
def controls_list(ctx: typer.Context, limit: LimitOpt = 100, offset: OffsetOpt = 0,
                  output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List every control, its kind and where it is enabled.

    Example: charter controls list -o wide
    """
    data = state(ctx).client().controls.list(limit=limit, offset=offset)
    out(ctx, data, json_=json_, output=output, view=View(
        ["id", "kind", "name", "enabled_on"], wide=["mandatory", "description"], keys=["id"]))


@controls_app.command("enable")
def controls_enable(ctx: typer.Context, control_id: ControlArg, ou: OuOpt = None,
                    account: AccountOpt = None, output: OutputOpt = None,
                    json_: JsonOpt = False) -> None:
    """Enable a control on an OU (and all below it) or on one account.

    Example: charter controls enable CHARTER-DET-1 --ou /workloads
    """
    data = state(ctx).client().controls.enable(control_id, ou=ou, account=account)
    out(ctx, data, lambda d: console.print(f"enabled {d.control_id} on {d.scope}"),
        json_=json_, output=output)


@controls_app.command("disable")
def controls_disable(ctx: typer.Context, control_id: ControlArg, ou: OuOpt = None,
                     account: AccountOpt = None, yes: YesOpt = False,
                     output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Disable a control where it was enabled (mandatory controls cannot be).

    Example: charter controls disable CHARTER-DET-1 --ou /workloads --yes
    """
    confirm(f"disable control {control_id} on {ou or account}", yes)
    data = state(ctx).client().controls.disable(control_id, ou=ou, account=account)
    out(ctx, data, lambda d: console.print(f"disabled {d.control_id} on {d.scope}"),
        json_=json_, output=output)


@controls_app.command("findings")
def controls_findings(
    ctx: typer.Context, account: AccountOpt = None,
    status: Annotated[str, typer.Option(help="open, resolved or all.")] = "open",
    control: Annotated[str | None, typer.Option(help="Only this control id.")] = None,
    limit: LimitOpt = 100, offset: OffsetOpt = 0, cursor: CursorOpt = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Findings of detective controls (kept in the security-tooling account).

    Example: charter controls findings --account team-a-dev --status all
    """
    data = state(ctx).client().controls.findings(account=account, status=status,
                                                 control=control, limit=limit, offset=offset,
                                                 cursor=cursor)
    out(ctx, data, json_=json_, output=output, view=View(
        ["id", "control_id", "account", "status", "message", "first_seen"],
        wide=["resource", "last_seen", "resolved_at", "crn"], keys=["id", "control_id"]))


@controls_app.command("evaluate")
def controls_evaluate(ctx: typer.Context, output: OutputOpt = None,
                      json_: JsonOpt = False) -> None:
    """Run every detective control now.

    Example: charter controls evaluate
    """
    data = state(ctx).client().controls.evaluate()
    out(ctx, data, lambda d: console.print(
        f"{d.opened} opened, {d.resolved} resolved, {d.open} open"), json_=json_, output=output)

COMMANDS = {"controls": controls_app}
