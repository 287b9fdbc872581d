"""Audit routes: query, verify; stopping or pruning the trail is always refused."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from charter.api.deps import Ctx, PageDep
from charter.audit import service
from charter.audit.schemas import (
    AuditEventPage,
    AuditEventRead,
    AuditQuery,
    CheckpointPage,
    CheckpointRead,
    VerifyReport,
)

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/events")
def list_events(ctx: Ctx, page: PageDep, query: AuditQuery = Depends()) -> AuditEventPage:
    """Audit records, newest first, filtered by account, principal, action or time."""
    return service.list_events(ctx, query, page=page)


@router.get("/events/{seq}")
def get_event(seq: Annotated[int, Path(ge=1, le=2**63 - 1)], ctx: Ctx) -> AuditEventRead:
    """One audit record in full: decision, reason, error, request id and details."""
    return service.describe_event(ctx, seq)


@router.post("/verify")
def verify_trail(ctx: Ctx) -> VerifyReport:
    """Verify the hash chain end to end."""
    return service.verify_trail(ctx)


@router.post("/checkpoints")
def checkpoint_trail(ctx: Ctx) -> CheckpointRead | None:
    """Sign the trail's head now (after verifying the records since the last checkpoint)."""
    return service.checkpoint_trail(ctx)


@router.get("/checkpoints")
def list_checkpoints(ctx: Ctx, page: PageDep) -> CheckpointPage:
    """Signed checkpoints, newest first, with the public key that signs them."""
    return service.list_checkpoints(ctx, page=page)


@router.post("/trail/stop", status_code=204)
def stop_trail(ctx: Ctx) -> None:
    """Stop the audit trail (refused by CHARTER-PREV-1)."""
    service.stop_trail(ctx)


@router.delete("/events", status_code=204)
def delete_events(ctx: Ctx, before: str | None = None) -> None:
    """Delete audit records (refused by CHARTER-PREV-1)."""
    service.delete_events(ctx, before=before)
