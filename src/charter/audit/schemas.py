"""Audit schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

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
    account: str | None = None
    principal: str | None = None
    action: str | None = None
    decision: str | None = None
    since: str | None = None
    until: str | None = None
    request_id: str | None = None


class VerifyReport(BaseModel):
    ok: bool
    records: int
    head_seq: int
    first_bad_seq: int | None
    problem: str | None
