"""Assignments: a permission set given to a user or group in an account or under an OU."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from charter.access.actions import expand
from charter.access.authorizer import Target, ou_target
from charter.access.pipeline import emit, operation
from charter.core.accounts import MANAGEMENT
from charter.core.clock import now
from charter.core.context import Context
from charter.core.ids import crn, new_id
from charter.core.lookup import require
from charter.core.pagination import PageParams, page_of, page_of_list
from charter.errors import Conflict
from charter.identity import _lockout as lockout
from charter.identity._common import (
    assignment_read,
    groups_of,
    id_target,
    require_group,
    require_user,
)
from charter.identity._directory import ensure_group
from charter.identity.orm import Assignment
from charter.identity.permission_sets import PERMISSION_SETS, get_permission_set
from charter.identity.schemas import (
    AssignmentCreate,
    AssignmentPage,
    AssignmentRead,
    PermissionSetPage,
    PermissionSetRead,
    WhoAmI,
)
from charter.org import service as org
from charter.org.schemas import normalize_ou_path
from charter.org.service import Blueprint


def _who_and_where(group: str | None, user: str | None, account: str | None,
                   ou: str | None) -> tuple[str, str | None, str, str | None]:
    """(principal type, name, scope type, scope) of an assignment."""
    principal_type, principal_name = ("group", group) if group else ("user", user)
    scope_type, scope = ("account", account) if account else ("ou", ou)
    return principal_type, principal_name, scope_type, scope


def find_assignment(session: Session, *, permission_set: str, group: str | None = None,
                    user: str | None = None, account: str | None = None,
                    ou: str | None = None) -> str | None:
    """The id of the assignment that gives exactly this, if there is one."""
    principal_type, principal_name, scope_type, scope = _who_and_where(group, user, account, ou)
    return session.scalar(select(Assignment.id).where(
        Assignment.principal_type == principal_type, Assignment.principal_name == principal_name,
        Assignment.permission_set == permission_set, Assignment.scope_type == scope_type,
        Assignment.scope == scope))


def assign(ctx: Context, *, permission_set: str, group: str | None = None,
           user: str | None = None, account: str | None = None,
           ou: str | None = None) -> tuple[str, bool]:
    """Add an assignment inside the caller's operation (idempotent): (its id, created)."""
    get_permission_set(permission_set)
    existing = find_assignment(ctx.db, permission_set=permission_set, group=group, user=user,
                               account=account, ou=ou)
    if existing is not None:
        return existing, False
    principal_type, principal_name, scope_type, scope = _who_and_where(group, user, account, ou)
    assignment_id = new_id("asg-")
    ctx.db.add(Assignment(id=assignment_id, principal_type=principal_type,
                          principal_name=principal_name, permission_set=permission_set,
                          scope_type=scope_type, scope=scope, created_by=ctx.principal.name,
                          created_at=now()))
    ctx.db.flush()
    return assignment_id, True


def blueprint_groups(ctx: Context, account: str, blueprint: Blueprint) -> dict[str, Any]:
    """Baseline of a vended account: its team's groups, each given the blueprint's
    permission set in the new account."""
    team = blueprint.team_of(account)
    groups = {}
    for suffix, permission_set in blueprint.assignments.items():
        group = f"{team}-{suffix}"
        ensure_group(ctx, group, f"{team}: {permission_set} (from {blueprint.name})")
        assign(ctx, group=group, permission_set=permission_set, account=account)
        groups[group] = permission_set
    return {"assignments": groups}


# -- operations ------------------------------------------------------------------------

def _permission_set_read(name: str) -> PermissionSetRead:
    p = get_permission_set(name)
    return PermissionSetRead(name=p.name, persona=p.persona, team=p.team,
                             description=p.description, patterns=list(p.actions),
                             actions=expand(list(p.actions)))


@operation("identity:ListPermissionSets", "read",
           target=lambda ctx, **k: id_target("permission-set", "*"))
def list_permission_sets(ctx: Context, *, page: PageParams | None = None) -> PermissionSetPage:
    """The built-in permission sets, one per persona, with the actions each allows."""
    return page_of_list(PermissionSetPage, [_permission_set_read(n) for n in PERMISSION_SETS],
                        page)


@operation("identity:DescribePermissionSet", "read",
           target=lambda ctx, name: id_target("permission-set", name))
def describe_permission_set(ctx: Context, name: str) -> PermissionSetRead:
    """One built-in permission set with the action patterns it selects and the actions."""
    return _permission_set_read(name)


def _assignment_target(ctx: Context, body: AssignmentCreate) -> Target:
    path = f"{body.permission_set}/{body.group or body.user}"
    if body.account is not None:
        return org.target_in_account(ctx.db, body.account,
                                     crn(body.account, "identity", "assignment", path))
    ou = org.require_ou(ctx.db, body.ou or "/")
    where = ou.strip("/") or "root"
    return ou_target(ou, crn(MANAGEMENT, "identity", "assignment", f"{where}/{path}"))


@operation("identity:CreateAssignment", "write", target=_assignment_target, changes_policy=True)
def create_assignment(ctx: Context, body: AssignmentCreate) -> AssignmentRead:
    """Give a group or user a permission set in an account or every account under an OU."""
    get_permission_set(body.permission_set)
    if body.account is not None:
        org.require_account(ctx.db, body.account)
    if body.group:
        require_group(ctx.db, body.group)
    else:
        require_user(ctx.db, body.user or "")
    ou = normalize_ou_path(body.ou) if body.ou else None
    # The same check as `assign`'s: a user and a group of one name are two principals.
    before = find_assignment(ctx.db, permission_set=body.permission_set, group=body.group,
                             user=body.user, account=body.account, ou=ou)
    if before is not None:
        raise Conflict(f"that assignment already exists ({before})", code="assignment_exists")
    assignment_id, _ = assign(ctx, permission_set=body.permission_set, group=body.group,
                              user=body.user, account=body.account, ou=ou)
    emit(ctx, "AssignmentCreated", body.account or MANAGEMENT, {"assignment": assignment_id})
    return assignment_read(ctx.db.get(Assignment, assignment_id))


@operation("identity:ListAssignments", "read",
           target=lambda ctx, **k: id_target("assignment", "*"))
def list_assignments(ctx: Context, *, account: str | None = None, principal: str | None = None,
                     page: PageParams | None = None) -> AssignmentPage:
    """Assignments, oldest first, optionally for one account or one user or group."""
    query = select(Assignment)
    if account:
        query = query.where(Assignment.scope == account)
    if principal:
        query = query.where(Assignment.principal_name == principal)
    return page_of(AssignmentPage, ctx.db, query, key=(Assignment.created_at, Assignment.id),
                   params=page, read=lambda rows: [assignment_read(a) for a in rows])


@operation("identity:DeleteAssignment", "write",
           target=lambda ctx, assignment_id: id_target("assignment", assignment_id),
           changes_policy=True)
def delete_assignment(ctx: Context, assignment_id: str) -> AssignmentRead:
    """Remove an assignment; never the last one that keeps an administrator."""
    lockout.guard(ctx.db)  # before reading what the assignment grants
    assignment = require(ctx.db.get(Assignment, assignment_id), f"assignment {assignment_id!r}",
                         code="assignment_not_found")
    read = assignment_read(assignment)
    guarded = lockout.is_admin_assignment(assignment)
    ctx.db.execute(delete(Assignment).where(Assignment.id == assignment_id))
    if guarded:
        lockout.refuse_lockout(ctx.db, f"deleting assignment {assignment_id}")
    return read


# Built once: every whoami runs it.
_HELD_BY = select(Assignment).where(
    ((Assignment.principal_type == "user") & (Assignment.principal_name == bindparam("name")))
    | ((Assignment.principal_type == "group")
       & Assignment.principal_name.in_(bindparam("groups", expanding=True)))
).order_by(Assignment.scope)


@operation("identity:WhoAmI", "read",
           target=lambda ctx: id_target("user", ctx.principal.name, owner=ctx.principal.name))
def whoami(ctx: Context) -> WhoAmI:
    """The caller, its groups and the permission sets it holds where."""
    name = ctx.principal.name
    groups = [] if ctx.principal.is_system else groups_of(ctx.db, name)
    rows = ctx.db.scalars(_HELD_BY, {"name": name, "groups": groups or [""]})
    return WhoAmI(name=name, kind=ctx.principal.kind, token_id=ctx.principal.token_id,
                  groups=groups, assignments=[assignment_read(a) for a in rows])
