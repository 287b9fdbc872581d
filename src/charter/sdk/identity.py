"""SDK part of identity: users, groups, permission sets, assignments and tokens."""

from __future__ import annotations

from charter.identity.schemas import UserRead
from charter.sdk._part import Json, Pager, Part, q


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


class _Groups(Part):
    def create(self, name: str, *, description: str = "") -> Json:
        return self._c.request("POST", "/v1/identity/groups",
                               json={"name": name, "description": description})

    def list(self, *, limit: int = 100, offset: int = 0, cursor: str | None = None) -> Json:
        return self._c.request("GET", "/v1/identity/groups",
                               params={"limit": limit, "offset": offset, "cursor": cursor})

    def add_member(self, group: str, user: str) -> Json:
        return self._c.request("PUT", f"/v1/identity/groups/{q(group)}/members/{q(user)}")

    def remove_member(self, group: str, user: str) -> Json:
        return self._c.request("DELETE", f"/v1/identity/groups/{q(group)}/members/{q(user)}")


class _PermissionSets(Part):
    def list(self) -> Json:
        return self._c.request("GET", "/v1/identity/permission-sets")


class _Assignments(Part):
    def create(self, *, permission_set: str, group: str | None = None, user: str | None = None,
               account: str | None = None, ou: str | None = None) -> Json:
        return self._c.request("POST", "/v1/identity/assignments", json={
            "permission_set": permission_set, "group": group, "user": user,
            "account": account, "ou": ou})

    def list(self, *, account: str | None = None, principal: str | None = None,
             limit: int = 100, offset: int = 0, cursor: str | None = None) -> Json:
        return self._c.request("GET", "/v1/identity/assignments", params={
            "account": account, "principal": principal, "limit": limit, "offset": offset,
            "cursor": cursor})

    def delete(self, assignment_id: str) -> Json:
        return self._c.request("DELETE", f"/v1/identity/assignments/{q(assignment_id)}")


class _Tokens(Part):
    def create(self, *, user: str | None = None, expires_in: str | None = None,
               description: str = "") -> Json:
        return self._c.request("POST", "/v1/identity/tokens", json={
            "user": user, "expires_in": expires_in, "description": description})

    def list(self, *, user: str | None = None, all: bool = False, limit: int = 100,
             offset: int = 0, cursor: str | None = None) -> Json:
        return self._c.request("GET", "/v1/identity/tokens", params={
            "user": user, "all": all or None, "limit": limit, "offset": offset, "cursor": cursor})

    def revoke(self, token_id: str) -> Json:
        return self._c.request("POST", f"/v1/identity/tokens/{q(token_id)}/revoke")


PARTS: dict[str, type[Part]] = {"users": Users, "groups": _Groups,
                                 "permission_sets": _PermissionSets,
                                 "assignments": _Assignments, "tokens": _Tokens}
