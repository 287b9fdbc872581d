"""`charter init`: migrate the store, create the reference organisation, the bootstrap
administrator and its token, all as governed operations of the platform itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from charter.access.authorizer import ou_target
from charter.access.pipeline import operation
from charter.controls import service as controls
from charter.core.context import SYSTEM_PRINCIPAL, Context, Runtime
from charter.core.db import migrate
from charter.core.events import dispatch_pending
from charter.core.ids import crn, new_request_id
from charter.errors import CharterError
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
    admin_token: str | None = None


@operation("identity:Bootstrap", "write",
           target=lambda ctx, *a: ou_target("/", crn("management", "identity", "user", ADMIN)),
           changes_policy=True)
def _bootstrap_identity(ctx: Context, result: InitResult, want_token: bool) -> None:
    """Create central groups with org-wide assignments, the administrator and its token."""
    for group, (permission_set, description) in CENTRAL_GROUPS.items():
        existed = not identity.ensure_group(ctx, group, description)
        identity.assign(ctx, group=group, permission_set=permission_set, ou="/")
        line = f"group {group} ({permission_set} on /)"
        (result.found if existed else result.created).append(line)
    existed = not identity.ensure_user(ctx, ADMIN, [ADMIN_GROUP])
    (result.found if existed else result.created).append(f"user {ADMIN}")
    for line in controls.enable_defaults(ctx):
        result.created.append(line)
    if want_token:
        token = identity.issue_token(ctx, ADMIN, 365, "bootstrap administrator (charter init)")
        result.admin_token = token.token
        result.created.append(f"token {token.id} for {ADMIN}")


def initialize(runtime: Runtime, *, existing_token: str | None = None) -> InitResult:
    """Idempotent: a second run creates nothing and reports what it found.

    A new administrator token is issued unless `existing_token` still authenticates.
    """
    migrate(runtime.settings.resolved_database_url)
    ctx = Context(runtime, SYSTEM_PRINCIPAL, new_request_id(), source="init")
    report = org.init_organization(ctx)
    result = InitResult(created=list(report.created), found=list(report.found))
    want_token = True
    if existing_token:
        try:
            want_token = identity.authenticate(runtime, existing_token).name != ADMIN
        except CharterError:
            want_token = True
    _bootstrap_identity(ctx, result, want_token)
    if not want_token:
        result.found.append(f"token for {ADMIN} in the profile")
    if not any(line.startswith("control") for line in result.created):
        result.found.append("default controls")
    dispatch_pending(runtime)
    return result
