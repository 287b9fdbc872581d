"""SDK part of identity: users, groups, permission sets, assignments and tokens."""

from __future__ import annotations

from charter.identity.schemas import (
    AssignmentRead,
    GroupRead,
    PermissionSetRead,
    TokenCreated,
    TokenRead,
    TokenRevoked,
    UserDeleted,
    UserRead,
)
from charter.sdk._part import Pager, Part, q


class Users(Part):
    """The organisation's users (`client.users`)."""

    def create(self, name: str, *, groups: list[str] | None = None, display_name: str = "",
               email: str = "") -> UserRead:
        """Create a user, optionally in existing groups."""
        return self._typed(UserRead, "POST", "/v1/identity/users", json={
            "name": name, "groups": groups or [], "display_name": display_name, "email": email})

    def list(self, *, limit: int = 100, offset: int = 0,
             cursor: str | None = None) -> Pager[UserRead]:
        """Users by name; iterate the result for every user, page by page."""
        return self._pages(UserRead, "/v1/identity/users",
                           {"limit": limit, "offset": offset, "cursor": cursor})

    def get(self, name: str) -> UserRead:
        """One user with their groups."""
        return self._typed(UserRead, "GET", f"/v1/identity/users/{q(name)}")

    def delete(self, name: str) -> UserDeleted:
        """Delete a user: their memberships and direct assignments go, their tokens are
        revoked. Refused (`locked_out`) for the last user who administers the organisation."""
        return self._typed(UserDeleted, "DELETE", f"/v1/identity/users/{q(name)}")


class Groups(Part):
    """Groups of users: the teams permission sets are assigned to (`client.groups`)."""

    def create(self, name: str, *, description: str = "") -> GroupRead:
        """Create a group."""
        return self._typed(GroupRead, "POST", "/v1/identity/groups",
                           json={"name": name, "description": description})

    def list(self, *, limit: int = 100, offset: int = 0,
             cursor: str | None = None) -> Pager[GroupRead]:
        """Groups with their members, by name; iterate for every group."""
        return self._pages(GroupRead, "/v1/identity/groups",
                           {"limit": limit, "offset": offset, "cursor": cursor})

    def get(self, name: str) -> GroupRead:
        """One group with its members."""
        return self._typed(GroupRead, "GET", f"/v1/identity/groups/{q(name)}")

    def add_member(self, group: str, user: str) -> GroupRead:
        """Add a user to a group; answers the group."""
        return self._typed(GroupRead, "PUT",
                           f"/v1/identity/groups/{q(group)}/members/{q(user)}")

    def remove_member(self, group: str, user: str) -> GroupRead:
        """Remove a user from a group; answers the group."""
        return self._typed(GroupRead, "DELETE",
                           f"/v1/identity/groups/{q(group)}/members/{q(user)}")


class PermissionSets(Part):
    """The built-in permission sets, one per persona (`client.permission_sets`)."""

    def list(self, *, limit: int = 100, offset: int = 0) -> Pager[PermissionSetRead]:
        """Every permission set with its action patterns and the actions they select."""
        return self._pages(PermissionSetRead, "/v1/identity/permission-sets",
                           {"limit": limit, "offset": offset})

    def get(self, name: str) -> PermissionSetRead:
        """One permission set, e.g. `data-scientist`."""
        return self._typed(PermissionSetRead, "GET",
                           f"/v1/identity/permission-sets/{q(name)}")


class Assignments(Part):
    """Permission sets given to users or groups in accounts or OUs (`client.assignments`)."""

    def create(self, *, permission_set: str, group: str | None = None, user: str | None = None,
               account: str | None = None, ou: str | None = None) -> AssignmentRead:
        """Give a group or a user (one of them) a permission set in an account or every
        account under an OU (one of them)."""
        return self._typed(AssignmentRead, "POST", "/v1/identity/assignments", json={
            "permission_set": permission_set, "group": group, "user": user,
            "account": account, "ou": ou})

    def list(self, *, account: str | None = None, principal: str | None = None,
             limit: int = 100, offset: int = 0,
             cursor: str | None = None) -> Pager[AssignmentRead]:
        """Assignments, oldest first, optionally of one account or one user or group."""
        return self._pages(AssignmentRead, "/v1/identity/assignments", {
            "account": account, "principal": principal, "limit": limit, "offset": offset,
            "cursor": cursor})

    def delete(self, assignment_id: str) -> AssignmentRead:
        """Remove an assignment; never the last one that keeps an administrator."""
        return self._typed(AssignmentRead, "DELETE",
                           f"/v1/identity/assignments/{q(assignment_id)}")


class Tokens(Part):
    """API tokens: created once, stored hashed, expiring, revocable (`client.tokens`)."""

    def create(self, *, user: str | None = None, expires_in: str | None = None,
               description: str = "") -> TokenCreated:
        """Create a token (for yourself by default); its secret is in this answer only."""
        return self._typed(TokenCreated, "POST", "/v1/identity/tokens", json={
            "user": user, "expires_in": expires_in, "description": description})

    def list(self, *, user: str | None = None, all: bool = False, limit: int = 100,
             offset: int = 0, cursor: str | None = None) -> Pager[TokenRead]:
        """Your tokens, another user's (`user=`), or everyone's (`all=True`); no secrets."""
        return self._pages(TokenRead, "/v1/identity/tokens", {
            "user": user, "all": all or None, "limit": limit, "offset": offset, "cursor": cursor})

    def revoke(self, token_id: str) -> TokenRevoked:
        """Revoke a token and every token made with it."""
        return self._typed(TokenRevoked, "POST", f"/v1/identity/tokens/{q(token_id)}/revoke")


PARTS: dict[str, type[Part]] = {"users": Users, "groups": Groups,
                                 "permission_sets": PermissionSets,
                                 "assignments": Assignments, "tokens": Tokens}
