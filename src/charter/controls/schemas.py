"""Control schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from charter.core.pagination import Page


class ControlRead(BaseModel):
    id: str
    name: str
    kind: str
    description: str
    mandatory: bool
    enabled_on: list[str]


class EnablementCreate(BaseModel):
    ou: str | None = Field(default=None, description="OU path to enable the control on.")
    account: str | None = Field(default=None, description="Or one account.")


class EnablementRead(BaseModel):
    control_id: str
    scope: str
    enabled_by: str
    enabled_at: datetime


class FindingRead(BaseModel):
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


class EvaluationReport(BaseModel):
    opened: int
    resolved: int
    open: int
