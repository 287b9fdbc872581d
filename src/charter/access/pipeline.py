"""The governed operation pipeline: authenticate (done by the caller) -> authorize with
Cedar -> proactive controls -> execute -> audit + events, in one transaction.

Every domain service function that reads or changes a protected resource is declared
with `@operation`; calling it is the only way to run it. Key contracts:
- One audit record per top-level operation, allowed, denied or failed (failed with any
  exception, SystemExit and KeyboardInterrupt included, which are then re-raised). Input refused
  before authorization (nothing to decide on) is recorded `deny` / `rejected`. Allowed
  operations write it in the same transaction as their effect; denied and failed ones
  write it after the rollback, so nothing half-done remains. Records are chained in
  group commits (audit/_sequencer.py): an operation returns once its record is in the
  chain.
- A transaction whose BEGIN or COMMIT fails (a dropped connection, a full disk) fails its
  operation: the effect and a staged record are gone with it, so the failure is recorded
  (allow / error) after it, like any other failure.
- Nested operations (a service calling another inside an operation) join the open
  transaction and are authorized and audited there too.
- Every transaction with a successful write operation bumps `data_version` (and one
  that changes policy, the policy version), so caches of derived state can key on them.
- A `read_only` operation, which changes nothing, runs in a read transaction (on SQLite
  it does not hold the write lock while it works, so a long lake query does not stall
  every writer) and hands its record to the next group commit right after; if that write
  fails, its result is not returned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from charter.access.actions import declare
from charter.access.authorizer import (
    Decision,
    Target,
    authorizer,
    bump_data_version,
    bump_version,
    data_version,
    refusal_reason,
)
from charter.access.records import AuditRecord, record, record_alone, settle
from charter.core import events
from charter.core.context import Context
from charter.core.ids import Crn
from charter.errors import CharterError, ControlViolation, Denied, Unauthenticated

P = ParamSpec("P")
R = TypeVar("R")

TargetFn = Callable[..., Target]
ProactiveCheck = Callable[[Context, str, Target, dict[str, Any]], None]

OPERATIONS: dict[str, Callable[..., Any]] = {}
MAX_REASON = 1000  # caller-supplied text is echoed in messages; keep the trail bounded
_PROACTIVE: dict[str, list[ProactiveCheck]] = {}


def register_proactive(action: str, check: ProactiveCheck) -> None:
    """Run `check(ctx, action, target, proposed)` before `action` executes."""
    _PROACTIVE.setdefault(action, []).append(check)


CredentialCheck = Callable[[Context], None]
_CREDENTIALS: list[CredentialCheck] = []


def register_credentials(check: CredentialCheck) -> None:
    """`check(ctx)` confirms in the operation's transaction that the caller's token is
    still valid (raises Unauthenticated if not); the identity domain installs it."""
    _CREDENTIALS[:] = [check]


def _confirm_credentials(ctx: Context) -> None:
    """A token found valid at data version V stays valid until a write commits (revoking
    or deleting a token is a write): checked again only when the version moved, in the
    same read as the policy version."""
    if ctx.credentials_at is None or ctx.principal.token_id is None:
        return
    current = data_version(ctx.db)
    if current != ctx.credentials_at:
        for check in _CREDENTIALS:
            check(ctx)
        ctx.credentials_at = current


def operation(
    action: str,
    kind: str,
    *,
    target: TargetFn,
    proposed: Callable[..., dict[str, Any]] | None = None,
    changes_policy: bool = False,
    read_only: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare a service function as the governed operation `action`.

    Args:
        action: `<module>:<Verb><Noun>`, the Cedar action id.
        kind: `read` or `write`; guardrails such as "no writes in prod" use it.
        target: `(ctx, *args, **kwargs) -> Target`, run inside the transaction.
        proposed: `(ctx, *args, **kwargs) -> dict`, the resource proactive controls check.
        changes_policy: the operation changes Cedar policies or entities.
        read_only: the operation writes nothing (see the module notes); `read` only.
    """
    if read_only and (kind != "read" or changes_policy or proposed is not None):
        raise ValueError(f"{action}: only a plain read operation can be read_only")
    if changes_policy and kind != "write":
        raise ValueError(f"{action}: an operation that changes policy is a write")
    effect = "policy" if changes_policy else kind

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        declare(action, kind, (fn.__doc__ or action).strip().splitlines()[0])

        @functools.wraps(fn)
        def wrapper(ctx: Context, *args: Any, **kwargs: Any) -> Any:
            return _run(ctx, action, fn, target, proposed, effect, read_only, args, kwargs)

        wrapper.__charter_action__ = action  # type: ignore[attr-defined]
        OPERATIONS[action] = wrapper
        return wrapper  # type: ignore[return-value]

    return decorate


class _Failure(Exception):
    def __init__(self, error: BaseException, target: Target | None, decision: str, *,
                 outside: bool = False) -> None:
        self.error, self.target, self.decision = error, target, decision
        self.outside = outside  # failed in the transaction's BEGIN or COMMIT


def _run(ctx: Context, action: str, fn: Callable[..., Any], target_fn: TargetFn,
         proposed_fn: Callable[..., dict[str, Any]] | None, effect: str,
         read_only: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if ctx.session is not None:
        try:
            return _execute(ctx, action, fn, target_fn, proposed_fn, effect, args, kwargs)
        except _Failure as failure:
            raise failure.error from None
    try:
        # A read's record has no effect to be atomic with: it goes to the next group commit
        # after the read (on SQLite only for read_only reads, whose transaction cannot
        # write; elsewhere the read's transaction writes nothing and commits at no cost).
        if read_only or (effect == "read" and not ctx.runtime.db.is_sqlite):
            records: list[AuditRecord] = []
            begin = ctx.runtime.db.read if read_only else ctx.runtime.db.transaction
            with _committing(ctx, begin) as session:
                ctx.session = session
                result = _execute(ctx, action, fn, target_fn, proposed_fn, effect,
                                  args, kwargs, deferred=records)
            ctx.session = None
            record_alone(ctx.runtime, records)
            ctx.audited = True
            return result
        with _committing(ctx, ctx.runtime.db.transaction) as session:
            ctx.session = session
            result = _execute(ctx, action, fn, target_fn, proposed_fn, effect, args, kwargs)
        ctx.session = None
        settle(ctx.runtime)  # its records committed with it: now in the chain
        return result
    except _Failure as failure:
        ctx.session = None
        _audit_failure(ctx, action, failure)
        raise failure.error from None
    finally:
        ctx.session = None


@contextmanager
def _committing(ctx: Context, begin: Callable[[], Any]) -> Iterator[Any]:
    """The operation's transaction; a failure outside the operation's own code (the
    BEGIN, or the COMMIT: a connection dropped, a disk full) becomes a failure of the
    operation, recorded as such, since its effect and its record were rolled back."""
    opened: list[Any] = []
    try:
        with begin() as session:
            opened.append(session)
            yield session
    except _Failure:
        raise
    except Exception as error:
        target = opened[0].info.get("charter.target") if opened else None
        ctx.audited = False  # a record staged with the effect went with it
        raise _Failure(error, target, "allow", outside=True) from error


def _execute(ctx: Context, action: str, fn: Callable[..., Any], target_fn: TargetFn,
             proposed_fn: Callable[..., dict[str, Any]] | None, effect: str,
             args: tuple[Any, ...], kwargs: dict[str, Any],
             deferred: list[AuditRecord] | None = None) -> Any:
    """Authorize, check, run and record one operation in the open session; `deferred`
    collects the allow record instead, for the caller to write."""
    target: Target | None = None
    decision = "allow"
    try:
        _confirm_credentials(ctx)
        target = target_fn(ctx, *args, **kwargs)
        ctx.db.info.setdefault("charter.target", target)  # the outermost operation's
        verdict = authorizer(ctx.runtime, ctx.db).decide(ctx.principal, action, target)
        if not verdict.allowed:
            decision = "deny"
            raise _refusal(ctx, action, target, verdict)
        if proposed_fn is not None:
            proposal = proposed_fn(ctx, *args, **kwargs)
            for check in _PROACTIVE.get(action, []):
                check(ctx, action, target, proposal)
        result = fn(ctx, *args, **kwargs)
        if effect != "read":  # see authorizer.data_version
            bump_data_version(ctx.db)
        if effect == "policy":
            bump_version(ctx.db)
        allow = _record(ctx, action, target, "allow", "success", reason=verdict.reason)
        if deferred is not None:
            deferred.append(allow)
            return result
        record(ctx.db, [allow], key=ctx.runtime.audit_key)
        ctx.audited = True
        return result
    except CharterError as error:
        raise _Failure(error, target, decision) from error
    except BaseException as error:  # SystemExit, KeyboardInterrupt too: audited, re-raised
        raise _Failure(error, target, decision) from error


def _refusal(ctx: Context, action: str, target: Target, verdict: Decision) -> Denied:
    """The refusal the caller reads. A target shown under another name is refused in the
    same words whatever it is, holds or is decided by: neither its crn nor the policies
    that refused it (the audit record keeps the crn)."""
    if target.shown_as is None:
        return Denied(f"{ctx.principal.name} may not {action} on {target.crn}: "
                      f"{verdict.reason}", code="access_denied", action=action,
                      resource=target.crn, policies=verdict.policies)
    ctx.audit_details["refused_by"] = verdict.reason  # for the trail's readers only
    return Denied(f"{ctx.principal.name} may not {action} on {target.shown_as}: "
                  f"{refusal_reason(action)}", code="access_denied", action=action,
                  resource=target.shown_as, policies=[])


def _record(ctx: Context, action: str, target: Target | None, decision: str, outcome: str,
            **kw: Any) -> AuditRecord:
    return AuditRecord(
        principal=ctx.principal.name,
        account=_account_of(target),
        action=action,
        resource=target.crn if target else "unknown",
        decision=decision,
        outcome=outcome,
        request_id=ctx.request_id,
        source=ctx.source,
        details=_details(ctx),
        **kw,
    )


def _details(ctx: Context) -> dict[str, Any] | None:
    details = dict(ctx.audit_details)
    if ctx.client_request_id:
        details["client_request_id"] = ctx.client_request_id
    return details or None


def _account_of(target: Target | None) -> str:
    """The account acted in: the Cedar container when it is an account, else the account
    the resource's name says (for a new account: itself)."""
    if target is None:
        return "unknown"
    if target.kind == "Account":
        return target.id
    try:
        return Crn.parse(target.crn).account
    except CharterError:
        return target.account


def _audit_failure(ctx: Context, action: str, failure: _Failure) -> None:
    error = failure.error
    if isinstance(error, Unauthenticated):  # the token went while the request was on its way
        audit_unauthenticated(ctx.runtime, ctx.request_id, ctx.source, ctx.route or action,
                              error)
        ctx.audited = True
        return
    if isinstance(error, CharterError):
        code, message = error.code, error.message
    else:
        code, message = "internal_error", type(error).__name__
    decision = failure.decision
    if failure.outside:  # allowed, and lost with its transaction
        outcome = "error"
    elif failure.target is None:  # refused before authorization: its input named nothing
        decision, outcome = "deny", "rejected"
    elif decision == "deny":
        outcome = "denied"
    elif isinstance(error, ControlViolation):
        outcome = "refused"
    else:
        outcome = "error"
    record_alone(ctx.runtime, [_record(ctx, action, failure.target, decision, outcome,
                                       error_code=code, reason=message[:MAX_REASON])])
    ctx.audited = True


def allowed(ctx: Context, action: str, targets: list[Target]) -> list[bool]:
    """Decide `action` for many targets at once: filters listings item by item."""
    return authorizer(ctx.runtime, ctx.db).decide_many(ctx.principal, action, targets)


def emit(ctx: Context, type_: str, account: str, payload: dict[str, Any]) -> str:
    """Write a domain event to the outbox in the operation's transaction."""
    ctx.emitted += 1
    return events.emit(ctx.runtime, ctx.db, type_, account, payload, ctx.request_id)


REJECTED = declare("api:RejectRequest", "read",
                   "A request refused before any operation (malformed body or parameters)")


def _record_outside(runtime: Any, *, principal: str, action: str, route: str, outcome: str,
                    request_id: str, source: str, code: str, reason: str) -> None:
    """One record, in its own transaction, of a request no operation recorded."""
    record_alone(runtime, [AuditRecord(
        principal=principal, account="unknown", action=action, resource=route,
        decision="deny", outcome=outcome, request_id=request_id, source=source,
        error_code=code, reason=reason[:MAX_REASON])])


def audit_rejected(ctx: Context, route: str, error: CharterError) -> None:
    """A request whose input was refused before its operation ran: record it too."""
    if ctx.audited:
        return
    _record_outside(ctx.runtime, principal=ctx.principal.name, action=REJECTED.name,
                    route=route, outcome="rejected", request_id=ctx.request_id,
                    source=ctx.source, code=error.code, reason=error.message)
    ctx.audited = True


def audit_unauthenticated(runtime: Any, request_id: str, source: str, route: str,
                          error: CharterError) -> None:
    """A request without a valid token is refused before any operation: record it too."""
    _record_outside(runtime, principal="anonymous", action="identity:Authenticate",
                    route=route, outcome="denied", request_id=request_id, source=source,
                    code=error.code, reason=error.message)


FAILED = declare("api:ServeRequest", "read",
                 "A request that failed inside the platform outside any operation")


def audit_error(runtime: Any, principal: str, request_id: str, source: str, route: str,
                error: BaseException) -> None:
    """A request that failed in the platform (a 500) before or around its operation, which
    recorded nothing: record it too."""
    _record_outside(runtime, principal=principal, action=FAILED.name, route=route,
                    outcome="error", request_id=request_id, source=source,
                    code="internal_error", reason=type(error).__name__)
