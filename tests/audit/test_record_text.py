"""A record is written whatever text its request carried: characters the store refuses are
escaped, text longer than its column is cut, and the chain still verifies."""

from __future__ import annotations

from sqlalchemy import select

from charter.audit import chain
from charter.audit.orm import AuditEvent


def test_records_hold_nul_surrogates_and_overlong_text(platform):
    record = chain.AuditRecord(
        principal="anonymous", account="team\x00x", action="identity:Authenticate",
        resource="GET /v1/accounts/a\x00b/" + "x" * 600, decision="deny", outcome="denied",
        request_id="req-text", source="api", error_code="invalid_token",
        reason="bad \ud800 token \x00", details={"client": "a\x00\udc80"})
    with platform.runtime.db.transaction() as session:
        chain.append(session, [record], key=platform.runtime.audit_key)
    with platform.runtime.db.transaction() as session:
        stored = session.scalars(select(AuditEvent).where(
            AuditEvent.request_id == "req-text")).one()
        assert stored.account == "team\\x00x"
        assert stored.resource.startswith("GET /v1/accounts/a\\x00b/x")
        assert len(stored.resource) == 500
        assert stored.reason == "bad \\ud800 token \\x00"
        assert "\\u0000" in stored.details
    assert platform.admin.audit.verify()["ok"]
