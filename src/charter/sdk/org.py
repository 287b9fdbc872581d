"""SDK part of the organisation: the OU tree, blueprints and accounts."""

from __future__ import annotations

from charter.org.schemas import AccountRead, BlueprintRead, OUNode
from charter.sdk._part import Pager, Part, q


class Org(Part):
    """The organisation: its OU tree and the blueprints accounts are vended from
    (`client.org`)."""

    def tree(self) -> OUNode:
        """The OU tree from the root, with the accounts in each OU."""
        return self._typed(OUNode, "GET", "/v1/org/ous")

    def create_ou(self, path: str, description: str = "") -> OUNode:
        """Add an OU (e.g. `/workloads/ml/sandbox`) under an existing one."""
        return self._typed(OUNode, "POST", "/v1/org/ous",
                           json={"path": path, "description": description})

    def blueprints(self, *, limit: int = 100, offset: int = 0) -> Pager[BlueprintRead]:
        """The blueprints accounts can be vended from."""
        return self._pages(BlueprintRead, "/v1/org/blueprints",
                           {"limit": limit, "offset": offset})

    def blueprint(self, name: str) -> BlueprintRead:
        """One blueprint: where it places accounts and the baseline it applies."""
        return self._typed(BlueprintRead, "GET", f"/v1/org/blueprints/{q(name)}")


class Accounts(Part):
    """Accounts, the isolation boundary: vend, list, describe, update, close
    (`client.accounts`)."""

    def create(self, name: str, *, ou: str, blueprint: str, tags: dict[str, str] | None = None,
               budget: float | None = None) -> AccountRead:
        """Vend an account from a blueprint and apply its baseline."""
        return self._typed(AccountRead, "POST", "/v1/accounts", json={
            "name": name, "ou": ou, "blueprint": blueprint, "tags": tags or {},
            "budget": budget})

    def list(self, *, ou: str | None = None, status: str | None = None, limit: int = 100,
             offset: int = 0, cursor: str | None = None) -> Pager[AccountRead]:
        """Accounts you may describe, by name, optionally under one OU or of one status."""
        return self._pages(AccountRead, "/v1/accounts", {
            "ou": ou, "status": status, "limit": limit, "offset": offset, "cursor": cursor})

    def get(self, name: str) -> AccountRead:
        """One account with its tags, budget and baseline."""
        return self._typed(AccountRead, "GET", f"/v1/accounts/{q(name)}")

    def update(self, name: str, *, tags: dict[str, str] | None = None,
               remove_tags: list[str] | None = None, budget: float | None = None) -> AccountRead:
        """Set or remove tags, or change the monthly budget."""
        return self._typed(AccountRead, "PATCH", f"/v1/accounts/{q(name)}", json={
            "tags": tags or {}, "remove_tags": remove_tags or [], "budget": budget})

    def close(self, name: str) -> AccountRead:
        """Close an account: its records stay, new work is refused. Closing it again
        raises `account_closed`."""
        return self._typed(AccountRead, "POST", f"/v1/accounts/{q(name)}/close")


PARTS: dict[str, type[Part]] = {"org": Org, "accounts": Accounts}
