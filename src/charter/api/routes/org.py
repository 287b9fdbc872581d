"""Organisation routes: OUs, accounts, blueprints."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from charter.api.deps import Ctx, PageDep
from charter.org import service
from charter.org.schemas import (
    AccountCreate,
    AccountPage,
    AccountRead,
    AccountUpdate,
    BlueprintPage,
    BlueprintRead,
    OUCreate,
    OUNode,
)

router = APIRouter(prefix="/v1", tags=["organisation"])


@router.get("/org/ous")
def get_ou_tree(ctx: Ctx) -> OUNode:
    """The OU tree with the accounts in each OU."""
    return service.get_ou_tree(ctx)


@router.post("/org/ous", status_code=201)
def create_ou(body: OUCreate, ctx: Ctx) -> OUNode:
    """Add an OU under an existing one."""
    return service.create_ou(ctx, body)


@router.get("/org/blueprints")
def list_blueprints(ctx: Ctx, page: PageDep) -> BlueprintPage:
    """The blueprints accounts can be vended from."""
    return service.list_blueprints(ctx, page=page)


@router.get("/org/blueprints/{blueprint}")
def get_blueprint(blueprint: str, ctx: Ctx) -> BlueprintRead:
    """One blueprint with the baseline it applies."""
    return service.describe_blueprint(ctx, blueprint)


@router.post("/accounts", status_code=201)
def create_account(body: AccountCreate, ctx: Ctx) -> AccountRead:
    """Vend an account from a blueprint and apply its baseline."""
    return service.create_account(ctx, body)


@router.get("/accounts")
def list_accounts(ctx: Ctx, page: PageDep, ou: str | None = None,
                  status: Literal["active", "closed"] | None = None) -> AccountPage:
    """Accounts the caller may describe."""
    return service.list_accounts(ctx, ou=ou, status=status, page=page)


@router.get("/accounts/{account}")
def get_account(account: str, ctx: Ctx) -> AccountRead:
    """One account with its tags, budget and baseline."""
    return service.get_account(ctx, account)


@router.patch("/accounts/{account}")
def update_account(account: str, body: AccountUpdate, ctx: Ctx) -> AccountRead:
    """Change an account's tags or budget."""
    return service.update_account(ctx, account, body)


@router.post("/accounts/{account}/close")
def close_account(account: str, ctx: Ctx) -> AccountRead:
    """Close an account."""
    return service.close_account(ctx, account)
