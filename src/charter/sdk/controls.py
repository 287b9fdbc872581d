"""SDK part of controls: the library, enablements, findings and evaluation."""

from __future__ import annotations

from charter.sdk._part import Json, Part, q


class _Controls(Part):
    def list(self) -> Json:
        return self._c.request("GET", "/v1/controls")

    def enable(self, control_id: str, *, ou: str | None = None,
               account: str | None = None) -> Json:
        return self._c.request("POST", f"/v1/controls/{q(control_id)}/enablements",
                               json={"ou": ou, "account": account})

    def disable(self, control_id: str, *, ou: str | None = None,
                account: str | None = None) -> Json:
        return self._c.request("POST", f"/v1/controls/{q(control_id)}/disable",
                               json={"ou": ou, "account": account})

    def findings(self, *, account: str | None = None, status: str = "open",
                 control: str | None = None, limit: int = 100, offset: int = 0,
                 cursor: str | None = None) -> Json:
        return self._c.request("GET", "/v1/controls/findings", params={
            "account": account, "status": status, "control": control, "limit": limit,
            "offset": offset, "cursor": cursor})

    def evaluate(self) -> Json:
        return self._c.request("POST", "/v1/controls/evaluate")


PARTS: dict[str, type[Part]] = {"controls": _Controls}
