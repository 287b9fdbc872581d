"""Identity schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from charter.core.pagination import Page
from charter.core.wire import Schema
from charter.errors import Invalid


class UserCreate(Schema):
    name: str = Field(max_length=63, description="Login name: lower-case letters, digits, dashes.")
    display_name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)
    groups: list[str] = Field(default_factory=list, max_length=100,
                              description="Groups to join (must exist).")


class UserRead(Schema):
    name: str
    crn: str
    display_name: str
    email: str
    groups: list[str]
    created_at: datetime


UserPage = Page[UserRead]


class GroupCreate(Schema):
    name: str = Field(max_length=63)
    description: str = Field(default="", max_length=500)


class GroupRead(Schema):
    name: str
    crn: str
    description: str
    members: list[str]
    created_at: datetime


GroupPage = Page[GroupRead]


class PermissionSetRead(Schema):
    name: str
    persona: str
    team: str
    description: str
    patterns: list[str]
    actions: list[str]


PermissionSetPage = Page[PermissionSetRead]


class AssignmentCreate(Schema):
    permission_set: str = Field(min_length=1, max_length=63)
    group: str | None = Field(default=None, min_length=1, max_length=63)
    user: str | None = Field(default=None, min_length=1, max_length=63)
    account: str | None = Field(default=None, min_length=1, max_length=63,
                                description="Account the permission set applies in.")
    ou: str | None = Field(default=None, min_length=1, max_length=255,
                           description="Or: every account under this OU.")

    @model_validator(mode="after")
    def _one_each(self) -> AssignmentCreate:
        if (self.group is None) == (self.user is None):
            raise Invalid("give exactly one of group or user", code="invalid_assignment")
        if (self.account is None) == (self.ou is None):
            raise Invalid("give exactly one of account or ou", code="invalid_assignment")
        return self


class AssignmentRead(Schema):
    id: str
    principal_type: str
    principal_name: str
    permission_set: str
    scope_type: str
    scope: str
    created_by: str
    created_at: datetime


AssignmentPage = Page[AssignmentRead]


class TokenCreate(Schema):
    user: str | None = Field(default=None, description="Token owner; default: the caller.")
    expires_in: str | None = Field(default=None, max_length=16,
                                   description="Lifetime such as 30d or 12h.")
    description: str = Field(default="", max_length=200)


class TokenRead(Schema):
    id: str
    user: str
    description: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    status: str
    parent_id: str | None = Field(
        default=None, description="The token this one was made with: it expires no later "
        "and is revoked with it. None for tokens the platform issued.")


class TokenCreated(TokenRead):
    token: str = Field(description="The secret: shown once, stored only as a hash.")


class TokenRevoked(TokenRead):
    also_revoked: list[str] = Field(
        default_factory=list, description="Tokens made with this one, at any remove, "
        "revoked with it.")


TokenPage = Page[TokenRead]


class UserDeleted(UserRead):
    assignments_removed: list[str] = Field(
        default_factory=list, description="Ids of the assignments the user held directly.")
    tokens_revoked: list[str] = Field(
        default_factory=list, description="Ids of the user's tokens, revoked with the user.")


class WhoAmI(Schema):
    name: str
    kind: str
    token_id: str | None
    groups: list[str]
    assignments: list[AssignmentRead]
