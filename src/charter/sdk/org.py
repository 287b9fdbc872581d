"""SDK part of the organisation: the OU tree, blueprints and accounts."""

from __future__ import annotations

from charter.sdk._part import Json, Part, q


class _Org(Part):
    def tree(self) -> Json:
        return self._c.request("GET", "/v1/org/ous")

    def create_ou(self, path: str, description: str = "") -> Json:
        return self._c.request("POST", "/v1/org/ous", json={"path": path,
                                                            "description": description})

    def blueprints(self) -> Json:
        return self._c.request("GET", "/v1/org/blueprints")


class _Accounts(Part):
    def create(self, name: str, *, ou: str, blueprint: str, tags: dict[str, str] | None = None,
               budget: float | None = None) -> Json:
        return self._c.request("POST", "/v1/accounts", json={
            "name": name, "ou": ou, "blueprint": blueprint, "tags": tags or {},
            "budget": budget})

    def list(self, *, ou: str | None = None, status: str | None = None, limit: int = 100,
             offset: int = 0, cursor: str | None = None) -> Json:
        return self._c.request("GET", "/v1/accounts", params={
            "ou": ou, "status": status, "limit": limit, "offset": offset, "cursor": cursor})

    def get(self, name: str) -> Json:
        return self._c.request("GET", f"/v1/accounts/{q(name)}")

    def update(self, name: str, *, tags: dict[str, str] | None = None,
               remove_tags: list[str] | None = None, budget: float | None = None) -> Json:
        return self._c.request("PATCH", f"/v1/accounts/{q(name)}", json={
            "tags": tags or {}, "remove_tags": remove_tags or [], "budget": budget})

    def close(self, name: str) -> Json:
        return self._c.request("POST", f"/v1/accounts/{q(name)}/close")


PARTS: dict[str, type[Part]] = {"org": _Org, "accounts": _Accounts}
