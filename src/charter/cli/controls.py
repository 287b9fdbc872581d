"""`charter controls`: the control library, enablement and findings."""

from __future__ import annotations

from typing import Annotated

import typer

from charter.cli.common import JsonOpt, LimitOpt, OffsetOpt, page_rows, state, want_json
from charter.cli.output import console, show, table

controls_app = typer.Typer(help="Preventive, proactive and detective controls.",
                           no_args_is_help=True)

OuOpt = Annotated[str | None, typer.Option("--ou", help="OU path.")]
AccountOpt = Annotated[str | None, typer.Option("--account", help="Or one account.")]


@controls_app.command("list")
def controls_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List every control, its kind and where it is enabled."""
    data = state(ctx).client().controls.list()
    show(data, want_json(ctx, json_), lambda d: table(
        d, ["id", "kind", "name", "mandatory", "enabled_on", "description"]))


@controls_app.command("enable")
def controls_enable(ctx: typer.Context, control_id: str, ou: OuOpt = None,
                    account: AccountOpt = None, json_: JsonOpt = False) -> None:
    """Enable a control on an OU (and all below it) or on one account."""
    data = state(ctx).client().controls.enable(control_id, ou=ou, account=account)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"enabled {d['control_id']} on {d['scope']}"))


@controls_app.command("disable")
def controls_disable(ctx: typer.Context, control_id: str, ou: OuOpt = None,
                     account: AccountOpt = None, json_: JsonOpt = False) -> None:
    """Disable a control where it was enabled (mandatory controls cannot be)."""
    data = state(ctx).client().controls.disable(control_id, ou=ou, account=account)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"disabled {d['control_id']} on {d['scope']}"))


@controls_app.command("findings")
def controls_findings(
    ctx: typer.Context, account: AccountOpt = None,
    status: Annotated[str, typer.Option(help="open, resolved or all.")] = "open",
    control: Annotated[str | None, typer.Option(help="Only this control id.")] = None,
    limit: LimitOpt = 100, offset: OffsetOpt = 0, json_: JsonOpt = False,
) -> None:
    """Findings of detective controls (kept in the security-tooling account)."""
    data = state(ctx).client().controls.findings(account=account, status=status,
                                                 control=control, limit=limit, offset=offset)
    rows, total, off = page_rows(data)
    show(data, want_json(ctx, json_), lambda d: table(
        rows, ["control_id", "account", "status", "message", "first_seen"],
        title=f"{total} finding(s)", total=total, offset=off))


@controls_app.command("evaluate")
def controls_evaluate(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Run every detective control now."""
    data = state(ctx).client().controls.evaluate()
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"{d['opened']} opened, {d['resolved']} resolved, {d['open']} open"))

COMMANDS = {"controls": controls_app}
