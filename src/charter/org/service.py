"""Organisation service: the OU tree, accounts and account vending from blueprints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.access.authorizer import Fragment, account_target, ou_target, register_source, uid
from charter.access.pipeline import allowed, emit, operation
from charter.core.accounts import LOG_ARCHIVE, MANAGEMENT
from charter.core.clock import now
from charter.core.context import Context
from charter.core.db import kept
from charter.core.ids import check_name, crn
from charter.core.lookup import require
from charter.core.pagination import PageParams, page_of, page_of_list
from charter.errors import Conflict, Invalid, NotFound
from charter.org import reference
from charter.org.blueprints import BLUEPRINTS, Blueprint, check_account_name, get_blueprint
from charter.org.orm import Account, OrgUnit
from charter.org.schemas import (
    AccountCreate,
    AccountPage,
    AccountRead,
    AccountUpdate,
    BlueprintPage,
    BlueprintRead,
    InitReport,
    OUCreate,
    OUNode,
    normalize_ou_path,
)

BaselineStep = Callable[[Context, str, Blueprint], dict[str, Any] | None]
_BASELINE_STEPS: list[BaselineStep] = []


def check_naming(blueprint: str, account: str) -> None:
    """ControlViolation (CHARTER-PRO-2) unless `account` follows `blueprint`'s naming."""
    check_account_name(get_blueprint(blueprint), account)


def register_baseline_step(step: BaselineStep) -> None:
    """Another domain adds to every vended account's baseline, in the vending transaction.

    A step gets the context, the new account's name and its blueprint; what it returns is
    merged into the account's recorded baseline (for example `{"assignments": {...}}`)."""
    _BASELINE_STEPS.append(step)
ORG_CRN = crn(MANAGEMENT, "org", "organization", "root")


def _ou_crn(path: str) -> str:
    return crn(MANAGEMENT, "org", "ou", path.strip("/") or "root")


def account_crn(name: str) -> str:
    return crn(name, "org", "account", name)


def _root(ctx: Context, *args: Any, **kwargs: Any):
    return ou_target("/", ORG_CRN)


def _read(account: Account) -> AccountRead:
    return AccountRead(
        name=account.name, crn=account_crn(account.name), ou=account.ou_path,
        blueprint=account.blueprint, status=account.status, tags=account.tags,
        budget=account.budget_monthly, baseline=account.baseline,
        created_by=account.created_by, created_at=account.created_at,
        closed_at=account.closed_at,
    )


# -- lookups other domains use inside an operation ------------------------------------

def require_account(session: Session, name: str) -> Account:
    """The account called `name`, or NotFound."""
    return require(kept(session, session.get(Account, name)), f"account {name!r}",
                   code="account_not_found")


def account_exists(session: Session, name: str) -> bool:
    return session.get(Account, name) is not None


def require_ou(session: Session, path: str) -> str:
    """The normalized path of the OU at `path`, or NotFound."""
    normalized = normalize_ou_path(path)
    require(session.get(OrgUnit, normalized), f"OU {path!r}", code="ou_not_found")
    return normalized


def target_in_account(session: Session, name: str, resource: str):
    """Cedar target for `resource` inside account `name`.

    An account that does not exist is decided as somewhere in the organisation (the
    root OU): only organisation-wide principals get past Cedar and then learn it does not
    exist; everyone else gets the same refusal as for an account that is not theirs.
    """
    check_name(name, "account")
    if kept(session, session.get(Account, name)) is None:
        return ou_target("/", resource, attrs={"account": name})
    return account_target(name, resource)


def account_target_of(session: Session, name: str, module: str = "org", type_: str = "account",
                      path: str | None = None):
    """Cedar target for something of `module` inside account `name`."""
    return target_in_account(session, name, crn(name, module, type_, path or name))


def inventory_accounts(session: Session) -> list[AccountRead]:
    """Every account, for detective controls and listings inside an operation."""
    return [_read(a) for a in session.scalars(select(Account).order_by(Account.name))]


def ou_ancestors(session: Session, path: str) -> list[str]:
    """`/a/b` -> [`/a/b`, `/a`, `/`]."""
    chain = [path]
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        chain.append(path)
    return chain


def account_scopes(session: Session, name: str) -> list[str]:
    """The account itself and every OU above it, nearest first (for enablements)."""
    account = require_account(session, name)
    return [name, *ou_ancestors(session, account.ou_path)]


# -- Cedar entities --------------------------------------------------------------------

def _cedar(session: Session) -> Fragment:
    entities = []
    for ou in session.scalars(select(OrgUnit)):
        parents = [uid("OU", ou.parent)] if ou.parent else []
        entities.append({"uid": uid("OU", ou.path), "attrs": {}, "parents": parents})
    for account in session.scalars(select(Account)):
        entities.append({
            "uid": uid("Account", account.name),
            "attrs": {"name": account.name, "tags": dict(account.tags),
                      "status": account.status},
            "parents": [uid("OU", account.ou_path)],
        })
    return Fragment(entities=entities, policies=[_CATALOGUE])


# Blueprints are a catalogue every signed-in principal may read, one by one as in the
# listing (`base:catalogues`).
_CATALOGUE = """@id("org:catalogue")
permit(principal, action == Action::"org:DescribeBlueprint", resource);"""


register_source("org", _cedar)


# -- operations ------------------------------------------------------------------------

@operation("org:InitOrganization", "write", target=_root, changes_policy=True)
def init_organization(ctx: Context) -> InitReport:
    """Create the reference OU tree and central accounts; report what already existed."""
    created, found = [], []
    for path, description in reference.OUS.items():
        if ctx.db.get(OrgUnit, path) is not None:
            found.append(f"ou {path}")
            continue
        parent = None if path == "/" else (path.rsplit("/", 1)[0] or "/")
        ctx.db.add(OrgUnit(path=path, name=path.rsplit("/", 1)[-1] or "root", parent=parent,
                           description=description, created_at=now()))
        ctx.db.flush()
        created.append(f"ou {path}")
    for name, (ou, _description) in reference.CENTRAL_ACCOUNTS.items():
        if ctx.db.get(Account, name) is not None:
            found.append(f"account {name}")
            continue
        _add_account(ctx, AccountCreate(name=name, ou=ou, blueprint="central",
                                        tags=dict(reference.CENTRAL_TAGS)))
        created.append(f"account {name}")
    return InitReport(created=created, found=found)


def _proposed_account(ctx: Context, body: AccountCreate) -> dict[str, Any]:
    return {"name": body.name, "tags": body.tags, "blueprint": body.blueprint,
            "ou": normalize_ou_path(body.ou)}


def _create_target(ctx: Context, body: AccountCreate):
    check_name(body.name, "account")
    path = require_ou(ctx.db, body.ou)
    return ou_target(path, account_crn(body.name))


@operation("org:CreateAccount", "write", target=_create_target, proposed=_proposed_account,
           changes_policy=True)
def create_account(ctx: Context, body: AccountCreate) -> AccountRead:
    """Vend an account from a blueprint and apply its baseline."""
    return _add_account(ctx, body)


def _add_account(ctx: Context, body: AccountCreate) -> AccountRead:
    check_name(body.name, "account")
    blueprint = get_blueprint(body.blueprint)
    ou = require_ou(ctx.db, body.ou)
    blueprint.check_placement(ou)
    if ctx.db.get(Account, body.name) is not None:
        raise Conflict(f"account {body.name!r} already exists", code="account_exists")
    account = Account(
        name=body.name, ou_path=ou, blueprint=blueprint.name, status="active",
        tags=dict(body.tags),
        budget_monthly=blueprint.budget if body.budget is None else body.budget,
        baseline={}, created_by=ctx.principal.name, created_at=now(),
    )
    ctx.db.add(account)
    ctx.db.flush()
    baseline: dict[str, Any] = {}
    for step in _BASELINE_STEPS:
        baseline.update(step(ctx, body.name, blueprint) or {})
    account.baseline = {
        **baseline,
        "budget": {"monthly": account.budget_monthly, "currency": "USD"},
        "logging": {"audit_trail": crn(LOG_ARCHIVE, "audit", "trail", "main")},
        "guardrails": list(blueprint.controls),
    }
    emit(ctx, "AccountCreated", body.name,
         {"account": body.name, "ou": ou, "blueprint": blueprint.name,
          "controls": list(blueprint.controls)})
    return _read(account)


@operation("org:ListAccounts", "read", target=_root)
def list_accounts(ctx: Context, *, ou: str | None = None, status: str | None = None,
                  page: PageParams | None = None) -> AccountPage:
    """Accounts the caller may describe, optionally under one OU."""
    query = select(Account)
    if ou is not None:
        path = require_ou(ctx.db, ou)
        query = query.where((Account.ou_path == path) | Account.ou_path.like(f"{path}/%")
                            if path != "/" else Account.ou_path.is_not(None))
    if status:
        query = query.where(Account.status == status)

    def describable(accounts: list[Account]) -> list[bool]:
        return allowed(ctx, "org:DescribeAccount",
                       [account_target(a.name, account_crn(a.name)) for a in accounts])

    return page_of(AccountPage, ctx.db, query, key=(Account.name,), params=page,
                   read=lambda rows: [_read(a) for a in rows], keep=describable)


@operation("org:DescribeAccount", "read",
           target=lambda ctx, name: account_target_of(ctx.db, name))
def get_account(ctx: Context, name: str) -> AccountRead:
    """One account with its tags, budget and baseline."""
    return _read(require_account(ctx.db, name))


def _proposed_update(ctx: Context, name: str, body: AccountUpdate) -> dict[str, Any]:
    account = require_account(ctx.db, name)
    tags = {k: v for k, v in {**account.tags, **body.tags}.items() if k not in body.remove_tags}
    return {"name": name, "tags": tags, "blueprint": account.blueprint, "ou": account.ou_path}


@operation("org:UpdateAccount", "write",
           target=lambda ctx, name, body: account_target_of(ctx.db, name),
           proposed=_proposed_update, changes_policy=True)
def update_account(ctx: Context, name: str, body: AccountUpdate) -> AccountRead:
    """Change an account's tags or budget."""
    account = require_account(ctx.db, name)
    _require_active(account)
    unknown = [k for k in body.remove_tags if k not in account.tags]
    if unknown:
        raise Invalid(f"account {name} has no tag {unknown[0]!r}", code="tag_not_found")
    account.tags = _proposed_update(ctx, name, body)["tags"]
    if body.budget is not None:
        account.budget_monthly = body.budget
    emit(ctx, "AccountUpdated", name, {"account": name})
    return _read(account)


def _require_active(account: Account) -> None:
    if account.status != "active":
        raise Conflict(f"account {account.name} is {account.status}", code="account_closed")


@operation("org:CloseAccount", "write",
           target=lambda ctx, name: account_target_of(ctx.db, name), changes_policy=True)
def close_account(ctx: Context, name: str) -> AccountRead:
    """Close an account: it keeps its records but accepts no new work."""
    account = require_account(ctx.db, name)
    _require_active(account)
    if name in reference.CENTRAL_ACCOUNTS:
        raise Invalid(f"{name} is a central account and cannot be closed",
                      code="central_account")
    account.status, account.closed_at = "closed", now()
    emit(ctx, "AccountClosed", name, {"account": name})
    return _read(account)


@operation("org:DescribeOrganization", "read", target=_root)
def get_ou_tree(ctx: Context) -> OUNode:
    """The OU tree with the accounts in each OU."""
    nodes = {ou.path: OUNode(path=ou.path, name=ou.name, description=ou.description)
             for ou in ctx.db.scalars(select(OrgUnit).order_by(OrgUnit.path))}
    if "/" not in nodes:
        raise NotFound("the organisation is not initialised",
                       code="not_initialized")
    for path, node in nodes.items():
        if path != "/":
            nodes[path.rsplit("/", 1)[0] or "/"].children.append(node)
    for account in ctx.db.scalars(select(Account).order_by(Account.name)):
        nodes[account.ou_path].accounts.append(account.name)
    return nodes["/"]


def _ou_create_target(ctx: Context, body: OUCreate):
    path = normalize_ou_path(body.path)
    if path == "/":
        raise Invalid("the root OU already exists", code="invalid_ou_path")
    parent = require_ou(ctx.db, path.rsplit("/", 1)[0] or "/")
    return ou_target(parent, _ou_crn(path))


@operation("org:CreateOU", "write", target=_ou_create_target, changes_policy=True)
def create_ou(ctx: Context, body: OUCreate) -> OUNode:
    """Add an OU under an existing one."""
    path = normalize_ou_path(body.path)
    if ctx.db.get(OrgUnit, path) is not None:
        raise Conflict(f"OU {path} already exists", code="ou_exists")
    name = path.rsplit("/", 1)[-1]
    ctx.db.add(OrgUnit(path=path, name=name, parent=path.rsplit("/", 1)[0] or "/",
                       description=body.description, created_at=now()))
    emit(ctx, "OUCreated", MANAGEMENT, {"ou": path})
    return OUNode(path=path, name=name, description=body.description)


def _blueprint_read(b: Blueprint) -> BlueprintRead:
    return BlueprintRead(name=b.name, description=b.description, ous=list(b.ous),
                         name_suffix=b.name_suffix, budget=b.budget,
                         assignments=dict(b.assignments), controls=list(b.controls))


@operation("org:ListBlueprints", "read", target=_root)
def list_blueprints(ctx: Context, *, page: PageParams | None = None) -> BlueprintPage:
    """The blueprints accounts can be vended from."""
    return page_of_list(BlueprintPage, [_blueprint_read(b) for b in BLUEPRINTS.values()], page)


@operation("org:DescribeBlueprint", "read", target=_root)
def describe_blueprint(ctx: Context, name: str) -> BlueprintRead:
    """One blueprint: where it places accounts and the baseline it applies."""
    return _blueprint_read(get_blueprint(name))
