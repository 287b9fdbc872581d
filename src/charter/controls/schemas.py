"""Control schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from charter.core.pagination import Page
from charter.core.wire import Schema


class ControlRead(Schema):
    id: str
    name: str
    kind: str
    description: str
    mandatory: bool
    enabled_on: list[str]


ControlPage = Page[ControlRead]


class EnablementCreate(Schema):
    ou: str | None = Field(default=None, description="OU path to enable the control on.")
    account: str | None = Field(default=None, description="Or one account.")


class EnablementRead(Schema):
    control_id: str
    scope: str
    enabled_by: str
    enabled_at: datetime


class FindingRead(Schema):
    id: str
    crn: str
    control_id: str
    account: str
    resource: str
    status: str
    message: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None


FindingPage = Page[FindingRead]


class EvaluationReport(Schema):
    opened: int
    resolved: int
    open: int
