"""`charter users|groups|permission-sets|assignments|tokens`."""

from __future__ import annotations

from typing import Annotated

import typer

from charter.cli.common import (
    CursorOpt,
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    OutputOpt,
    out,
    page_rows,
    state,
    want_json,
)
from charter.cli.output import View, console, show, table

users_app = typer.Typer(help="Users of the organisation.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups: teams that permission sets are assigned to.",
                         no_args_is_help=True)
permission_sets_app = typer.Typer(help="Permission sets: one per persona.", no_args_is_help=True)
assignments_app = typer.Typer(help="Who holds which permission set where.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: shown once, stored hashed, expiring, revocable.",
                         no_args_is_help=True)


@users_app.command("create")
def users_create(
    ctx: typer.Context, name: str,
    group: Annotated[list[str] | None,
                     typer.Option("--group", help="Repeat to join several.")] = None,
    display_name: Annotated[str, typer.Option(help="Full name shown in listings.")] = "",
    email: Annotated[str, typer.Option(help="Contact address.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Create a user, optionally in existing groups."""
    data = state(ctx).client().users.create(name, groups=group or [], display_name=display_name,
                                            email=email)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"created user {d['name']} in {', '.join(d['groups']) or 'no group'}"))


@users_app.command("list")
def users_list(ctx: typer.Context, limit: LimitOpt = 100, offset: OffsetOpt = 0,
               cursor: CursorOpt = None, output: OutputOpt = None,
               json_: JsonOpt = False) -> None:
    """List users and their groups, by name.

    Example: charter users list --limit 20 -o wide
    """
    data = state(ctx).client().users.list(limit=limit, offset=offset, cursor=cursor)
    out(ctx, data, json_=json_, output=output,
        view=View(["name", "groups"], wide=["display_name", "email", "crn", "created_at"]))


@groups_app.command("create")
def groups_create(ctx: typer.Context, name: str,
                  description: Annotated[str, typer.Option(help="Who the group is.")] = "",
                  json_: JsonOpt = False) -> None:
    """Create a group."""
    data = state(ctx).client().groups.create(name, description=description)
    show(data, want_json(ctx, json_), lambda d: console.print(f"created group {d['name']}"))


@groups_app.command("list")
def groups_list(ctx: typer.Context, limit: LimitOpt = 100, offset: OffsetOpt = 0,
                json_: JsonOpt = False) -> None:
    """List groups and their members."""
    data = state(ctx).client().groups.list(limit=limit, offset=offset)
    rows, total, off = page_rows(data)
    show(data, want_json(ctx, json_), lambda d: table(
        rows, ["name", "description", "members"], total=total, offset=off))


@groups_app.command("add-member")
def groups_add_member(ctx: typer.Context, group: str, user: str, json_: JsonOpt = False) -> None:
    """Add a user to a group."""
    data = state(ctx).client().groups.add_member(group, user)
    show(data, want_json(ctx, json_), lambda d: console.print(f"{user} joined {group}"))


@groups_app.command("remove-member")
def groups_remove_member(ctx: typer.Context, group: str, user: str,
                         json_: JsonOpt = False) -> None:
    """Remove a user from a group."""
    data = state(ctx).client().groups.remove_member(group, user)
    show(data, want_json(ctx, json_), lambda d: console.print(f"{user} left {group}"))


@permission_sets_app.command("list")
def permission_sets_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List the permission sets (personas) and the action patterns they allow."""
    data = state(ctx).client().permission_sets.list()
    show(data, want_json(ctx, json_), lambda d: table(
        d, ["name", "persona", "team", "patterns", "description"]))


@assignments_app.command("create")
def assignments_create(
    ctx: typer.Context,
    permission_set: Annotated[str, typer.Option("--permission-set", help="e.g. data-scientist")],
    group: Annotated[str | None, typer.Option(help="Group to assign.")] = None,
    user: Annotated[str | None, typer.Option(help="Or a single user.")] = None,
    account: Annotated[str | None, typer.Option(help="Account it applies in.")] = None,
    ou: Annotated[str | None, typer.Option(help="Or every account under this OU.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Give a group or user a permission set in an account (or every account of an OU)."""
    data = state(ctx).client().assignments.create(permission_set=permission_set, group=group,
                                                  user=user, account=account, ou=ou)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"{d['id']}: {d['principal_type']} {d['principal_name']} holds {d['permission_set']} "
        f"in {d['scope_type']} {d['scope']}"))


@assignments_app.command("list")
def assignments_list(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option(help="Only this account's.")] = None,
    principal: Annotated[str | None, typer.Option(help="Only this user's or group's.")] = None,
    limit: LimitOpt = 100, offset: OffsetOpt = 0, json_: JsonOpt = False,
) -> None:
    """List assignments, optionally of one account or one user or group."""
    data = state(ctx).client().assignments.list(account=account, principal=principal,
                                                limit=limit, offset=offset)
    rows, total, off = page_rows(data)
    show(data, want_json(ctx, json_), lambda d: table(
        rows, ["id", "principal_type", "principal_name", "permission_set", "scope_type",
               "scope"], total=total, offset=off))


@assignments_app.command("delete")
def assignments_delete(ctx: typer.Context, assignment_id: str, json_: JsonOpt = False) -> None:
    """Remove an assignment."""
    data = state(ctx).client().assignments.delete(assignment_id)
    show(data, want_json(ctx, json_), lambda d: console.print(f"deleted {d['id']}"))


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Owner (default: you).")] = None,
    expires_in: Annotated[str | None, typer.Option(help="Lifetime: 30d, 12h, 2w...")] = None,
    description: Annotated[str, typer.Option(help="What the token is for.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Create an API token. The secret is printed once; keep it safe.

    A token for yourself is a child of the token you use: it expires no later than that
    one and is revoked with it. A token for another user (--user) has no parent.
    """
    data = state(ctx).client().tokens.create(user=user, expires_in=expires_in,
                                             description=description)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"token {d['id']} for {d['user']}, expires {d['expires_at']}"
        + (f" (made with {d['parent_id']}: expires no later, revoked with it)"
           if d.get("parent_id") else "")
        + f"\n{d['token']}\n[dim]This is the only time the secret is shown.[/dim]",
        highlight=False))


@tokens_app.command("list")
def tokens_list(ctx: typer.Context,
                user: Annotated[str | None, typer.Option(help="Another user's.")] = None,
                all_users: Annotated[bool, typer.Option("--all", help="Every user's.")] = False,
                limit: LimitOpt = 100, offset: OffsetOpt = 0, json_: JsonOpt = False) -> None:
    """List your tokens (or a user's, or everyone's with --all); secrets are never shown."""
    data = state(ctx).client().tokens.list(user=user, all=all_users, limit=limit, offset=offset)
    rows, total, off = page_rows(data)
    show(data, want_json(ctx, json_), lambda d: table(
        rows, ["id", "user", "status", "created_at", "expires_at", "last_used_at", "parent_id",
               "description"], total=total, offset=off))


@tokens_app.command("revoke")
def tokens_revoke(ctx: typer.Context, token_id: str, json_: JsonOpt = False) -> None:
    """Revoke a token at once, and every token made with it.

    From a token, you may revoke that token and those made with it; your other tokens
    need a permission set that covers revoking tokens.
    """
    data = state(ctx).client().tokens.revoke(token_id)
    show(data, want_json(ctx, json_), lambda d: console.print(
        f"revoked {d['id']}" + (f" and the tokens made with it: {', '.join(d['also_revoked'])}"
                                if d.get("also_revoked") else "")))

COMMANDS = {"users": users_app, "groups": groups_app, "permission-sets": permission_sets_app,
            "assignments": assignments_app, "tokens": tokens_app}
