"""`charter audit`: query and verify the hash-chained trail."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from charter.cli.common import (
    CursorOpt,
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    OutputOpt,
    default_group,
    out,
    state,
)
from charter.cli.output import View, console, table


class _ListByDefault(default_group("list")):  # type: ignore[misc]
    """`charter audit events` with no command, or with the listing's options first
    (`charter audit events --action X`, the old spelling), lists."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ctx.help_option_names):
            args = ["list", *args]
        return super().parse_args(ctx, args)


audit_app = typer.Typer(help="The audit trail: every operation, allowed or denied.",
                        no_args_is_help=True)
events_app = typer.Typer(cls=_ListByDefault, help="Audit records: list them, or show one in "
                         "full (`charter audit events` lists).")
audit_app.add_typer(events_app, name="events")


@events_app.command("list")
def audit_events(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option(help="Only records of this account.")] = None,
    principal: Annotated[str | None, typer.Option(help="Only this user's records.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. org:CreateAccount")] = None,
    decision: Annotated[str | None, typer.Option(help="allow or deny")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time or a duration ago: 1h, 7d")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time or a duration ago")] = None,
    request_id: Annotated[str | None, typer.Option(help="One request's records.")] = None,
    limit: LimitOpt = 50, offset: OffsetOpt = 0, cursor: CursorOpt = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """List audit records, newest first; `charter audit events show SEQ` shows one in full.

    Example: charter audit events list --decision deny --since 1h
    """
    data = state(ctx).client().audit.events(
        account=account, principal=principal, action=action, decision=decision, since=since,
        until=until, request_id=request_id, limit=limit, offset=offset, cursor=cursor)
    out(ctx, data, json_=json_, output=output, view=View(
        ["seq", "action", "decision", "principal", "account", "error_code", "time"],
        wide=["outcome", "resource", "request_id", "source", "reason"],
        keys=["seq", "action"]))


@events_app.command("show")
def audit_events_show(
    ctx: typer.Context,
    seq: Annotated[int, typer.Argument(min=1, help="The record's sequence number (seq), "
                                                   "as listed.")],
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Show one audit record in full: decision and why, error, request, resource, details.

    Example: charter audit events show 42
    """
    out(ctx, state(ctx).client().audit.event(seq), _render_event, json_=json_, output=output)


def _render_event(d: Any) -> None:
    console.print(Text(f"record {d.seq}", style="bold"), f" {d.time}")
    console.print("  decision:   ", Text(d.decision, style="green" if d.decision == "allow"
                                         else "red"), f" ({d.outcome})", sep="")
    lines = [f"  action:     {d.action}"]
    if d.error_code:  # a failure records its error's message as the reason
        lines += [f"  error:      {d.error_code}", f"  message:    {d.reason or '-'}"]
    else:
        lines.append(f"  reason:     {d.reason or '-'}")
    lines += [f"  principal:  {d.principal}   source: {d.source}",
              f"  account:    {d.account}",
              f"  resource:   {d.resource}",
              f"  request id: {d.request_id}",
              f"  hash:       {d.hash}"]
    lines += [f"  {key}: {value}" for key, value in (d.details or {}).items()]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Verify the hash chain; names the first record changed, removed or reordered.

    Example: charter audit verify
    """
    data = state(ctx).client().audit.verify()
    out(ctx, data, _render_verify, json_=json_, output=output)
    if not data.ok:
        raise typer.Exit(1)


def _render_verify(d: Any) -> None:
    if d.ok:
        last = d.last_checkpoint_seq
        console.print(Text("audit trail verified", style="green"),
                      f": {d.records} records, chain unbroken, {d.checkpoints} signed "
                      "checkpoints" + (f" (the last at record {last})" if last else ""),
                      sep="")
    elif d.first_bad_seq is None:
        console.print(Text("audit trail NOT VERIFIED", style="red"), f": {d.problem}", sep="")
    else:
        console.print(Text("audit trail BROKEN", style="red"),
                      f" at record {d.first_bad_seq} ({d.records} records checked out "
                      f"before it): {d.problem}", sep="")
        for fault in d.faults[1:]:
            console.print(f"  also at record {fault.seq}: {fault.problem}")


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context, output: OutputOpt = None,
                     json_: JsonOpt = False) -> None:
    """Sign the trail's head now: records removed after this point will be told by verify.

    The records since the last checkpoint are verified first; a damaged trail is never
    signed. A running server signs one every CHARTER_AUDIT_CHECKPOINT_INTERVAL seconds.

    Example: charter audit checkpoint
    """
    data = state(ctx).client().audit.checkpoint()
    out(ctx, data, lambda d: console.print(
        "nothing to sign: the trail is empty" if not d else
        f"checkpoint {d.number} signed at record {d.seq} ({d.time}, key "
        f"{d.key_id})" + (f"; it records {len(d.faults)} fault(s) of the trail, the "
                          f"first: {d.faults[0].problem}" if d.faults else "")),
        json_=json_, output=output)


@audit_app.command("checkpoints")
def audit_checkpoints(ctx: typer.Context, limit: LimitOpt = 50, offset: OffsetOpt = 0,
                      output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List signed checkpoints, newest first, with where they are kept and the public key.

    Example: charter audit checkpoints --limit 10
    """
    data = state(ctx).client().audit.checkpoints(limit=limit, offset=offset)

    def render(d: Any) -> None:
        console.print(f"kept in {d.location}; signed by key {d.key_id}:")
        console.print(d.public_key.strip())
        rows = [{**c.model_dump(mode="json"), "faults": len(c.faults)} for c in d.items]
        table(rows, ["number", "seq", "time", "faults", "hash", "digest"], total=d.total,
              offset=d.offset, keys=["number", "seq"])

    out(ctx, data, render, json_=json_, output=output)


@audit_app.command("stop")
def audit_stop(ctx: typer.Context, output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Try to stop the trail (always refused by CHARTER-PREV-1; the attempt is audited).

    Example: charter audit stop
    """
    state(ctx).client().audit.stop()


@audit_app.command("delete")
def audit_delete(ctx: typer.Context,
                 before: Annotated[str | None, typer.Option(help="Records older than.")] = None,
                 output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Try to delete audit records (always refused; the attempt is audited).

    Example: charter audit delete --before 30d
    """
    state(ctx).client().audit.delete(before=before)

COMMANDS = {"audit": audit_app}
