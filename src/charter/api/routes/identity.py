"""Identity routes: users, groups, permission sets, assignments, tokens."""

from __future__ import annotations

from fastapi import APIRouter

from charter.api.deps import Ctx, PageDep
from charter.identity import service
from charter.identity.schemas import (
    AssignmentCreate,
    AssignmentPage,
    AssignmentRead,
    GroupCreate,
    GroupPage,
    GroupRead,
    PermissionSetPage,
    PermissionSetRead,
    TokenCreate,
    TokenCreated,
    TokenPage,
    TokenRevoked,
    UserCreate,
    UserDeleted,
    UserPage,
    UserRead,
    WhoAmI,
)

router = APIRouter(prefix="/v1/identity", tags=["identity"])


@router.get("/whoami")
def whoami(ctx: Ctx) -> WhoAmI:
    """The caller, its groups and its assignments."""
    return service.whoami(ctx)


@router.post("/users", status_code=201)
def create_user(body: UserCreate, ctx: Ctx) -> UserRead:
    """Create a user."""
    return service.create_user(ctx, body)


@router.get("/users")
def list_users(ctx: Ctx, page: PageDep) -> UserPage:
    """Users of the organisation."""
    return service.list_users(ctx, page=page)


@router.get("/users/{user}")
def get_user(user: str, ctx: Ctx) -> UserRead:
    """One user with their groups."""
    return service.describe_user(ctx, user)


@router.delete("/users/{user}")
def delete_user(user: str, ctx: Ctx) -> UserDeleted:
    """Delete a user with their memberships and direct assignments; revoke their tokens."""
    return service.delete_user(ctx, user)


@router.post("/groups", status_code=201)
def create_group(body: GroupCreate, ctx: Ctx) -> GroupRead:
    """Create a group."""
    return service.create_group(ctx, body)


@router.get("/groups")
def list_groups(ctx: Ctx, page: PageDep) -> GroupPage:
    """Groups with their members."""
    return service.list_groups(ctx, page=page)


@router.get("/groups/{group}")
def get_group(group: str, ctx: Ctx) -> GroupRead:
    """One group with its members."""
    return service.describe_group(ctx, group)


@router.put("/groups/{group}/members/{user}")
def add_group_member(group: str, user: str, ctx: Ctx) -> GroupRead:
    """Add a user to a group."""
    return service.add_group_member(ctx, group, user)


@router.delete("/groups/{group}/members/{user}")
def remove_group_member(group: str, user: str, ctx: Ctx) -> GroupRead:
    """Remove a user from a group."""
    return service.remove_group_member(ctx, group, user)


@router.get("/permission-sets")
def list_permission_sets(ctx: Ctx, page: PageDep) -> PermissionSetPage:
    """The built-in permission sets, one per persona."""
    return service.list_permission_sets(ctx, page=page)


@router.get("/permission-sets/{permission_set}")
def get_permission_set(permission_set: str, ctx: Ctx) -> PermissionSetRead:
    """One permission set with the actions it allows."""
    return service.describe_permission_set(ctx, permission_set)


@router.post("/assignments", status_code=201)
def create_assignment(body: AssignmentCreate, ctx: Ctx) -> AssignmentRead:
    """Give a group or user a permission set in an account or OU."""
    return service.create_assignment(ctx, body)


@router.get("/assignments")
def list_assignments(ctx: Ctx, page: PageDep, account: str | None = None,
                     principal: str | None = None) -> AssignmentPage:
    """Assignments, optionally for one account or principal."""
    return service.list_assignments(ctx, account=account, principal=principal, page=page)


@router.delete("/assignments/{assignment_id}")
def delete_assignment(assignment_id: str, ctx: Ctx) -> AssignmentRead:
    """Remove an assignment."""
    return service.delete_assignment(ctx, assignment_id)


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, ctx: Ctx) -> TokenCreated:
    """Create an API token; the secret is in this answer only."""
    return service.create_token(ctx, body)


@router.get("/tokens")
def list_tokens(ctx: Ctx, page: PageDep, user: str | None = None,
                all: bool = False) -> TokenPage:
    """Your tokens, another user's (`user=`), or everyone's (`all=true`)."""
    owner = None if all else (user or ctx.principal.name)
    return service.list_tokens(ctx, user=owner, page=page)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: str, ctx: Ctx) -> TokenRevoked:
    """Revoke a token and every token made with it."""
    return service.revoke_token(ctx, token_id)
