"""Users and groups: who is in the organisation and which groups they belong to."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from charter.access.pipeline import emit, operation
from charter.core.accounts import MANAGEMENT
from charter.core.clock import now
from charter.core.context import Context
from charter.core.ids import check_name
from charter.core.lookup import require
from charter.core.pagination import PageParams, page_of
from charter.errors import Conflict, Invalid
from charter.identity import _lockout as lockout
from charter.identity._common import (
    group_reads,
    id_target,
    require_group,
    require_user,
    user_reads,
)
from charter.identity.orm import Assignment, Group, Membership, Token, User
from charter.identity.schemas import (
    GroupCreate,
    GroupPage,
    GroupRead,
    UserCreate,
    UserDeleted,
    UserPage,
    UserRead,
)

# Principals the audit trail uses for the platform itself and for unauthenticated calls.
RESERVED_NAMES = frozenset({"system", "anonymous", "unknown", "charter"})


# -- helpers for other domains inside an operation -------------------------------------

def ensure_group(ctx: Context, name: str, description: str = "") -> bool:
    """Create group `name` if missing (inside the caller's operation); True if created."""
    check_name(name, "group")
    if ctx.db.get(Group, name) is not None:
        return False
    ctx.db.add(Group(name=name, description=description, created_at=now()))
    ctx.db.flush()
    return True


def ensure_user(ctx: Context, name: str, groups: list[str]) -> bool:
    """Create user `name` in `groups` if missing (inside the caller's operation)."""
    created = ctx.db.get(User, name) is None
    if created:
        ctx.db.add(User(name=check_name(name, "user"), created_at=now()))
        ctx.db.flush()
    for group in groups:
        if ctx.db.get(Membership, (name, group)) is None:
            ctx.db.add(Membership(user=name, group=group))
    ctx.db.flush()
    return created


def ensure_group_exists(ctx: Context, name: str) -> None:
    """NotFound unless group `name` exists (for grants other domains make to groups)."""
    require_group(ctx.db, name)


def user_exists(session: Session, name: str) -> bool:
    return session.get(User, name) is not None


def group_exists(session: Session, name: str) -> bool:
    return session.get(Group, name) is not None


def inventory_users(session: Session) -> list[UserRead]:
    """Every user, for detective controls."""
    return user_reads(session, list(session.scalars(select(User).order_by(User.name))),
                      everyone=True)


# -- operations ------------------------------------------------------------------------

@operation("identity:CreateUser", "write",
           target=lambda ctx, body: id_target("user", body.name), changes_policy=True)
def create_user(ctx: Context, body: UserCreate) -> UserRead:
    """Create a user, optionally in existing groups."""
    check_name(body.name, "user")
    if body.name in RESERVED_NAMES:
        raise Invalid(f"{body.name!r} is reserved for the platform's own records",
                      code="reserved_name")
    if ctx.db.get(User, body.name) is not None:
        raise Conflict(f"user {body.name!r} already exists", code="user_exists")
    for group in body.groups:
        require_group(ctx.db, group)
    user = User(name=body.name, display_name=body.display_name, email=body.email,
                created_at=now())
    ctx.db.add(user)
    ctx.db.flush()
    for group in dict.fromkeys(body.groups):
        ctx.db.add(Membership(user=body.name, group=group))
    ctx.db.flush()
    emit(ctx, "UserCreated", MANAGEMENT, {"user": body.name, "groups": body.groups})
    return user_reads(ctx.db, [user])[0]


@operation("identity:ListUsers", "read", target=lambda ctx, **k: id_target("user", "*"))
def list_users(ctx: Context, *, page: PageParams | None = None) -> UserPage:
    """Users of the organisation, by name."""
    return page_of(UserPage, ctx.db, select(User), key=(User.name,), params=page,
                   read=lambda rows: user_reads(ctx.db, rows))


@operation("identity:DescribeUser", "read",
           target=lambda ctx, name: id_target("user", name, owner=name))
def describe_user(ctx: Context, name: str) -> UserRead:
    """One user with their groups."""
    return user_reads(ctx.db, [require_user(ctx.db, name)])[0]


@operation("identity:DeleteUser", "write",
           target=lambda ctx, name: id_target("user", name), changes_policy=True)
def delete_user(ctx: Context, name: str) -> UserDeleted:
    """Delete a user: their memberships and the assignments they hold directly go, and
    their tokens are revoked and removed with them, in one transaction; never the last
    user who administers the organisation."""
    lockout.guard(ctx.db)  # before reading what the user holds
    user = require_user(ctx.db, name)
    read = user_reads(ctx.db, [user])[0]
    guarded = name in lockout.administrators(ctx.db)
    assignments = list(ctx.db.scalars(select(Assignment.id).where(
        Assignment.principal_type == "user", Assignment.principal_name == name)
        .order_by(Assignment.id)))
    tokens = list(ctx.db.scalars(select(Token).where(Token.user == name)
                                 .order_by(Token.created_at, Token.id)))
    revoked = [t.id for t in tokens if t.revoked_at is None]
    ctx.db.execute(delete(Membership).where(Membership.user == name))
    ctx.db.execute(delete(Assignment).where(Assignment.id.in_(assignments)))
    # A token's row names its user: a revoked token of a user who no longer exists is
    # kept only in the audit trail (this operation's record lists them).
    ctx.db.execute(delete(Token).where(Token.user == name))
    ctx.db.delete(user)
    if guarded:
        lockout.refuse_lockout(ctx.db, f"deleting user {name}")
    for token_id in revoked:
        emit(ctx, "TokenRevoked", MANAGEMENT, {"token": token_id, "user": name})
    emit(ctx, "UserDeleted", MANAGEMENT, {"user": name, "groups": read.groups})
    ctx.audit_details.update({"groups": read.groups, "assignments_removed": assignments,
                              "tokens_revoked": revoked})
    return UserDeleted(**read.model_dump(), assignments_removed=assignments,
                       tokens_revoked=revoked)


@operation("identity:CreateGroup", "write",
           target=lambda ctx, body: id_target("group", body.name), changes_policy=True)
def create_group(ctx: Context, body: GroupCreate) -> GroupRead:
    """Create a group."""
    check_name(body.name, "group")
    if ctx.db.get(Group, body.name) is not None:
        raise Conflict(f"group {body.name!r} already exists", code="group_exists")
    group = Group(name=body.name, description=body.description, created_at=now())
    ctx.db.add(group)
    ctx.db.flush()
    return group_reads(ctx.db, [group])[0]


@operation("identity:ListGroups", "read", target=lambda ctx, **k: id_target("group", "*"))
def list_groups(ctx: Context, *, page: PageParams | None = None) -> GroupPage:
    """Groups with their members, by name."""
    return page_of(GroupPage, ctx.db, select(Group), key=(Group.name,), params=page,
                   read=lambda rows: group_reads(ctx.db, rows))


@operation("identity:DescribeGroup", "read",
           target=lambda ctx, name: id_target("group", name))
def describe_group(ctx: Context, name: str) -> GroupRead:
    """One group with its members."""
    return group_reads(ctx.db, [require_group(ctx.db, name)])[0]


@operation("identity:AddGroupMember", "write",
           target=lambda ctx, group, user: id_target("group", group), changes_policy=True)
def add_group_member(ctx: Context, group: str, user: str) -> GroupRead:
    """Add a user to a group."""
    g = require_group(ctx.db, group)
    require_user(ctx.db, user)
    if ctx.db.get(Membership, (user, group)) is not None:
        raise Conflict(f"{user} is already in {group}", code="already_member")
    ctx.db.add(Membership(user=user, group=group))
    ctx.db.flush()
    emit(ctx, "GroupMembershipChanged", MANAGEMENT, {"group": group, "user": user})
    return group_reads(ctx.db, [g])[0]


@operation("identity:RemoveGroupMember", "write",
           target=lambda ctx, group, user: id_target("group", group), changes_policy=True)
def remove_group_member(ctx: Context, group: str, user: str) -> GroupRead:
    """Remove a user from a group."""
    g = require_group(ctx.db, group)
    lockout.guard(ctx.db)  # before deciding: the group may gain cloud-admin meanwhile
    guarded = lockout.group_is_admin(ctx.db, group)
    membership = require(ctx.db.get(Membership, (user, group)),
                         f"membership of {user!r} in {group!r}", code="not_a_member")
    ctx.db.delete(membership)
    if guarded:
        lockout.refuse_lockout(ctx.db, f"removing {user} from {group}")
    ctx.db.flush()
    emit(ctx, "GroupMembershipChanged", MANAGEMENT, {"group": group, "user": user})
    return group_reads(ctx.db, [g])[0]
