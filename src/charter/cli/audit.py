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
        last = data.get("last_checkpoint_seq")
        console.print(f"[green]audit trail verified[/green]: {data['records']} records, "
                      f"chain unbroken, {data.get('checkpoints', 0)} signed checkpoints"
                      + (f" (the last at record {last})" if last else ""))
    elif data["first_bad_seq"] is None:
        console.print(f"[red]audit trail NOT VERIFIED[/red]: {data['problem']}")
    else:
        console.print(f"[red]audit trail BROKEN[/red] at record {data['first_bad_seq']} "
                      f"({data['records']} records checked out before it): {data['problem']}")
        for fault in data.get("faults", [])[1:]:
            console.print(f"  also at record {fault['seq']}: {fault['problem']}")
    if not data["ok"]:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Sign the trail's head now: records removed after this point will be told by verify.

    The records since the last checkpoint are verified first; a damaged trail is never
    signed. A running server signs one every CHARTER_AUDIT_CHECKPOINT_INTERVAL seconds.
    """
    data = state(ctx).client().audit.checkpoint()
    show(data, want_json(ctx, json_), lambda d: console.print(
        "nothing to sign: the trail is empty" if not d else
        f"checkpoint {d['number']} signed at record {d['seq']} ({d['time']}, key "
        f"{d['key_id']})" + (f"; it records {len(d['faults'])} fault(s) of the trail, the "
                             f"first: {d['faults'][0]['problem']}" if d["faults"] else "")))


@audit_app.command("checkpoints")
def audit_checkpoints(ctx: typer.Context, limit: LimitOpt = 50, offset: OffsetOpt = 0,
                      json_: JsonOpt = False) -> None:
    """List signed checkpoints, newest first, with where they are kept and the public key."""
    data = state(ctx).client().audit.checkpoints(limit=limit, offset=offset)
    rows, total, off = page_rows(data)

    def render(d: dict) -> None:
        console.print(f"kept in {d['location']}; signed by key {d['key_id']}:")
        console.print(d["public_key"].strip())
        for row in rows:
            row["faults"] = len(row["faults"])
        table(rows, ["number", "seq", "time", "faults", "hash", "digest"], total=total,
              offset=off)

    show(data, want_json(ctx, json_), render)


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

COMMANDS = {"audit": audit_app}
