"""Control routes: the library, enablement, findings."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from charter.api.deps import Ctx, PageDep
from charter.controls import service
from charter.controls.schemas import (
    ControlPage,
    EnablementCreate,
    EnablementRead,
    EvaluationReport,
    FindingPage,
)

router = APIRouter(prefix="/v1/controls", tags=["controls"])


@router.get("")
def list_controls(ctx: Ctx, page: PageDep) -> ControlPage:
    """The control library and where each control is enabled."""
    return service.list_controls(ctx, page=page)


@router.post("/{control_id}/enablements", status_code=201)
def enable_control(control_id: str, body: EnablementCreate, ctx: Ctx) -> EnablementRead:
    """Enable a control on an OU or account."""
    return service.enable_control(ctx, control_id, body)


@router.post("/{control_id}/disable")
def disable_control(control_id: str, body: EnablementCreate, ctx: Ctx) -> EnablementRead:
    """Disable a control where it was enabled."""
    return service.disable_control(ctx, control_id, body)


@router.get("/findings")
def list_findings(ctx: Ctx, page: PageDep, account: str | None = None,
                  status: Literal["open", "resolved", "all"] = "open",
                  control: str | None = None) -> FindingPage:
    """Findings of detective controls."""
    return service.list_findings(ctx, account=account, status=status, control_id=control,
                                 page=page)


@router.post("/evaluate")
def evaluate_controls(ctx: Ctx) -> EvaluationReport:
    """Run every detective control now."""
    return service.evaluate_controls(ctx)
