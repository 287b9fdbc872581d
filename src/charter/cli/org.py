"""`charter ou`, `charter accounts`, `charter blueprints`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.tree import Tree

from charter.cli.common import JsonOpt, LimitOpt, OffsetOpt, page_rows, parse_tags, state, want_json
from charter.cli.output import console, show, table

ou_app = typer.Typer(help="The organisation's OU tree.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts: vend from blueprints, list, show, update, close.",
                           no_args_is_help=True)
blueprints_app = typer.Typer(help="Account blueprints and their baselines.", no_args_is_help=True)

TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE; repeat for more.")]


@ou_app.command("tree")
def ou_tree(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Show the OU tree with the accounts in each OU."""
    data = state(ctx).client().org.tree()

    def render(node: dict[str, Any]) -> None:
        root = Tree(f"[bold]{node['path']}[/bold]")
        _grow(root, node)
        console.print(root)

    show(data, want_json(ctx, json_), render)


def _grow(branch: Tree, node: dict[str, Any]) -> None:
    for account in node["accounts"]:
        branch.add(f"[cyan]{account}[/cyan]")
    for child in node["children"]:
        _grow(branch.add(f"[bold]{child['path']}[/bold] [dim]{child['description']}[/dim]"), child)


@ou_app.command("create")
def ou_create(ctx: typer.Context,
              path: Annotated[str, typer.Argument(help="Full path, e.g. /workloads/ml/sandbox.")],
              description: Annotated[str, typer.Option(help="What the OU holds.")] = "",
              json_: JsonOpt = False) -> None:
    """Create an OU under an existing one (central cloud engineering only)."""
    data = state(ctx).client().org.create_ou(path, description)
    show(data, want_json(ctx, json_), lambda d: console.print(f"created OU {d['path']}"))


@accounts_app.command("create")
def accounts_create(
    ctx: typer.Context,
    name: str,
    ou: Annotated[str, typer.Option("--ou", help="OU path, e.g. /workloads/ml/nonprod.")],
    blueprint: Annotated[str, typer.Option("--blueprint", help="See `charter blueprints list`.")],
    tag: TagOpt = None,
    budget: Annotated[float | None,
                      typer.Option(help="Monthly budget (default: blueprint's).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Vend an account from a blueprint: baseline roles, guardrails, budget and logging."""
    data = state(ctx).client().accounts.create(name, ou=ou, blueprint=blueprint,
                                               tags=parse_tags(tag), budget=budget)
    show(data, want_json(ctx, json_), _render_account)


def _render_account(d: dict[str, Any]) -> None:
    console.print(f"[bold]{d['name']}[/bold]  {d['crn']}")
    console.print(f"  OU: {d['ou']}   blueprint: {d['blueprint']}   status: {d['status']}")
    console.print(f"  tags: {', '.join(f'{k}={v}' for k, v in d['tags'].items()) or '-'}")
    console.print(f"  budget: {d['budget']} USD/month")
    for group, permission_set in d["baseline"].get("assignments", {}).items():
        console.print(f"  role: group {group} -> {permission_set}")
    for control in d["baseline"].get("guardrails", []):
        console.print(f"  guardrail: {control}")


@accounts_app.command("list")
def accounts_list(
    ctx: typer.Context,
    ou: Annotated[str | None, typer.Option(help="Only accounts under this OU path.")] = None,
    status: Annotated[str | None, typer.Option(help="active or closed.")] = None,
    limit: LimitOpt = 100, offset: OffsetOpt = 0, json_: JsonOpt = False,
) -> None:
    """List the accounts you may see."""
    data = state(ctx).client().accounts.list(ou=ou, status=status, limit=limit, offset=offset)
    rows, total, off = page_rows(data)
    show(data, want_json(ctx, json_), lambda d: table(
        rows, ["name", "ou", "blueprint", "status", "tags", "budget"], total=total, offset=off))


@accounts_app.command("show")
def accounts_show(ctx: typer.Context, name: str, json_: JsonOpt = False) -> None:
    """Show one account."""
    show(state(ctx).client().accounts.get(name), want_json(ctx, json_), _render_account)


@accounts_app.command("update")
def accounts_update(
    ctx: typer.Context, name: str, tag: TagOpt = None,
    remove_tag: Annotated[list[str] | None,
                          typer.Option("--remove-tag", help="Tag key to remove; repeat.")] = None,
    budget: Annotated[float | None, typer.Option(min=0, help="New monthly budget.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Set or remove tags, or change the budget of an account."""
    data = state(ctx).client().accounts.update(name, tags=parse_tags(tag),
                                               remove_tags=remove_tag or [], budget=budget)
    show(data, want_json(ctx, json_), _render_account)


@accounts_app.command("close")
def accounts_close(ctx: typer.Context, name: str, json_: JsonOpt = False) -> None:
    """Close an account: its records stay, new work is refused."""
    data = state(ctx).client().accounts.close(name)
    show(data, want_json(ctx, json_), lambda d: console.print(f"closed {d['name']}"))


@blueprints_app.command("list")
def blueprints_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List the blueprints accounts are vended from."""
    data = state(ctx).client().org.blueprints()
    show(data, want_json(ctx, json_), lambda d: table(
        d, ["name", "ous", "name_suffix", "budget", "assignments", "controls", "description"]))

COMMANDS = {"ou": ou_app, "accounts": accounts_app, "blueprints": blueprints_app}
