"""`charter users|groups|permission-sets|assignments|tokens`."""

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
    YesOpt,
    confirm,
    out,
    state,
)
from charter.cli.output import View, console, note

users_app = typer.Typer(help="Users of the organisation.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups: teams that permission sets are assigned to.",
                         no_args_is_help=True)
permission_sets_app = typer.Typer(help="Permission sets: one per persona.", no_args_is_help=True)
assignments_app = typer.Typer(help="Who holds which permission set where.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: shown once, stored hashed, expiring, revocable.",
                         no_args_is_help=True)

UserArg = Annotated[str, typer.Argument(help="User name, e.g. alice.")]
GroupArg = Annotated[str, typer.Argument(help="Group name, e.g. team-a-leads.")]


@users_app.command("create")
def users_create(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Login name: lower-case "
                                                              "letters, digits, dashes.")],
    group: Annotated[list[str] | None,
                     typer.Option("--group", help="Repeat to join several.")] = None,
    display_name: Annotated[str, typer.Option(help="Full name shown in listings.")] = "",
    email: Annotated[str, typer.Option(help="Contact address.")] = "",
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Create a user, optionally in existing groups.

    Example: charter users create alice --group team-a-data-scientists
    """
    data = state(ctx).client().users.create(name, groups=group or [], display_name=display_name,
                                            email=email)
    out(ctx, data, lambda d: console.print(
        f"created user {d.name} in {', '.join(d.groups) or 'no group'}"),
        json_=json_, output=output)


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


def _render_user(d: Any) -> None:
    console.print(Text(d.name, style="bold"), f" {d.crn}", highlight=False)
    console.print(f"  display name: {d.display_name or '-'}   email: {d.email or '-'}",
                  highlight=False)
    console.print(f"  groups: {', '.join(d.groups) or '-'}   created: {d.created_at}",
                  highlight=False)


@users_app.command("show")
def users_show(ctx: typer.Context, name: UserArg, output: OutputOpt = None,
               json_: JsonOpt = False) -> None:
    """Show one user and their groups.

    Example: charter users show alice
    """
    out(ctx, state(ctx).client().users.get(name), _render_user, json_=json_, output=output)


@users_app.command("delete")
def users_delete(ctx: typer.Context, name: UserArg, yes: YesOpt = False,
                 output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Delete a user: their memberships and direct assignments go, their tokens are revoked.

    The last user who administers the organisation cannot be deleted.

    Example: charter users delete alice --yes
    """
    confirm(f"delete user {name}, their assignments and tokens", yes)
    data = state(ctx).client().users.delete(name)
    out(ctx, data, lambda d: console.print(
        f"deleted user {d.name}: left {', '.join(d.groups) or 'no group'}; "
        f"{len(d.assignments_removed)} assignment(s) removed, "
        f"{len(d.tokens_revoked)} token(s) revoked", highlight=False),
        json_=json_, output=output)


@groups_app.command("create")
def groups_create(ctx: typer.Context,
                  name: Annotated[str, typer.Argument(help="Group name, e.g. ops.")],
                  description: Annotated[str, typer.Option(help="Who the group is.")] = "",
                  output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Create a group.

    Example: charter groups create ops --description "Platform operators"
    """
    data = state(ctx).client().groups.create(name, description=description)
    out(ctx, data, lambda d: console.print(f"created group {d.name}"), json_=json_,
        output=output)


@groups_app.command("list")
def groups_list(ctx: typer.Context, limit: LimitOpt = 100, offset: OffsetOpt = 0,
                cursor: CursorOpt = None, output: OutputOpt = None,
                json_: JsonOpt = False) -> None:
    """List groups and their members, by name.

    Example: charter groups list --limit 20
    """
    data = state(ctx).client().groups.list(limit=limit, offset=offset, cursor=cursor)
    out(ctx, data, json_=json_, output=output,
        view=View(["name", "members"], wide=["description", "crn", "created_at"]))


@groups_app.command("show")
def groups_show(ctx: typer.Context, name: GroupArg, output: OutputOpt = None,
                json_: JsonOpt = False) -> None:
    """Show one group and its members.

    Example: charter groups show cloud-engineering
    """
    def render(d: Any) -> None:
        console.print(Text(d.name, style="bold"), f" {d.crn}", highlight=False)
        console.print(f"  {d.description or '-'}", highlight=False)
        console.print(f"  members: {', '.join(d.members) or '-'}", highlight=False)

    out(ctx, state(ctx).client().groups.get(name), render, json_=json_, output=output)


@groups_app.command("add-member")
def groups_add_member(ctx: typer.Context, group: GroupArg, user: UserArg,
                      output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """Add a user to a group.

    Example: charter groups add-member team-a-leads alice
    """
    data = state(ctx).client().groups.add_member(group, user)
    out(ctx, data, lambda d: console.print(f"{user} joined {group}"), json_=json_,
        output=output)


@groups_app.command("remove-member")
def groups_remove_member(ctx: typer.Context, group: GroupArg, user: UserArg,
                         yes: YesOpt = False, output: OutputOpt = None,
                         json_: JsonOpt = False) -> None:
    """Remove a user from a group (never the last administrator from theirs).

    Example: charter groups remove-member team-a-leads alice --yes
    """
    confirm(f"remove {user} from group {group}", yes)
    data = state(ctx).client().groups.remove_member(group, user)
    out(ctx, data, lambda d: console.print(f"{user} left {group}"), json_=json_,
        output=output)


@permission_sets_app.command("list")
def permission_sets_list(ctx: typer.Context, limit: LimitOpt = 100, offset: OffsetOpt = 0,
                         output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List the permission sets (personas) and the action patterns they allow.

    Example: charter permission-sets list -o wide
    """
    data = state(ctx).client().permission_sets.list(limit=limit, offset=offset)
    out(ctx, data, json_=json_, output=output,
        view=View(["name", "persona", "patterns"], wide=["team", "description"],
                  keys=["name"]))


@permission_sets_app.command("show")
def permission_sets_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Permission set, e.g. data-scientist.")],
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Show one permission set: its persona, patterns and every action they allow.

    Example: charter permission-sets show data-scientist
    """
    def render(d: Any) -> None:
        console.print(Text(d.name, style="bold"), f" {d.persona} ({d.team})",
                      highlight=False)
        console.print(f"  {d.description}", highlight=False)
        console.print(f"  patterns: {', '.join(d.patterns)}", highlight=False)
        console.print(f"  actions ({len(d.actions)}):", highlight=False)
        for action in d.actions:
            console.print(f"    {action}", highlight=False)

    out(ctx, state(ctx).client().permission_sets.get(name), render, json_=json_,
        output=output)


@assignments_app.command("create")
def assignments_create(
    ctx: typer.Context,
    permission_set: Annotated[str, typer.Option("--permission-set", help="e.g. data-scientist")],
    group: Annotated[str | None, typer.Option(help="Group to assign.")] = None,
    user: Annotated[str | None, typer.Option(help="Or a single user.")] = None,
    account: Annotated[str | None, typer.Option(help="Account it applies in.")] = None,
    ou: Annotated[str | None, typer.Option(help="Or every account under this OU.")] = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Give a group or user a permission set in an account (or every account of an OU).

    Example: charter assignments create --user alice --permission-set auditor --ou /
    """
    data = state(ctx).client().assignments.create(permission_set=permission_set, group=group,
                                                  user=user, account=account, ou=ou)
    out(ctx, data, lambda d: console.print(
        f"{d.id}: {d.principal_type} {d.principal_name} holds {d.permission_set} "
        f"in {d.scope_type} {d.scope}", highlight=False), json_=json_, output=output)


@assignments_app.command("list")
def assignments_list(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option(help="Only this account's.")] = None,
    principal: Annotated[str | None, typer.Option(help="Only this user's or group's.")] = None,
    limit: LimitOpt = 100, offset: OffsetOpt = 0, cursor: CursorOpt = None,
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """List assignments, oldest first, optionally of one account or one user or group.

    Example: charter assignments list --account team-a-dev
    """
    data = state(ctx).client().assignments.list(account=account, principal=principal,
                                                limit=limit, offset=offset, cursor=cursor)
    out(ctx, data, json_=json_, output=output, view=View(
        ["id", "principal_type", "principal_name", "permission_set", "scope_type", "scope"],
        wide=["created_by", "created_at"], keys=["id"]))


@assignments_app.command("delete")
def assignments_delete(
    ctx: typer.Context,
    assignment_id: Annotated[str, typer.Argument(help="Assignment id (asg-...), as listed.")],
    yes: YesOpt = False, output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Remove an assignment (never the last one that keeps an administrator).

    Example: charter assignments delete asg-0123456789abcdef --yes
    """
    confirm(f"delete assignment {assignment_id}", yes)
    data = state(ctx).client().assignments.delete(assignment_id)
    out(ctx, data, lambda d: console.print(f"deleted {d.id}"), json_=json_, output=output)


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Owner (default: you).")] = None,
    expires_in: Annotated[str | None, typer.Option(help="Lifetime: 30d, 12h, 2w...")] = None,
    description: Annotated[str, typer.Option(help="What the token is for.")] = "",
    output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Create an API token. The secret is printed once; keep it safe.

    A token for yourself is a child of the token you use: it expires no later than that
    one and is revoked with it. A token for another user (--user) has no parent.

    Example: charter tokens create --user alice --expires-in 30d
    """
    data = state(ctx).client().tokens.create(user=user, expires_in=expires_in,
                                             description=description)

    def render(d: Any) -> None:
        console.print(f"token {d.id} for {d.user}, expires {d.expires_at}"
                      + (f" (made with {d.parent_id}: expires no later, revoked with it)"
                         if d.parent_id else ""), highlight=False)
        console.print(d.token, highlight=False)
        note("This is the only time the secret is shown.")

    out(ctx, data, render, json_=json_, output=output)


@tokens_app.command("list")
def tokens_list(ctx: typer.Context,
                user: Annotated[str | None, typer.Option(help="Another user's.")] = None,
                all_users: Annotated[bool, typer.Option("--all", help="Every user's.")] = False,
                limit: LimitOpt = 100, offset: OffsetOpt = 0, cursor: CursorOpt = None,
                output: OutputOpt = None, json_: JsonOpt = False) -> None:
    """List your tokens (or a user's, or everyone's with --all); secrets are never shown.

    Example: charter tokens list --all
    """
    data = state(ctx).client().tokens.list(user=user, all=all_users, limit=limit,
                                           offset=offset, cursor=cursor)
    out(ctx, data, json_=json_, output=output, view=View(
        ["id", "user", "status", "expires_at", "parent_id"],
        wide=["created_at", "last_used_at", "revoked_at", "description"],
        keys=["id", "user", "parent_id"]))


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="Token id (tok-...), as listed.")],
    yes: YesOpt = False, output: OutputOpt = None, json_: JsonOpt = False,
) -> None:
    """Revoke a token at once, and every token made with it.

    From a token, you may revoke that token and those made with it; your other tokens
    need a permission set that covers revoking tokens.

    Example: charter tokens revoke tok-0123456789abcdef --yes
    """
    confirm(f"revoke token {token_id} and the tokens made with it", yes)
    data = state(ctx).client().tokens.revoke(token_id)
    out(ctx, data, lambda d: console.print(
        f"revoked {d.id}" + (f" and the tokens made with it: {', '.join(d.also_revoked)}"
                             if d.also_revoked else "")), json_=json_, output=output)

COMMANDS = {"users": users_app, "groups": groups_app, "permission-sets": permission_sets_app,
            "assignments": assignments_app, "tokens": tokens_app}
