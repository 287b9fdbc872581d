"""Organisation schemas: OUs, accounts, blueprints."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from charter.core.pagination import Page
from charter.core.wire import Schema
from charter.errors import Invalid

TAG_KEY_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
TAG_VALUE_RE = re.compile(r"^[A-Za-z0-9 ._:/@+=-]{1,256}$")


MAX_TAGS = 50
MAX_BUDGET = 999_999_999_999.99  # the largest the budget column (14 digits, 2 decimals) holds


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} tags per account", code="invalid_tag")
    for key, value in tags.items():
        if not TAG_KEY_RE.fullmatch(key):
            raise Invalid(
                f"invalid tag key {key!r}: use lower-case letters, digits and dashes",
                code="invalid_tag",
            )
        if not isinstance(value, str) or not TAG_VALUE_RE.fullmatch(value):
            raise Invalid(
                f"invalid value for tag {key!r}: 1-256 letters, digits, spaces or ._:/@+=-",
                code="invalid_tag",
            )
    return tags


def normalize_ou_path(path: str) -> str:
    """`Workloads/ML/NonProd`, `/workloads/ml/nonprod/` -> `/workloads/ml/nonprod`."""
    parts = [p for p in path.strip().split("/") if p]
    for part in parts:  # ASCII only: checked before lower-casing, which maps some letters
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,62}", part):
            raise Invalid(f"invalid OU path {path!r}: segment {part!r} is not a valid name",
                          code="invalid_ou_path")
    return "/" + "/".join(parts).lower()


class AccountCreate(Schema):
    name: str = Field(max_length=63, description="Account name, e.g. team-a-dev.")
    ou: str = Field(max_length=255,
                    description="OU path the account is placed in, e.g. /workloads/ml/nonprod.")
    blueprint: str = Field(max_length=64, description="Blueprint whose baseline is applied.")
    tags: dict[str, str] = Field(default_factory=dict,
                                 description="Tags, e.g. owner, cost-center.")
    budget: float | None = Field(default=None, ge=0, le=MAX_BUDGET, allow_inf_nan=False,
                                 strict=True,
                                 description="Monthly budget; default from the blueprint.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        return check_tags(value)


class AccountUpdate(Schema):
    tags: dict[str, str] = Field(default_factory=dict, description="Tags to set or replace.")
    remove_tags: list[str] = Field(default_factory=list, description="Tag keys to remove.")
    budget: float | None = Field(default=None, ge=0, le=MAX_BUDGET, allow_inf_nan=False,
                                 strict=True,
                                 description="New monthly budget.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        return check_tags(value)


class AccountRead(Schema):
    name: str
    crn: str
    ou: str
    blueprint: str
    status: str
    tags: dict[str, str]
    budget: float | None
    baseline: dict[str, Any]
    created_by: str
    created_at: datetime
    closed_at: datetime | None = None


AccountPage = Page[AccountRead]


class OUCreate(Schema):
    path: str = Field(max_length=255,
                      description="Full path of the new OU, e.g. /workloads/ml/sandbox.")
    description: str = Field(default="", max_length=500)


class OUNode(Schema):
    path: str
    name: str
    description: str = ""
    accounts: list[str] = Field(default_factory=list)
    children: list[OUNode] = Field(default_factory=list)


class BlueprintRead(Schema):
    name: str
    description: str
    ous: list[str]
    name_suffix: str | None
    budget: float
    assignments: dict[str, str]
    controls: list[str]


BlueprintPage = Page[BlueprintRead]


class InitReport(Schema):
    created: list[str]
    found: list[str]
