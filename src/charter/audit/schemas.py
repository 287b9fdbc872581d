"""Audit schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from charter.core.pagination import Page


class AuditEventRead(BaseModel):
    seq: int
    time: datetime
    principal: str
    account: str
    action: str
    resource: str
    decision: str
    outcome: str
    error_code: str | None
    reason: str | None
    request_id: str
    source: str
    hash: str


AuditEventPage = Page[AuditEventRead]


class AuditQuery(BaseModel):
    account: str | None = Field(default=None, max_length=63)
    principal: str | None = Field(default=None, max_length=100)
    action: str | None = Field(default=None, max_length=100)
    decision: Literal["allow", "deny"] | None = None
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)
    request_id: str | None = Field(default=None, max_length=64)


class VerifyReport(BaseModel):
    ok: bool
    records: int
    head_seq: int
    first_bad_seq: int | None
    problem: str | None
