"""Identity service: users, groups, permission sets, assignments, tokens, authentication."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from charter.access.actions import expand
from charter.access.authorizer import (
    MANAGEMENT,
    Fragment,
    Target,
    account_target,
    ou_target,
    register_source,
    uid,
)
from charter.access.pipeline import emit, operation
from charter.core.clock import now, parse_duration
from charter.core.context import Context, Principal, Runtime
from charter.core.ids import check_name, crn, new_id, new_secret
from charter.core.pagination import PageParams
from charter.errors import Conflict, Invalid, NotFound, Unauthenticated
from charter.identity import _lineage as lineage
from charter.identity import _lockout as lockout
from charter.identity.orm import Assignment, Group, Membership, Token, User
from charter.identity.permission_sets import PERMISSION_SETS, get_permission_set
from charter.identity.schemas import (
    AssignmentCreate,
    AssignmentPage,
    AssignmentRead,
    GroupCreate,
    GroupPage,
    GroupRead,
    PermissionSetRead,
    TokenCreate,
    TokenCreated,
    TokenPage,
    TokenRead,
    TokenRevoked,
    UserCreate,
    UserPage,
    UserRead,
    WhoAmI,
)
from charter.org import service as org
from charter.org.schemas import normalize_ou_path
from charter.org.service import Blueprint

TOKEN_PREFIX = "chr_"
# Principals the audit trail uses for the platform itself and for unauthenticated calls.
RESERVED_NAMES = frozenset({"system", "anonymous", "unknown", "charter"})


def _id_target(type_: str, path: str, owner: str | None = None) -> Target:
    return account_target(MANAGEMENT, crn(MANAGEMENT, "identity", type_, path), owner=owner)


def _require_user(session: Session, name: str) -> User:
    user = session.get(User, name)
    if user is None:
        raise NotFound(f"user {name!r} does not exist", code="user_not_found")
    return user


def _require_group(session: Session, name: str) -> Group:
    group = session.get(Group, name)
    if group is None:
        raise NotFound(f"group {name!r} does not exist; create it with `charter groups create`",
                       code="group_not_found")
    return group


def _groups_of(session: Session, user: str) -> list[str]:
    return list(session.scalars(select(Membership.group).where(Membership.user == user)
                                .order_by(Membership.group)))


def _user_read(session: Session, user: User) -> UserRead:
    return UserRead(name=user.name, crn=crn(MANAGEMENT, "identity", "user", user.name),
                    display_name=user.display_name, email=user.email,
                    groups=_groups_of(session, user.name), created_at=user.created_at)


def _assignment_read(a: Assignment) -> AssignmentRead:
    return AssignmentRead.model_validate(a, from_attributes=True)


def _token_read(row: Token, cls: type[TokenRead] = TokenRead, **extra: Any) -> Any:
    t = now()
    status = ("revoked" if row.revoked_at else "expired" if row.expires_at <= t else "active")
    return cls(id=row.id, user=row.user, description=row.description,
               created_at=row.created_at, expires_at=row.expires_at,
               revoked_at=row.revoked_at, last_used_at=row.last_used_at, status=status,
               parent_id=row.parent_id, **extra)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- Cedar entities and policies -------------------------------------------------------

def _cedar(session: Session) -> Fragment:
    assignments = list(session.scalars(select(Assignment).order_by(Assignment.id)))
    accounts = [(a.name, a.ou) for a in org.inventory_accounts(session)]
    personas: dict[tuple[str, str], set[str]] = defaultdict(set)
    # permission set -> accounts it is held in, per user or group (OU scopes expanded)
    roles: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for a in assignments:
        key = (a.principal_type, a.principal_name)
        personas[key].add(a.permission_set)
        roles[key][a.permission_set].update(_accounts_in_scope(a, accounts))
    members: dict[str, list[str]] = defaultdict(list)
    for m in session.scalars(select(Membership)):
        members[m.user].append(m.group)
    entities = [{"uid": uid("PermissionSet", p), "attrs": {}, "parents": []}
                for p in PERMISSION_SETS]
    for group in session.scalars(select(Group.name)):
        parents = [uid("PermissionSet", p) for p in sorted(personas[("group", group)])]
        entities.append({"uid": uid("Group", group), "attrs": {}, "parents": parents})
    for user in session.scalars(select(User.name)):
        parents = [uid("Group", g) for g in members[user]]
        parents += [uid("PermissionSet", p) for p in sorted(personas[("user", user)])]
        held: dict[str, set[str]] = defaultdict(set)
        for key in [("user", user), *(("group", g) for g in members[user])]:
            for permission_set, names in roles.get(key, {}).items():
                held[permission_set] |= names
        attrs = {"roles": {p: sorted(names) for p, names in held.items()}}
        entities.append({"uid": uid("User", user), "attrs": attrs, "parents": parents})
    policy_of: dict[str, str] = {}  # expanding patterns once per permission set
    scoped = [(("Account" if a.scope_type == "account" else "OU", a.scope), _policy(a, policy_of))
              for a in assignments]
    return Fragment(entities=entities, scoped=scoped)


def _accounts_in_scope(a: Assignment, accounts: list[tuple[str, str]]) -> set[str]:
    if a.scope_type == "account":
        return {a.scope}
    prefix = a.scope.rstrip("/") + "/"
    return {name for name, ou in accounts if a.scope == "/" or ou == a.scope
            or ou.startswith(prefix)}


def _policy(a: Assignment, policy_of: dict[str, str]) -> str:
    who = (f'principal in Group::"{a.principal_name}"' if a.principal_type == "group"
           else f'principal == User::"{a.principal_name}"')
    action = policy_of.get(a.permission_set)
    if action is None:
        patterns = PERMISSION_SETS[a.permission_set].actions
        if "*" in patterns:
            action = "action"
        else:
            names = expand(list(patterns)) or ["none:NoAction"]
            action = "action in [" + ", ".join(f'Action::"{n}"' for n in names) + "]"
        policy_of[a.permission_set] = action
    scope = "Account" if a.scope_type == "account" else "OU"
    return (f'@id("assignment:{a.id}")\n'
            f'permit({who}, {action}, resource in {scope}::"{a.scope}");')


register_source("identity", _cedar)


# -- authentication (before the pipeline) ----------------------------------------------

def authenticate(runtime: Runtime, secret: str) -> Principal:
    """Resolve a bearer token to its user, or raise Unauthenticated with the reason."""
    invalid = Unauthenticated("invalid token: log in again with `charter login`",
                              code="invalid_token")
    if not secret.startswith(TOKEN_PREFIX):
        raise invalid
    with runtime.db.read() as session:
        token = session.scalar(select(Token).where(Token.secret_hash == hash_secret(secret)))
    if token is None:
        raise invalid
    t = now()
    if token.revoked_at is not None:
        raise Unauthenticated(f"token {token.id} was revoked; create a new one",
                              code="token_revoked")
    if token.expires_at <= t:
        raise Unauthenticated(f"token {token.id} expired at {token.expires_at:%Y-%m-%d %H:%M}"
                              " UTC; create a new one", code="token_expired")
    if token.last_used_at is None or (t - token.last_used_at).total_seconds() > 60:
        with runtime.db.transaction() as session:  # at most once a minute per token
            session.execute(update(Token).where(Token.id == token.id).values(last_used_at=t))
    return Principal(name=token.user, token_id=token.id)


# -- helpers for other domains inside an operation -------------------------------------

def ensure_group(ctx: Context, name: str, description: str = "") -> bool:
    """Create group `name` if missing (inside the caller's operation); True if created."""
    check_name(name, "group")
    if ctx.db.get(Group, name) is not None:
        return False
    ctx.db.add(Group(name=name, description=description, created_at=now()))
    ctx.db.flush()
    return True


def find_assignment(session: Session, *, permission_set: str, group: str | None = None,
                    user: str | None = None, account: str | None = None,
                    ou: str | None = None) -> str | None:
    """The id of the assignment that gives exactly this, if there is one."""
    principal_type, principal_name = ("group", group) if group else ("user", user)
    scope_type, scope = ("account", account) if account else ("ou", ou)
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
    principal_type, principal_name = ("group", group) if group else ("user", user)
    scope_type, scope = ("account", account) if account else ("ou", ou)
    assignment_id = new_id("asg-")
    ctx.db.add(Assignment(id=assignment_id, principal_type=principal_type,
                          principal_name=principal_name, permission_set=permission_set,
                          scope_type=scope_type, scope=scope, created_by=ctx.principal.name,
                          created_at=now()))
    ctx.db.flush()
    return assignment_id, True


def _blueprint_groups(ctx: Context, account: str, blueprint: Blueprint) -> dict[str, Any]:
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


org.register_baseline_step(_blueprint_groups)


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


def issue_token(ctx: Context, user: str, lifetime_days: int, description: str) -> TokenCreated:
    """Mint a token for `user` inside the caller's operation: one of the platform's own
    (`charter init`), made with no token, so it has no parent."""
    return _mint(ctx, user, now() + timedelta(days=lifetime_days), description, parent_id=None)


def _mint(ctx: Context, user: str, expires_at: Any, description: str, *,
          parent_id: str | None) -> TokenCreated:
    secret = TOKEN_PREFIX + new_secret()
    token = Token(id=new_id("tok-"), user=user, secret_hash=hash_secret(secret),
                  description=description, created_at=now(),
                  expires_at=lineage.capped_expiry(ctx.db, parent_id, expires_at),
                  revoked_at=None, last_used_at=None, parent_id=parent_id)
    ctx.db.add(token)
    ctx.db.flush()
    emit(ctx, "TokenCreated", MANAGEMENT, {"token": token.id, "user": user})
    return _token_read(token, TokenCreated, token=secret)


def ensure_group_exists(ctx: Context, name: str) -> None:
    """NotFound unless group `name` exists (for grants other domains make to groups)."""
    _require_group(ctx.db, name)


def groups_of(session: Session, user: str) -> list[str]:
    """The groups a user belongs to (for decisions other domains make per group)."""
    return _groups_of(session, user)


def user_exists(session: Session, name: str) -> bool:
    return session.get(User, name) is not None


def group_exists(session: Session, name: str) -> bool:
    return session.get(Group, name) is not None


def administrators(session: Session) -> set[str]:
    """The users who hold cloud-admin on the root OU, directly or through a group."""
    return lockout.administrators(session)


def inventory_users(session: Session) -> list[UserRead]:
    return [_user_read(session, u) for u in session.scalars(select(User).order_by(User.name))]


def inventory_tokens(session: Session) -> list[TokenRead]:
    return [_token_read(t) for t in session.scalars(select(Token).order_by(Token.created_at))]


# -- operations ------------------------------------------------------------------------

@operation("identity:CreateUser", "write",
           target=lambda ctx, body: _id_target("user", body.name), changes_policy=True)
def create_user(ctx: Context, body: UserCreate) -> UserRead:
    """Create a user, optionally in existing groups."""
    check_name(body.name, "user")
    if body.name in RESERVED_NAMES:
        raise Invalid(f"{body.name!r} is reserved for the platform's own records",
                      code="reserved_name")
    if ctx.db.get(User, body.name) is not None:
        raise Conflict(f"user {body.name!r} already exists", code="user_exists")
    for group in body.groups:
        _require_group(ctx.db, group)
    user = User(name=body.name, display_name=body.display_name, email=body.email,
                created_at=now())
    ctx.db.add(user)
    ctx.db.flush()
    for group in dict.fromkeys(body.groups):
        ctx.db.add(Membership(user=body.name, group=group))
    ctx.db.flush()
    emit(ctx, "UserCreated", MANAGEMENT, {"user": body.name, "groups": body.groups})
    return _user_read(ctx.db, user)


@operation("identity:ListUsers", "read", target=lambda ctx, **k: _id_target("user", "*"))
def list_users(ctx: Context, *, page: PageParams | None = None) -> UserPage:
    """Users of the organisation."""
    page = page or PageParams()
    users = list(ctx.db.scalars(select(User).order_by(User.name)))
    chunk = users[page.offset: page.offset + page.limit]
    return UserPage(items=[_user_read(ctx.db, u) for u in chunk], total=len(users),
                    limit=page.limit, offset=page.offset)


@operation("identity:CreateGroup", "write",
           target=lambda ctx, body: _id_target("group", body.name), changes_policy=True)
def create_group(ctx: Context, body: GroupCreate) -> GroupRead:
    """Create a group."""
    check_name(body.name, "group")
    if ctx.db.get(Group, body.name) is not None:
        raise Conflict(f"group {body.name!r} already exists", code="group_exists")
    group = Group(name=body.name, description=body.description, created_at=now())
    ctx.db.add(group)
    ctx.db.flush()
    return _group_read(ctx.db, group)


def _group_read(session: Session, group: Group) -> GroupRead:
    members = list(session.scalars(select(Membership.user).where(Membership.group == group.name)
                                   .order_by(Membership.user)))
    return GroupRead(name=group.name, crn=crn(MANAGEMENT, "identity", "group", group.name),
                     description=group.description, members=members, created_at=group.created_at)


@operation("identity:ListGroups", "read", target=lambda ctx, **k: _id_target("group", "*"))
def list_groups(ctx: Context, *, page: PageParams | None = None) -> GroupPage:
    """Groups with their members."""
    page = page or PageParams()
    groups = list(ctx.db.scalars(select(Group).order_by(Group.name)))
    chunk = groups[page.offset: page.offset + page.limit]
    return GroupPage(items=[_group_read(ctx.db, g) for g in chunk], total=len(groups),
                     limit=page.limit, offset=page.offset)


@operation("identity:AddGroupMember", "write",
           target=lambda ctx, group, user: _id_target("group", group), changes_policy=True)
def add_group_member(ctx: Context, group: str, user: str) -> GroupRead:
    """Add a user to a group."""
    g = _require_group(ctx.db, group)
    _require_user(ctx.db, user)
    if ctx.db.get(Membership, (user, group)) is not None:
        raise Conflict(f"{user} is already in {group}", code="already_member")
    ctx.db.add(Membership(user=user, group=group))
    ctx.db.flush()
    emit(ctx, "GroupMembershipChanged", MANAGEMENT, {"group": group, "user": user})
    return _group_read(ctx.db, g)


@operation("identity:RemoveGroupMember", "write",
           target=lambda ctx, group, user: _id_target("group", group), changes_policy=True)
def remove_group_member(ctx: Context, group: str, user: str) -> GroupRead:
    """Remove a user from a group."""
    g = _require_group(ctx.db, group)
    lockout.guard(ctx.db)  # before deciding: the group may gain cloud-admin meanwhile
    guarded = lockout.group_is_admin(ctx.db, group)
    membership = ctx.db.get(Membership, (user, group))
    if membership is None:
        raise NotFound(f"{user} is not in {group}", code="not_a_member")
    ctx.db.delete(membership)
    if guarded:
        lockout.refuse_lockout(ctx.db, f"removing {user} from {group}")
    ctx.db.flush()
    emit(ctx, "GroupMembershipChanged", MANAGEMENT, {"group": group, "user": user})
    return _group_read(ctx.db, g)


@operation("identity:ListPermissionSets", "read",
           target=lambda ctx: _id_target("permission-set", "*"))
def list_permission_sets(ctx: Context) -> list[PermissionSetRead]:
    """The built-in permission sets, one per persona, with the actions each allows."""
    return [PermissionSetRead(name=p.name, persona=p.persona, team=p.team,
                              description=p.description, patterns=list(p.actions),
                              actions=expand(list(p.actions)))
            for p in PERMISSION_SETS.values()]


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
        _require_group(ctx.db, body.group)
    else:
        _require_user(ctx.db, body.user or "")
    ou = normalize_ou_path(body.ou) if body.ou else None
    before = ctx.db.scalar(select(Assignment.id).where(
        Assignment.principal_name == (body.group or body.user),
        Assignment.permission_set == body.permission_set,
        Assignment.scope == (body.account or ou)))
    if before is not None:
        raise Conflict(f"that assignment already exists ({before})", code="assignment_exists")
    assignment_id, _ = assign(ctx, permission_set=body.permission_set, group=body.group,
                           user=body.user, account=body.account, ou=ou)
    emit(ctx, "AssignmentCreated", body.account or MANAGEMENT, {"assignment": assignment_id})
    return _assignment_read(ctx.db.get(Assignment, assignment_id))


@operation("identity:ListAssignments", "read",
           target=lambda ctx, **k: _id_target("assignment", "*"))
def list_assignments(ctx: Context, *, account: str | None = None, principal: str | None = None,
                     page: PageParams | None = None) -> AssignmentPage:
    """Assignments, optionally for one account or one user or group."""
    page = page or PageParams()
    query = select(Assignment).order_by(Assignment.created_at, Assignment.id)
    if account:
        query = query.where(Assignment.scope == account)
    if principal:
        query = query.where(Assignment.principal_name == principal)
    rows = list(ctx.db.scalars(query))
    return AssignmentPage(items=[_assignment_read(a) for a in rows[page.offset:][:page.limit]],
                          total=len(rows), limit=page.limit, offset=page.offset)


@operation("identity:DeleteAssignment", "write",
           target=lambda ctx, assignment_id: _id_target("assignment", assignment_id),
           changes_policy=True)
def delete_assignment(ctx: Context, assignment_id: str) -> AssignmentRead:
    """Remove an assignment; never the last one that keeps an administrator."""
    lockout.guard(ctx.db)  # before reading what the assignment grants
    assignment = ctx.db.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(f"assignment {assignment_id!r} does not exist",
                       code="assignment_not_found")
    read = _assignment_read(assignment)
    guarded = lockout.is_admin_assignment(assignment)
    ctx.db.execute(delete(Assignment).where(Assignment.id == assignment_id))
    if guarded:
        lockout.refuse_lockout(ctx.db, f"deleting assignment {assignment_id}")
    return read


def _token_owner_target(ctx: Context, body: TokenCreate) -> Target:
    owner = body.user or ctx.principal.name
    return _id_target("token", "new", owner=owner)


@operation("identity:CreateToken", "write", target=_token_owner_target)
def create_token(ctx: Context, body: TokenCreate) -> TokenCreated:
    """Create an API token; the secret is returned once and stored only as a hash.

    A token a user makes for themselves with a token is its child: it expires no later
    than its parent and is revoked with it. A token made for another user (which takes
    the standing to do so) is a fresh credential with no parent.
    """
    owner = body.user or ctx.principal.name
    _require_user(ctx.db, owner)
    lifetime = parse_duration(body.expires_in or f"{ctx.settings.identity.default_token_days}d")
    if lifetime > timedelta(days=366):
        raise Invalid("a token may live at most 366 days", code="invalid_duration")
    parent_id = None
    if ctx.principal.token_id is not None:  # no token minted with a token being revoked
        lineage.lock_live(ctx.db, ctx.principal.token_id)
        parent_id = ctx.principal.token_id if owner == ctx.principal.name else None
    return _mint(ctx, owner, now() + lifetime, body.description, parent_id=parent_id)


@operation("identity:ListTokens", "read",
           target=lambda ctx, *, user=None, **k: _id_target("token", f"{user or '*'}/*",
                                                            owner=user))
def list_tokens(ctx: Context, *, user: str | None = None,
                page: PageParams | None = None) -> TokenPage:
    """Tokens of one user (yourself by default), or of everyone for administrators."""
    page = page or PageParams()
    query = select(Token).order_by(Token.created_at, Token.id)
    if user:
        query = query.where(Token.user == user)
    rows = list(ctx.db.scalars(query))
    return TokenPage(items=[_token_read(t) for t in rows[page.offset:][:page.limit]],
                     total=len(rows), limit=page.limit, offset=page.offset)


def _revoke_target(ctx: Context, token_id: str) -> Target:
    token = ctx.db.get(Token, token_id)
    return _id_target("token", token_id,
                      owner=lineage.revoking_owner(ctx.db, ctx.principal, token))


@operation("identity:RevokeToken", "write", target=_revoke_target)
def revoke_token(ctx: Context, token_id: str) -> TokenRevoked:
    """Revoke a token and every token made with it at once; requests that carry them are
    refused from now on."""
    token = lineage.locked(ctx.db, token_id)
    if token is None:
        raise NotFound(f"token {token_id!r} does not exist", code="token_not_found")
    if token.revoked_at is not None:
        raise Conflict(f"token {token_id} is already revoked", code="token_revoked")
    t = now()
    revoked = [token]
    for child in lineage.descendants(ctx.db, token):
        if child.revoked_at is None:
            revoked.append(child)
    for row in revoked:
        row.revoked_at = t
        emit(ctx, "TokenRevoked", MANAGEMENT, {"token": row.id, "user": row.user})
    also_revoked = [row.id for row in revoked[1:]]
    ctx.audit_details["also_revoked"] = also_revoked
    return _token_read(token, TokenRevoked, also_revoked=also_revoked)


@operation("identity:WhoAmI", "read",
           target=lambda ctx: _id_target("user", ctx.principal.name, owner=ctx.principal.name))
def whoami(ctx: Context) -> WhoAmI:
    """The caller, its groups and the permission sets it holds where."""
    name = ctx.principal.name
    groups = [] if ctx.principal.is_system else _groups_of(ctx.db, name)
    rows = ctx.db.scalars(select(Assignment).where(
        ((Assignment.principal_type == "user") & (Assignment.principal_name == name))
        | ((Assignment.principal_type == "group") & Assignment.principal_name.in_(groups or [""]))
    ).order_by(Assignment.scope))
    return WhoAmI(name=name, kind=ctx.principal.kind, token_id=ctx.principal.token_id,
                  groups=groups, assignments=[_assignment_read(a) for a in rows])
