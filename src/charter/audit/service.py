"""Audit service: query the trail within the caller's accounts, verify the chain; the
trail cannot be stopped or pruned (preventive control CHARTER-PREV-1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from charter.access.actions import declare
from charter.access.authorizer import Target, account_target, ou_target
from charter.access.pipeline import allowed, operation
from charter.access.records import register_recorder
from charter.audit import _checkpoint, _sequencer, chain
from charter.audit.orm import AuditEvent
from charter.audit.schemas import (
    AuditEventPage,
    AuditEventRead,
    AuditQuery,
    CheckpointPage,
    CheckpointRead,
    VerifyReport,
)
from charter.core.clock import parse_time
from charter.core.context import Context, Runtime
from charter.core.ids import crn
from charter.core.lookup import require
from charter.core.pagination import PageParams, paginate
from charter.errors import Denied
from charter.org import service as org

LOG_ARCHIVE = chain.LOG_ARCHIVE
# Decided per account to filter listings; not an operation of its own.
declare("audit:ReadEvents", "read", "Read the audit records of an account")
TRAIL = crn(LOG_ARCHIVE, "audit", "trail", "main")
EVENTS = crn(LOG_ARCHIVE, "audit", "event", "*")

register_recorder(_sequencer.Recorder())


def _trail(ctx: Context, *args: Any, **kwargs: Any) -> Target:
    return account_target(LOG_ARCHIVE, TRAIL)


def _events_target(ctx: Context, query: AuditQuery, **kw: Any) -> Target:
    if query.account is None:
        return ou_target("/", EVENTS)
    # Refused in the same words whether the named account exists or not, and whatever
    # policies apply where it does.
    events = crn(LOG_ARCHIVE, "audit", "event", f"{query.account}/*")
    target = org.target_in_account(ctx.db, query.account, events)
    return replace(target, shown_as=events)


@operation("audit:ListEvents", "read", target=_events_target)
def list_events(ctx: Context, query: AuditQuery, *,
                page: PageParams | None = None) -> AuditEventPage:
    """Audit records, newest first, of the accounts the caller may read the trail of."""
    page = page or PageParams()
    stmt = select(AuditEvent)
    if query.account:
        stmt = stmt.where(AuditEvent.account == query.account)
    elif not _reads_whole_trail(ctx):
        stmt = stmt.where(AuditEvent.account.in_(_readable_accounts(ctx)))
    for column, value in ((AuditEvent.principal, query.principal),
                          (AuditEvent.action, query.action),
                          (AuditEvent.decision, query.decision),
                          (AuditEvent.request_id, query.request_id)):
        if value:
            stmt = stmt.where(column == value)
    if query.since:
        stmt = stmt.where(AuditEvent.time >= parse_time(query.since))
    if query.until:
        stmt = stmt.where(AuditEvent.time <= parse_time(query.until))
    found = paginate(ctx.db, stmt, key=(AuditEvent.seq,), params=page, descending=True)
    return found.to_page(AuditEventPage, [AuditEventRead.model_validate(r, from_attributes=True)
                                          for r in found.rows], page)


def _event_target(ctx: Context, seq: int) -> Target:
    """The record's account, where its reader is decided as for the listing; a record about
    no existing account (or no record at all) is decided at the root, so only
    organisation-wide readers learn which sequence numbers exist. A refusal names neither
    the record nor its account: the same words for every sequence number, so walking them
    tells nothing about the accounts or their activity."""
    account = ctx.db.scalar(select(AuditEvent.account).where(AuditEvent.seq == seq))
    resource = crn(LOG_ARCHIVE, "audit", "event", f"{account or '*'}/{seq}")
    if account is not None and org.account_exists(ctx.db, account):
        return account_target(account, resource, shown_as=EVENTS)
    return ou_target("/", resource, attrs={"account": account or "*"}, shown_as=EVENTS)


@operation("audit:DescribeEvent", "read", target=_event_target)
def describe_event(ctx: Context, seq: int) -> AuditEventRead:
    """One audit record in full: decision, reason, error, request and details."""
    row = require(ctx.db.get(AuditEvent, seq), f"audit record {seq}",
                  code="audit_event_not_found")
    return AuditEventRead.model_validate(row, from_attributes=True)


def _reads_whole_trail(ctx: Context) -> bool:
    """Organisation-wide readers also see records about accounts that do not exist (a
    refused attempt to create one, a probe for a name) and unauthenticated requests."""
    return allowed(ctx, "audit:ReadEvents", [ou_target("/", TRAIL)])[0]


def _readable_accounts(ctx: Context) -> list[str]:
    names = [a.name for a in org.inventory_accounts(ctx.db)]
    targets = [account_target(n, crn(LOG_ARCHIVE, "audit", "event", f"{n}/*")) for n in names]
    return [n for n, ok in zip(names, allowed(ctx, "audit:ReadEvents", targets), strict=True)
            if ok]


@operation("audit:VerifyTrail", "read", target=_trail)
def verify_trail(ctx: Context) -> VerifyReport:
    """Recompute the hash chain, check it against every signed checkpoint, and report the
    first record that was changed, removed, reordered or forged (and the faults after it)."""
    cp = _checkpoint.of(ctx.runtime)
    found = _checkpoint.examine(ctx.db, cp, ctx.runtime.audit_key)
    walked, signed = found.walked, found.checkpoints
    report = VerifyReport(ok=True, records=walked.records, head_seq=walked.head_seq,
                          first_bad_seq=None, problem=None, checkpoints=len(signed),
                          last_checkpoint_seq=signed[-1].seq if signed else None,
                          checkpoint_key_id=cp.signer.key_id,
                          faults=[f.to_dict() for f in found.faults])
    if found.faults:
        first = found.faults[0]
        report.ok, report.first_bad_seq, report.problem = False, first.seq, first.problem
        report.records = max(0, min(walked.records, first.seq - 1))
    elif not signed and walked.head_seq > 0:
        report.ok = False
        report.problem = (f"no signed checkpoint in {cp.store.location}: without one, records "
                          "removed from the end of the trail cannot be told; sign one (a running "
                          "server signs them on its own)")
    return report


# read_only: it changes nothing in the database (the checkpoint is a file elsewhere), so it
# does not hold the database's write lock while it checks the trail.
@operation("audit:CheckpointTrail", "read", target=_trail, read_only=True)
def checkpoint_trail(ctx: Context) -> CheckpointRead | None:
    """Sign the trail's head now, after verifying the records since the last checkpoint;
    nothing new to sign answers the last checkpoint."""
    made = _checkpoint.write(ctx.runtime)
    if made is None:
        signed, _ = _checkpoint.load(_checkpoint.of(ctx.runtime))
        made = signed[-1] if signed else None
    if made is not None:
        ctx.audit_details["checkpoint"] = {"number": made.number, "seq": made.seq,
                                           "faults": len(made.faults)}
    return CheckpointRead(**made.to_dict()) if made else None


@operation("audit:ListCheckpoints", "read", target=_trail)
def list_checkpoints(ctx: Context, *, page: PageParams | None = None) -> CheckpointPage:
    """Signed checkpoints of the trail, newest first, with the public key that signs them."""
    page = page or PageParams()
    cp = _checkpoint.of(ctx.runtime)
    signed, _ = _checkpoint.load(cp)
    newest = signed[::-1][page.offset:page.offset + page.limit]
    return CheckpointPage(items=[CheckpointRead(**c.to_dict()) for c in newest],
                          total=len(signed), limit=page.limit, offset=page.offset,
                          location=cp.store.location, key_id=cp.signer.key_id,
                          public_key=cp.signer.public_pem)


@operation("audit:StopTrail", "write", target=_trail)
def stop_trail(ctx: Context) -> None:
    """Stop recording (always refused: the trail cannot be stopped)."""
    raise Denied("the audit trail cannot be stopped", code="trail_protected")


@operation("audit:DeleteEvents", "write", target=_trail)
def delete_events(ctx: Context, *, before: str | None = None) -> None:
    """Delete audit records (always refused: records are kept)."""
    raise Denied("audit records cannot be deleted", code="trail_protected")


Checkpointer = _checkpoint.Checkpointer


def install(runtime: Runtime) -> None:
    """Load the checkpoint signing key and open the checkpoint store: a key that cannot be
    read refuses to start, as an empty audit key does."""
    _checkpoint.install(runtime)
