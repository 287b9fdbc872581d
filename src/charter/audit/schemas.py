"""Audit schemas."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from charter.core.pagination import Page
from charter.core.wire import Schema


class AuditEventRead(Schema):
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
    details: dict[str, Any] | None = Field(
        default=None, description="What the operation recorded beyond its outcome "
        "(e.g. the tokens revoked with a token, what `charter init` restored).")

    @field_validator("details", mode="before")
    @classmethod
    def _stored_as_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


AuditEventPage = Page[AuditEventRead]


class AuditQuery(Schema):
    account: str | None = Field(default=None, max_length=63)
    principal: str | None = Field(default=None, max_length=100)
    action: str | None = Field(default=None, max_length=100)
    decision: Literal["allow", "deny"] | None = None
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)
    request_id: str | None = Field(default=None, max_length=64)


class FaultRead(Schema):
    seq: int
    problem: str


class VerifyReport(Schema):
    ok: bool
    records: int = Field(description="Records that checked out before the first fault.")
    head_seq: int
    first_bad_seq: int | None
    problem: str | None
    checkpoints: int = Field(default=0, description="Signed checkpoints checked.")
    last_checkpoint_seq: int | None = None
    checkpoint_key_id: str | None = None
    faults: list[FaultRead] = Field(default_factory=list,
                                    description="Every fault found, first first (at most 20).")


class CheckpointRead(Schema):
    number: int = Field(description="Checkpoints are numbered 1, 2, 3, ...")
    seq: int = Field(description="The trail's head record when it was signed.")
    hash: str
    time: str
    previous: str | None = Field(description="Digest of the checkpoint before this one.")
    key_id: str
    faults: list[FaultRead] = Field(description="What the check before signing found wrong.")
    digest: str = Field(description="sha256 of the checkpoint's file.")


class CheckpointPage(Page[CheckpointRead]):
    location: str = Field(description="Where the checkpoint files are kept.")
    key_id: str
    public_key: str = Field(description="PEM of the Ed25519 key that signs checkpoints.")
