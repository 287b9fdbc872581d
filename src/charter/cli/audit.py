"""`charter audit`: query and verify the hash-chained trail."""

from __future__ import annotations

from typing import Annotated

import typer

from charter.cli.common import JsonOpt, LimitOpt, OffsetOpt, page_rows, state, want_json
from charter.cli.output import console, show, table

audit_app = typer.Typer(help="The audit trail: every operation, allowed or denied.",
                        no_args_is_help=True)


@audit_app.command("events")
def audit_events(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option(help="Only records of this account.")] = None,
    principal: Annotated[str | None, typer.Option(help="Only this user's records.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. org:CreateAccount")] = None,
    decision: Annotated[str | None, typer.Option(help="allow or deny")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time or a duration ago: 1h, 7d")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time or a duration ago")] = None,
    request_id: Annotated[str | None, typer.Option(help="One request's records.")] = None,
    limit: LimitOpt = 50, offset: OffsetOpt = 0, json_: JsonOpt = False,
) -> None:
    """List audit records, newest first."""
    data = state(ctx).client().audit.events(
        account=account, principal=principal, action=action, decision=decision, since=since,
        until=until, request_id=request_id, limit=limit, offset=offset)
    rows, total, off = page_rows(data)
    show(data, want_json(ctx, json_), lambda d: table(
        rows, ["seq", "time", "principal", "account", "action", "decision", "outcome",
               "error_code", "resource"], total=total, offset=off))


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Verify the hash chain; names the first record changed, removed or reordered."""
    data = state(ctx).client().audit.verify()
    as_json = want_json(ctx, json_)
    if as_json:
        show(data, True, print)
    elif data["ok"]:
        console.print(f"[green]audit trail verified[/green]: {data['records']} records, "
                      "chain unbroken")
    else:
        console.print(f"[red]audit trail BROKEN[/red] at record {data['first_bad_seq']}: "
                      f"{data['problem']}")
    if not data["ok"]:
        raise typer.Exit(1)


@audit_app.command("stop")
def audit_stop(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Try to stop the trail (always refused by CHARTER-PREV-1; the attempt is audited)."""
    state(ctx).client().audit.stop()


@audit_app.command("delete")
def audit_delete(ctx: typer.Context,
                 before: Annotated[str | None, typer.Option(help="Records older than.")] = None,
                 json_: JsonOpt = False) -> None:
    """Try to delete audit records (always refused; the attempt is audited)."""
    state(ctx).client().audit.delete(before=before)
