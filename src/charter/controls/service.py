"""Controls service: list and enable controls, run proactive checks, evaluate detective
rules into findings kept in the security-tooling account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from charter.access.actions import declare
from charter.access.authorizer import (
    Fragment,
    Target,
    account_target,
    ou_target,
    register_source,
)
from charter.access.pipeline import allowed, emit, operation, register_proactive
from charter.controls.library import CONTROLS, DEFAULT_ENABLEMENTS, DETECTIVE, PREVENTIVE, Control
from charter.controls.orm import ControlEnablement, Finding
from charter.controls.schemas import (
    ControlPage,
    ControlRead,
    EnablementCreate,
    EnablementRead,
    EvaluationReport,
    FindingPage,
    FindingRead,
)
from charter.core import events
from charter.core.accounts import MANAGEMENT, SECURITY_TOOLING
from charter.core.clock import now
from charter.core.context import SYSTEM_PRINCIPAL, Context, Runtime
from charter.core.db import lock
from charter.core.ids import crn, new_id, new_request_id
from charter.core.lookup import require
from charter.core.pagination import PageParams, page_of, page_of_list
from charter.errors import Conflict, ControlViolation, Invalid, NotFound
from charter.org import service as org

# Decided per account to filter listings; not an operation of its own.
declare("controls:ReadFindings", "read", "Read the findings about an account")
DETECTIVE_EVENTS = {"AccountCreated", "AccountUpdated", "AccountClosed", "UserCreated",
                    "UserDeleted", "GroupMembershipChanged", "TokenCreated", "TokenRevoked",
                    "ControlEnabled", "ControlDisabled"}


def _require_control(control_id: str) -> Control:
    return require(CONTROLS.get(control_id.upper()), f"control {control_id!r}",
                   code="control_not_found")


def _enabled_scopes(session: Session, scopes: list[str] | None = None) -> dict[str, set[str]]:
    """Control id -> where it is enabled: everywhere, or among `scopes` only."""
    out: dict[str, set[str]] = {c: set() for c in CONTROLS}
    query = select(ControlEnablement)
    if scopes is not None:
        query = query.where(ControlEnablement.scope.in_(scopes))
    for row in session.scalars(query):
        out.setdefault(row.control_id, set()).add(row.scope)
    return out


def is_enabled(session: Session, control_id: str, scopes: list[str]) -> bool:
    """Whether the control applies to something whose scope chain is `scopes`."""
    return session.scalar(select(ControlEnablement.scope).where(
        ControlEnablement.control_id == control_id,
        ControlEnablement.scope.in_(scopes)).limit(1)) is not None


# -- preventive: Cedar forbids ---------------------------------------------------------

def _cedar(session: Session) -> Fragment:
    scoped, explanations = [], {}
    for row in session.scalars(select(ControlEnablement).order_by(ControlEnablement.scope)):
        control = CONTROLS.get(row.control_id)
        if control is None or control.kind != PREVENTIVE:
            continue
        kind = "OU" if row.scope.startswith("/") else "Account"
        scoped.append(((kind, row.scope), control.cedar(row.scope)))
        explanations[f"control:{control.id}@{row.scope}"] = (
            f"preventive control {control.id} ({control.description})")
    return Fragment(scoped=scoped, explanations=explanations)


register_source("controls", _cedar)


# -- proactive: checks before create ---------------------------------------------------

def _proactive(ctx: Context, action: str, target: Target, proposed: dict[str, Any]) -> None:
    scopes = [proposed["name"], *org.ou_ancestors(ctx.db, proposed["ou"])]
    enabled = _enabled_scopes(ctx.db, scopes)
    for control in CONTROLS.values():
        if control.check is None or action not in control.actions:
            continue
        if not enabled.get(control.id, set()) & set(scopes):
            continue
        reason = control.check(proposed)
        if reason:
            raise ControlViolation(f"{control.id}: {reason}", control=control.id,
                                   description=control.description)


for _action in sorted({a for c in CONTROLS.values() for a in c.actions}):
    register_proactive(_action, _proactive)


# -- detective: findings ---------------------------------------------------------------

def evaluate(session: Session, settings: Any) -> EvaluationReport:
    """Run every enabled detective rule and open or resolve findings (idempotent)."""
    lock(session, "controls.evaluate")  # concurrent evaluations would insert twice
    enabled = _enabled_scopes(session)
    current: dict[tuple[str, str], Any] = {}
    scope_cache: dict[str, set[str]] = {}
    for control in CONTROLS.values():
        if control.kind != DETECTIVE or control.rule is None or not enabled[control.id]:
            continue
        for violation in control.rule(session, settings):
            if violation.account not in scope_cache:
                scope_cache[violation.account] = set(org.account_scopes(session,
                                                                        violation.account))
            if enabled[control.id] & scope_cache[violation.account]:
                current[(control.id, violation.resource)] = violation
    t, opened, resolved = now(), 0, 0
    existing = {(f.control_id, f.resource): f for f in session.scalars(select(Finding))}
    for key, violation in current.items():
        finding = existing.get(key)
        if finding is None:
            session.add(Finding(id=new_id("fnd-"), control_id=key[0], account=violation.account,
                                resource=violation.resource, status="open",
                                message=violation.message, first_seen=t, last_seen=t,
                                resolved_at=None))
            opened += 1
        else:
            if finding.status != "open":
                finding.status, finding.resolved_at, finding.first_seen = "open", None, t
                opened += 1
            finding.last_seen, finding.message = t, violation.message
    for key, finding in existing.items():
        if key not in current and finding.status == "open":
            finding.status, finding.resolved_at = "resolved", t
            resolved += 1
    session.flush()
    open_count = session.scalar(select(func.count()).where(Finding.status == "open")) or 0
    return EvaluationReport(opened=opened, resolved=resolved, open=open_count)


def _finding_read(f: Finding) -> FindingRead:
    return FindingRead(id=f.id, crn=crn(SECURITY_TOOLING, "controls", "finding", f.id),
                       control_id=f.control_id, account=f.account, resource=f.resource,
                       status=f.status, message=f.message, first_seen=f.first_seen,
                       last_seen=f.last_seen, resolved_at=f.resolved_at)


# -- operations ------------------------------------------------------------------------

def _root(ctx: Context, *args: Any, **kwargs: Any) -> Target:
    return ou_target("/", crn(MANAGEMENT, "controls", "library", "all"))


@operation("controls:ListControls", "read", target=_root)
def list_controls(ctx: Context, *, page: PageParams | None = None) -> ControlPage:
    """The control library with where each control is enabled."""
    enabled = _enabled_scopes(ctx.db)
    return page_of_list(ControlPage, [
        ControlRead(id=c.id, name=c.name, kind=c.kind, description=c.description,
                    mandatory=c.mandatory, enabled_on=sorted(enabled[c.id]))
        for c in CONTROLS.values()], page)


def _scope_target(ctx: Context, control_id: str, body: EnablementCreate) -> Target:
    _require_control(control_id)
    if (body.ou is None) == (body.account is None):
        raise Invalid("give exactly one of ou or account", code="invalid_scope")
    path = crn(MANAGEMENT, "controls", "enablement", f"{control_id.upper()}")
    if body.account:
        return org.target_in_account(ctx.db, body.account, path)
    return ou_target(org.require_ou(ctx.db, body.ou or "/"), path)


@operation("controls:EnableControl", "write", target=_scope_target, changes_policy=True)
def enable_control(ctx: Context, control_id: str, body: EnablementCreate) -> EnablementRead:
    """Enable a control on an OU (and everything under it) or on one account."""
    control = _require_control(control_id)
    target = _scope_target(ctx, control_id, body)
    if body.account:
        org.require_account(ctx.db, body.account)
    scope = target.id
    if control.kind == PREVENTIVE and scope == MANAGEMENT:
        raise Invalid(f"{control.id} is preventive and preventive controls never apply to the "
                      f"{MANAGEMENT} account, so nothing there can lock the administrator "
                      "out; enable it on an OU or another account", code="management_exempt")
    if ctx.db.get(ControlEnablement, (control.id, scope)) is not None:
        raise Conflict(f"{control.id} is already enabled on {scope}", code="already_enabled")
    row = ControlEnablement(control_id=control.id, scope=scope, enabled_by=ctx.principal.name,
                            enabled_at=now())
    ctx.db.add(row)
    ctx.db.flush()
    emit(ctx, "ControlEnabled", target.account, {"control": control.id, "scope": scope})
    return EnablementRead.model_validate(row, from_attributes=True)


@operation("controls:DisableControl", "write", target=_scope_target, changes_policy=True)
def disable_control(ctx: Context, control_id: str, body: EnablementCreate) -> EnablementRead:
    """Disable a control where it was enabled; mandatory controls cannot be disabled."""
    control = _require_control(control_id)
    if control.mandatory:
        raise Invalid(f"{control.id} is mandatory and cannot be disabled",
                      code="control_mandatory")
    if body.account:
        org.require_account(ctx.db, body.account)
    scope = _scope_target(ctx, control_id, body).id
    row = ctx.db.get(ControlEnablement, (control.id, scope))
    if row is None:
        raise NotFound(f"{control.id} is not enabled on {scope}", code="not_enabled")
    read = EnablementRead.model_validate(row, from_attributes=True)
    ctx.db.execute(delete(ControlEnablement).where(ControlEnablement.control_id == control.id,
                                                   ControlEnablement.scope == scope))
    emit(ctx, "ControlDisabled", MANAGEMENT, {"control": control.id, "scope": scope})
    return read


def enable_defaults(ctx: Context) -> list[str]:
    """Enable the default controls where missing (inside `charter init`)."""
    done = []
    for control_id, scopes in DEFAULT_ENABLEMENTS.items():
        for scope in scopes:
            if ctx.db.get(ControlEnablement, (control_id, scope)) is None:
                ctx.db.add(ControlEnablement(control_id=control_id, scope=scope,
                                             enabled_by=ctx.principal.name, enabled_at=now()))
                done.append(f"control {control_id} on {scope}")
    ctx.db.flush()
    return done


def remove_management_enablements(ctx: Context) -> list[str]:
    """Remove preventive controls enabled on the management account (inside `charter init
    --recover-admin`): they never apply there, and an older platform may have them."""
    preventive = [c.id for c in CONTROLS.values() if c.kind == PREVENTIVE]
    rows = list(ctx.db.scalars(select(ControlEnablement).where(
        ControlEnablement.scope == MANAGEMENT, ControlEnablement.control_id.in_(preventive))
        .order_by(ControlEnablement.control_id)))
    for row in rows:
        ctx.db.delete(row)
        emit(ctx, "ControlDisabled", MANAGEMENT, {"control": row.control_id, "scope": MANAGEMENT})
    ctx.db.flush()
    return [f"control {row.control_id} on {MANAGEMENT}" for row in rows]


def enable_for_account(ctx: Context, account: str, control_ids: list[str]) -> None:
    """Blueprint guardrails: enable controls on a new account unless inherited."""
    if not control_ids:
        return
    scopes = org.account_scopes(ctx.db, account)
    for control_id in control_ids:
        if not is_enabled(ctx.db, control_id, scopes):
            ctx.db.add(ControlEnablement(control_id=control_id, scope=account,
                                         enabled_by=ctx.principal.name, enabled_at=now()))
    ctx.db.flush()


def _findings_target(ctx: Context, *, account: str | None = None, **kw: Any) -> Target:
    if account is None:
        return ou_target("/", crn(SECURITY_TOOLING, "controls", "finding", "*"))
    return org.target_in_account(ctx.db, account,
                                 crn(SECURITY_TOOLING, "controls", "finding", f"{account}/*"))


@operation("controls:ListFindings", "read", target=_findings_target)
def list_findings(ctx: Context, *, account: str | None = None, status: str | None = "open",
                  control_id: str | None = None, page: PageParams | None = None) -> FindingPage:
    """Findings of detective controls, only for accounts the caller may read findings of."""
    query = select(Finding)
    if account:
        org.require_account(ctx.db, account)
        query = query.where(Finding.account == account)
    if status and status != "all":
        query = query.where(Finding.status == status)
    if control_id:
        query = query.where(Finding.control_id == _require_control(control_id).id)
    # Decided per account the findings are about (as many as there are accounts at most),
    # then filtered in SQL with the rest.
    accounts = list(ctx.db.scalars(query.with_only_columns(Finding.account).distinct()))
    ok = allowed(ctx, "controls:ReadFindings",
                 [account_target(a, crn(SECURITY_TOOLING, "controls", "finding", a))
                  for a in accounts])
    query = query.where(Finding.account.in_([a for a, yes in zip(accounts, ok, strict=True)
                                             if yes]))
    return page_of(FindingPage, ctx.db, query, key=(Finding.first_seen, Finding.id),
                   params=page, read=lambda rows: [_finding_read(f) for f in rows])


@operation("controls:EvaluateControls", "write",
           target=lambda ctx: account_target(SECURITY_TOOLING,
                                             crn(SECURITY_TOOLING, "controls", "finding", "*")))
def evaluate_controls(ctx: Context) -> EvaluationReport:
    """Run every detective control now and update findings."""
    return evaluate(ctx.db, ctx.settings)


def _on_event(runtime: Runtime, event: events.Event) -> None:
    ctx = Context(runtime, SYSTEM_PRINCIPAL, new_request_id(), source="event:controls.detective")
    evaluate_controls(ctx)


org.register_baseline_step(
    lambda ctx, account, blueprint: enable_for_account(ctx, account, list(blueprint.controls)))


def install(runtime: Runtime) -> None:
    """Subscribe detective evaluation to the events that change the inventory."""
    events.subscribe(runtime, "controls.detective", DETECTIVE_EVENTS, _on_event)
