"""SDK part of the audit trail: events, verify and checkpoints."""

from __future__ import annotations

from charter.sdk._part import Json, Part


class _Audit(Part):
    def events(self, *, account: str | None = None, principal: str | None = None,
               action: str | None = None, decision: str | None = None,
               since: str | None = None, until: str | None = None,
               request_id: str | None = None, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/audit/events", params={
            "account": account, "principal": principal, "action": action,
            "decision": decision, "since": since, "until": until, "request_id": request_id,
            "limit": limit, "offset": offset})

    def verify(self) -> Json:
        return self._c.request("POST", "/v1/audit/verify")

    def checkpoint(self) -> Json:
        """Sign the trail's head now; answers the new (or latest) checkpoint."""
        return self._c.request("POST", "/v1/audit/checkpoints")

    def checkpoints(self, *, limit: int = 100, offset: int = 0) -> Json:
        return self._c.request("GET", "/v1/audit/checkpoints",
                               params={"limit": limit, "offset": offset})

    def stop(self) -> Json:
        return self._c.request("POST", "/v1/audit/trail/stop")

    def delete(self, *, before: str | None = None) -> Json:
        return self._c.request("DELETE", "/v1/audit/events", params={"before": before})


PARTS: dict[str, type[Part]] = {"audit": _Audit}
