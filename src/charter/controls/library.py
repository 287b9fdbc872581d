"""The control library: every control Charter knows, in one table.

Adding a control is one entry here: an id, a plain-language description, and one of
- `policy`: a Cedar forbid template (preventive), scoped to where it is enabled;
- `check` + `actions`: a function refusing a proposed resource (proactive);
- `rule`: a function listing violations over the inventory (detective).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from charter.core.accounts import MANAGEMENT
from charter.core.clock import now
from charter.core.ids import crn
from charter.errors import ControlViolation
from charter.identity import service as identity
from charter.org import service as org
from charter.settings import Settings

PREVENTIVE, PROACTIVE, DETECTIVE = "preventive", "proactive", "detective"


@dataclass(frozen=True)
class Violation:
    account: str
    resource: str
    message: str


Check = Callable[[dict[str, Any]], str | None]  # proposed resource -> reason or None
Rule = Callable[[Session, Settings], list[Violation]]


@dataclass(frozen=True)
class Control:
    id: str
    name: str
    kind: str
    description: str
    mandatory: bool = False
    policy: str | None = None  # Cedar forbid with {scope}
    actions: tuple[str, ...] = ()
    check: Check | None = None
    rule: Rule | None = None
    # Preventive controls spare the management account, as cloud organisations' guardrails
    # do: a forbid there could stop the administrator repairing anything, and no recovery
    # would help. Only a guardrail that can never lock the administrator out binds it.
    binds_management: bool = False

    def cedar(self, scope: str) -> str:
        kind = "OU" if scope.startswith("/") else "Account"
        body = (self.policy or "").replace("{scope}", f'{kind}::"{scope}"')
        if not self.binds_management:
            body = body.rstrip().removesuffix(";") + (
                f' unless {{ resource == Account::"{MANAGEMENT}" }};')
        return f'@id("control:{self.id}@{scope}")\n{body}'


# -- proactive checks ------------------------------------------------------------------

def _required_tags(proposed: dict[str, Any]) -> str | None:
    tags = proposed.get("tags") or {}
    missing = [k for k in ("owner", "cost-center") if not tags.get(k)]
    if missing:
        return (f"account {proposed['name']} lacks the required tag(s) {', '.join(missing)}: "
                "give it the tags owner=<team> and cost-center=<code>")
    return None


def _naming(proposed: dict[str, Any]) -> str | None:
    try:
        org.check_naming(proposed["blueprint"], proposed["name"])
    except ControlViolation as violation:
        return violation.message.split(": ", 1)[1]
    return None


# -- detective rules -------------------------------------------------------------------

def _owner_and_budget(session: Session, settings: Settings) -> list[Violation]:
    out = []
    for account in org.inventory_accounts(session):
        if account.status != "active":
            continue
        problems = []
        if not account.tags.get("owner"):
            problems.append("no owner tag")
        if not account.budget:
            problems.append("no budget")
        if problems:
            out.append(Violation(account.name, account.crn,
                                 f"account {account.name} has {' and '.join(problems)}"))
    return out


def _token_rotation(session: Session, settings: Settings) -> list[Violation]:
    limit = settings.identity.token_rotation_days
    out = []
    for token in identity.inventory_tokens(session):
        age = (now() - token.created_at).days
        if token.status == "active" and age >= limit:
            out.append(Violation(MANAGEMENT, crn(MANAGEMENT, "identity", "token", token.id),
                                 f"token {token.id} of {token.user} is {age} days old "
                                 f"(rotate every {limit} days)"))
    return out


def _user_in_group(session: Session, settings: Settings) -> list[Violation]:
    return [Violation(MANAGEMENT, u.crn, f"user {u.name} belongs to no group")
            for u in identity.inventory_users(session) if not u.groups]


CONTROLS: dict[str, Control] = {
    c.id: c
    for c in (
        Control("CHARTER-PREV-1", "audit-trail-protected", PREVENTIVE,
                "Nobody may stop the audit trail or delete audit records.", mandatory=True,
                binds_management=True,  # forbids only what nobody may do anywhere
                policy='forbid(principal, action in [Action::"audit:StopTrail", '
                       'Action::"audit:DeleteEvents"], resource in {scope});'),
        Control("CHARTER-PREV-2", "central-guardrails", PREVENTIVE,
                "Only central cloud engineering may change guardrails or the OU tree.",
                # always lets cloud-engineering through, which `init --recover-admin`
                # puts the administrator back in
                mandatory=True, binds_management=True,
                policy='forbid(principal, action in [Action::"controls:EnableControl", '
                       'Action::"controls:DisableControl", Action::"org:CreateOU"], '
                       'resource in {scope}) unless { principal in Group::"cloud-engineering"'
                       ' || principal is System };'),
        Control("CHARTER-PREV-3", "no-data-scientist-writes-in-prod", PREVENTIVE,
                "Data scientists may not change anything in a production account.",
                # Whoever holds data-scientist in the production account itself, whatever
                # else they hold there; being a data scientist elsewhere does not count.
                policy='forbid(principal, action in Action::"write", resource in {scope}) '
                       'when { resource is Account && principal has roles && '
                       'principal.roles has "data-scientist" && '
                       'principal.roles["data-scientist"].contains(resource.name) };'),
        Control("CHARTER-PRO-1", "account-required-tags", PROACTIVE,
                "Accounts carry `owner` and `cost-center` tags.",
                actions=("org:CreateAccount", "org:UpdateAccount"), check=_required_tags),
        Control("CHARTER-PRO-2", "account-naming", PROACTIVE,
                "Team accounts are named <team>-<stage> after their blueprint (dev, test, prod).",
                actions=("org:CreateAccount",), check=_naming),
        Control("CHARTER-DET-1", "account-owner-and-budget", DETECTIVE,
                "Every account has an owner and a budget.", rule=_owner_and_budget),
        Control("CHARTER-DET-2", "token-rotation", DETECTIVE,
                "No active token is older than the rotation period.", rule=_token_rotation),
        Control("CHARTER-DET-3", "user-in-group", DETECTIVE,
                "Every user belongs to at least one group.", rule=_user_in_group),
    )
}

# Where `charter init` enables each control; blueprints may add more per account.
DEFAULT_ENABLEMENTS: dict[str, tuple[str, ...]] = {
    "CHARTER-PREV-1": ("/",),
    "CHARTER-PREV-2": ("/",),
    "CHARTER-PREV-3": ("/workloads/ml/prod", "/deployments/prod"),
    "CHARTER-PRO-1": ("/",),
    "CHARTER-PRO-2": ("/",),
    "CHARTER-DET-1": ("/",),
    "CHARTER-DET-2": ("/",),
    "CHARTER-DET-3": ("/",),
}
