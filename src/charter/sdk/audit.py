"""SDK part of the audit trail: events, verify and checkpoints."""

from __future__ import annotations

from charter.audit.schemas import AuditEventRead, CheckpointPage, CheckpointRead, VerifyReport
from charter.sdk._part import Pager, Part


class Audit(Part):
    """The hash-chained audit trail: every operation, allowed or denied (`client.audit`)."""

    def events(self, *, account: str | None = None, principal: str | None = None,
               action: str | None = None, decision: str | None = None,
               since: str | None = None, until: str | None = None,
               request_id: str | None = None, limit: int = 100, offset: int = 0,
               cursor: str | None = None) -> Pager[AuditEventRead]:
        """Audit records, newest first, of the accounts you may read the trail of;
        `since`/`until` take an ISO time or a duration ago (`1h`, `7d`)."""
        return self._pages(AuditEventRead, "/v1/audit/events", {
            "account": account, "principal": principal, "action": action,
            "decision": decision, "since": since, "until": until, "request_id": request_id,
            "limit": limit, "offset": offset, "cursor": cursor})

    def event(self, seq: int) -> AuditEventRead:
        """One record in full, by its sequence number."""
        return self._typed(AuditEventRead, "GET", f"/v1/audit/events/{int(seq)}")

    def verify(self) -> VerifyReport:
        """Verify the hash chain and the signed checkpoints end to end."""
        return self._typed(VerifyReport, "POST", "/v1/audit/verify")

    def checkpoint(self) -> CheckpointRead | None:
        """Sign the trail's head now; answers the new (or latest) checkpoint, None for an
        empty trail."""
        return self._typed(CheckpointRead | None, "POST", "/v1/audit/checkpoints")

    def checkpoints(self, *, limit: int = 100, offset: int = 0) -> CheckpointPage:
        """Signed checkpoints, newest first, with the public key that signs them."""
        return self._typed(CheckpointPage, "GET", "/v1/audit/checkpoints",
                           params={"limit": limit, "offset": offset})

    def stop(self) -> None:
        """Try to stop the trail: always refused (`trail_protected`), and audited."""
        self._c.request("POST", "/v1/audit/trail/stop")

    def delete(self, *, before: str | None = None) -> None:
        """Try to delete records: always refused (`trail_protected`), and audited."""
        self._c.request("DELETE", "/v1/audit/events", params={"before": before})


PARTS: dict[str, type[Part]] = {"audit": Audit}
