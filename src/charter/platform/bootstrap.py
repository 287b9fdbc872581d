"""`charter init`: migrate the store, create the reference organisation, the bootstrap
administrator and its token, all as governed operations of the platform itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from charter.access.authorizer import Target, ou_target
from charter.access.pipeline import operation
from charter.audit import service as audit
from charter.controls import service as controls
from charter.core.accounts import MANAGEMENT
from charter.core.context import SYSTEM_PRINCIPAL, Context, Runtime
from charter.core.db import migrate
from charter.core.events import dispatch_pending
from charter.core.ids import crn, new_request_id
from charter.identity import service as identity
from charter.org import service as org

ADMIN = "admin"
ADMIN_GROUP = "cloud-engineering"
CENTRAL_GROUPS = {
    ADMIN_GROUP: ("cloud-admin", "Central cloud engineering: organisation and guardrails"),
    "security-auditors": ("auditor", "IT auditors: read the trail, change nothing"),
    "governance-officers": ("governance-officer", "ML governance: model cards, compliance"),
    "ml-platform-engineering": ("ml-platform-admin", "Shared ML services"),
    "data-platform-engineering": ("data-lake-admin", "The data lake"),
}


@dataclass
class InitResult:
    created: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # only `--recover-admin` restores them
    admin_token: str | None = None
    checkpoint_seq: int | None = None


def _admin_target(ctx: Context, *args: object) -> Target:
    return ou_target("/", crn(MANAGEMENT, "identity", "user", ADMIN))


def _admin_assignment() -> str:
    return f"assignment {CENTRAL_GROUPS[ADMIN_GROUP][0]} on / for group {ADMIN_GROUP}"


def _admin_membership() -> str:
    return f"membership of {ADMIN} in {ADMIN_GROUP}"


@operation("identity:Bootstrap", "write", target=_admin_target, changes_policy=True)
def _bootstrap_identity(ctx: Context, result: InitResult, new_token: bool) -> None:
    """Create central groups with org-wide assignments, the administrator and its token.

    Anything of the baseline that was removed since is restored and reported as created,
    except what makes someone an administrator: once the platform is initialised, the
    administrator's membership of cloud-engineering and that group's cloud-admin on / are
    reported missing, never restored silently (`--recover-admin` restores them, audited).
    """
    initialised = (identity.user_exists(ctx.db, ADMIN)
                   or identity.group_exists(ctx.db, ADMIN_GROUP))
    created: list[str] = []
    missing: list[str] = []
    for group, (permission_set, description) in CENTRAL_GROUPS.items():
        new_group = identity.ensure_group(ctx, group, description)
        if initialised and group == ADMIN_GROUP:
            new_assignment = False
            if identity.find_assignment(ctx.db, group=group, permission_set=permission_set,
                                        ou="/") is None:
                missing.append(_admin_assignment())
        else:
            _, new_assignment = identity.assign(ctx, group=group,
                                                permission_set=permission_set, ou="/")
        line = f"group {group} ({permission_set} on /)"
        (created if new_group or new_assignment else result.found).append(line)
    new_admin = identity.ensure_user(ctx, ADMIN, [] if initialised else [ADMIN_GROUP])
    (created if new_admin else result.found).append(f"user {ADMIN}")
    if initialised and ADMIN_GROUP not in identity.groups_of(ctx.db, ADMIN):
        missing.append(_admin_membership())
    created += controls.enable_defaults(ctx)
    if new_admin or new_token:
        token = identity.issue_token(ctx, ADMIN, 365, "bootstrap administrator (charter init)")
        result.admin_token = token.token
        created.append(f"token {token.id} for {ADMIN}")
    result.created += created
    result.missing += missing
    ctx.audit_details.update({"created": created, "missing": missing})


@operation("identity:RecoverAdministrator", "write", target=_admin_target,
           changes_policy=True)
def _recover_admin(ctx: Context, result: InitResult) -> None:
    """Restore the administrator: user, group membership, cloud-admin on / and a token.

    The way back, on the host, from an organisation nobody can administer any more. It
    also removes preventive controls enabled on the management account (they never apply
    there). The audit record lists what was restored and removed, and every user who
    gained cloud-admin on / through it.
    """
    permission_set, description = CENTRAL_GROUPS[ADMIN_GROUP]
    before = identity.administrators(ctx.db)
    restored = []
    if identity.ensure_group(ctx, ADMIN_GROUP, description):
        restored.append(f"group {ADMIN_GROUP}")
    _, new_assignment = identity.assign(ctx, group=ADMIN_GROUP, permission_set=permission_set,
                                        ou="/")
    if new_assignment:
        restored.append(_admin_assignment())
    was_member = ADMIN_GROUP in identity.groups_of(ctx.db, ADMIN)
    if identity.ensure_user(ctx, ADMIN, [ADMIN_GROUP]):
        restored.append(f"user {ADMIN}")
    if not was_member:
        restored.append(_admin_membership())
    removed = controls.remove_management_enablements(ctx)
    gained = sorted(identity.administrators(ctx.db) - before)
    token = identity.issue_token(ctx, ADMIN, 365, "administrator recovery (charter init)")
    result.admin_token = token.token
    result.recovered += [*restored, *(f"removed {line}" for line in removed),
                         *(f"user {name} gains {permission_set} on /" for name in gained),
                         f"token {token.id} for {ADMIN}"]
    ctx.audit_details.update({"restored": restored, "removed_controls": removed,
                              "new_administrators": gained, "token": token.id})


def initialize(runtime: Runtime, *, new_admin_token: bool = False,
               recover_admin: bool = False) -> InitResult:
    """Idempotent: a second run creates nothing and reports what it found.

    The administrator's token is issued when the administrator is created, and again only
    when asked for (`new_admin_token`, the recovery path for a lost token; audited).
    `recover_admin` first restores the administrator's access (see `_recover_admin`).
    """
    migrate(runtime.settings.resolved_database_url)
    request_id = new_request_id()

    def context() -> Context:  # one per operation: each record's details are its own
        return Context(runtime, SYSTEM_PRINCIPAL, request_id, source="init")

    report = org.init_organization(context())
    result = InitResult(created=list(report.created), found=list(report.found))
    if recover_admin:
        _recover_admin(context(), result)
        new_admin_token = False
    _bootstrap_identity(context(), result, new_admin_token)
    if not any(line.startswith("control") for line in result.created):
        result.found.append("default controls")
    dispatch_pending(runtime)
    # A signed checkpoint from the start: a trail emptied later is told, not taken as new.
    checkpoint = audit.checkpoint_trail(context())
    result.checkpoint_seq = checkpoint.seq if checkpoint else None
    return result
