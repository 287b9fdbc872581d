"""`charter ous`, `charter accounts`, `charter blueprints` (`charter ou`: the old spelling)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text
from rich.tree import Tree

from charter.cli.common import (
    CursorOpt,
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    OutputOpt,
    YesOpt,
    confirm,
    out,
    parse_tags,
    state,
)
from charter.cli.output import View, console

ous_app = typer.Typer(help="The organisation's OU tree.", no_args_is_help=True)
# `charter ou tree` still works; help shows `ous` only.
ou_alias_app = typer.Typer(help="The organisation's OU tree (old spelling of `ous`).",
                           no_args_is_help=True, hidden=True)
accounts_app = typer.Typer(help="Accounts: vend from blueprints, list, show, update, close.",
                           no_args_is_help=True)
blueprints_app = typer.Typer(help="Account blueprints and their baselines.", no_args_is_help=True)

TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE; repeat for more.")]
AccountArg = Annotated[str, typer.Argument(help="Account name, e.g. team-a-dev.")]


def ous_tree(ctx: typer.Context, output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Show the OU tree with the accounts in each OU.

    Example: charter ous tree
    """
    data = state(ctx).client().org.tree()

    def render(node: Any) -> None:
        root = Tree(Text(node.path, style="bold"))
        _grow(root, node)
        console.print(root)

    out(ctx, data, render, json_=json_, output=output)


def _grow(branch: Tree, node: Any) -> None:
    for account in node.accounts:
        branch.add(Text(account, style="cyan"))
    for child in node.children:
        label = Text.assemble((child.path, "bold"), " ", (child.description, "dim"))
        _grow(branch.add(label), child)


def ous_create(ctx: typer.Context,
               path: Annotated[str, typer.Argument(help="Full path, e.g. /workloads/ml/sandbox.")],
               description: Annotated[str, typer.Option(help="What the OU holds.")] = "",
               output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Create an OU under an existing one (central cloud engineering only).

    Example: charter ous create /workloads/ml/sandbox --description "Experiments"
    """
    data = state(ctx).client().org.create_ou(path, description)
    out(ctx, data, lambda d: console.print(f"created OU {d.path}"), json_=json_, output=output)


for _group in (ous_app, ou_alias_app):
    _group.command("tree")(ous_tree)
    _group.command("create")(ous_create)


@accounts_app.command("create")
def accounts_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="New account's name, e.g. team-a-dev.")],
    ou: Annotated[str, typer.Option("--ou", help="OU path, e.g. /workloads/ml/nonprod.")],
    blueprint: Annotated[str, typer.Option("--blueprint", help="See `charter blueprints list`.")],
    tag: TagOpt = None,
    budget: Annotated[float | None,
                      typer.Option(help="Monthly budget (default: blueprint's).")] = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Vend an account from a blueprint: baseline roles, guardrails, budget and logging.

    Example: charter accounts create team-a-dev --ou /workloads/ml/nonprod --blueprint ml-team-dev --tag owner=team-a --tag cost-center=cc-1
    """  # noqa: E501
    data = state(ctx).client().accounts.create(name, ou=ou, blueprint=blueprint,
                                               tags=parse_tags(tag), budget=budget)
    out(ctx, data, _render_account, json_=json_, output=output)


def _render_account(d: Any) -> None:
    console.print(Text(d.name, style="bold"), f" {d.crn}", highlight=False)
    console.print(f"  OU: {d.ou}   blueprint: {d.blueprint}   status: {d.status}",
                  highlight=False)
    console.print(f"  tags: {', '.join(f'{k}={v}' for k, v in d.tags.items()) or '-'}",
                  highlight=False)
    console.print(f"  budget: {d.budget} USD/month", highlight=False)
    for group, permission_set in d.baseline.get("assignments", {}).items():
        console.print(f"  role: group {group} -> {permission_set}", highlight=False)
    for control in d.baseline.get("guardrails", []):
        console.print(f"  guardrail: {control}", highlight=False)


@accounts_app.command("list")
def accounts_list(
    ctx: typer.Context,
    ou: Annotated[str | None, typer.Option(help="Only accounts under this OU path.")] = None,
    status: Annotated[str | None, typer.Option(help="active or closed.")] = None,
    limit: LimitOpt = 100, offset: OffsetOpt = 0, cursor: CursorOpt = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """List the accounts you may see, by name.

    Example: charter accounts list --ou /workloads/ml --limit 20
    """
    data = state(ctx).client().accounts.list(ou=ou, status=status, limit=limit, offset=offset,
                                             cursor=cursor)
    out(ctx, data, json_=json_, output=output, view=View(
        ["name", "ou", "status", "blueprint", "budget"],
        wide=["crn", "tags", "created_by", "created_at", "closed_at"],
        keys=["name", "crn"]))


@accounts_app.command("show")
def accounts_show(ctx: typer.Context, name: AccountArg, output: OutputOpt = None,
                  json_: JsonOpt = False) -> None:
    """Show one account: OU, blueprint, tags, budget and baseline.

    Example: charter accounts show team-a-dev
    """
    out(ctx, state(ctx).client().accounts.get(name), _render_account, json_=json_,
        output=output)


@accounts_app.command("update")
def accounts_update(
    ctx: typer.Context, name: AccountArg, tag: TagOpt = None,
    remove_tag: Annotated[list[str] | None,
                          typer.Option("--remove-tag", help="Tag key to remove; repeat.")] = None,
    budget: Annotated[float | None, typer.Option(min=0, help="New monthly budget.")] = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Set or remove tags, or change the budget of an account.

    Example: charter accounts update team-a-dev --tag stage=dev --budget 500
    """
    data = state(ctx).client().accounts.update(name, tags=parse_tags(tag),
                                               remove_tags=remove_tag or [], budget=budget)
    out(ctx, data, _render_account, json_=json_, output=output)


@accounts_app.command("close")
def accounts_close(ctx: typer.Context, name: AccountArg, yes: YesOpt = False,
                   output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Close an account: its records stay, new work is refused.

    Example: charter accounts close team-a-dev --yes
    """
    confirm(f"close account {name}", yes)
    data = state(ctx).client().accounts.close(name)
    out(ctx, data, lambda d: console.print(f"closed {d.name}"), json_=json_, output=output)


@blueprints_app.command("list")
def blueprints_list(ctx: typer.Context, limit: LimitOpt = 100, offset: OffsetOpt = 0,
                    output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List the blueprints accounts are vended from.

    Example: charter blueprints list -o wide
    """
    data = state(ctx).client().org.blueprints(limit=limit, offset=offset)
    out(ctx, data, json_=json_, output=output, view=View(
        ["name", "ous", "budget", "controls"],
        wide=["name_suffix", "assignments", "description"], keys=["name"]))


@blueprints_app.command("show")
def blueprints_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Blueprint name, e.g. ml-team-dev.")],
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Show one blueprint: where it places accounts and the baseline it applies.

    Example: charter blueprints show ml-team-dev
    """
    def render(d: Any) -> None:
        console.print(Text(d.name, style="bold"), f" {d.description}", highlight=False)
        console.print(f"  OUs: {', '.join(d.ous)}   budget: {d.budget} USD/month", highlight=False)
        if d.name_suffix:
            console.print(f"  account names: <team>-{d.name_suffix}", highlight=False)
        for suffix, permission_set in d.assignments.items():
            console.print(f"  role: group <team>-{suffix} -> {permission_set}", highlight=False)
        for control in d.controls:
            console.print(f"  guardrail: {control}", highlight=False)

    out(ctx, state(ctx).client().org.blueprint(name), render, json_=json_, output=output)

COMMANDS = {"ous": ous_app, "ou": ou_alias_app, "accounts": accounts_app,
            "blueprints": blueprints_app}
