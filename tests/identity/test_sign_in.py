"""Signing in with a token: a process keeps the tokens it found valid and does not read
them again until a write commits anywhere (revoking or deleting a token is one); then each
operation confirms the token in its own transaction. Another process (another worker of
`charter server`) revoking it is seen at the very next request."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from charter.audit.orm import AuditEvent
from charter.errors import Unauthenticated


class _Reads:
    """Statements this platform sends that read the token table."""

    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, *args) -> None:
        if "FROM identity_tokens" in statement:
            self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


@pytest.fixture
def reads(platform):
    found = _Reads(platform.runtime.db.engine)
    yield found
    found.close()


def test_a_seen_token_is_read_again_only_after_a_write(platform, reads):
    ron, _ = platform.user("ron", "security-auditors")
    ron.whoami()  # found valid
    reads.count = 0
    ron.whoami()
    ron.whoami()
    assert reads.count == 0
    platform.admin.groups.create("someone-wrote")  # the admin's token: read, not ron's
    reads.count = 0
    ron.whoami()  # confirmed once in its operation's transaction
    assert reads.count == 1
    reads.count = 0
    ron.whoami()
    assert reads.count == 0


def test_a_token_revoked_in_another_process_is_refused_at_the_next_request(platform,
                                                                          elsewhere):
    ron, _ = platform.user("ron", "security-auditors")
    token_id = ron.whoami()["token_id"]
    elsewhere.tokens.revoke(token_id)
    with pytest.raises(Unauthenticated) as refused:
        ron.whoami()
    assert refused.value.code == "token_revoked"
    with platform.runtime.db.read() as session:
        last = session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
    assert (last.principal, last.action, last.decision, last.outcome, last.error_code,
            last.resource) == ("anonymous", "identity:Authenticate", "deny", "denied",
                               "token_revoked", "GET /v1/identity/whoami")
    with pytest.raises(Unauthenticated) as again:  # forgotten: refused before any operation
        ron.whoami()
    assert again.value.code == "token_revoked"


def test_a_token_of_a_user_deleted_in_another_process_is_refused(platform, elsewhere):
    ron, _ = platform.user("ron", "security-auditors")
    ron.whoami()
    elsewhere.users.delete("ron")
    with pytest.raises(Unauthenticated) as refused:
        ron.whoami()
    assert refused.value.code in ("invalid_token", "token_revoked")


def test_a_write_with_a_token_revoked_meanwhile_changes_nothing(platform, elsewhere):
    lead = platform.client(platform.admin.tokens.create(user="admin")["token"])
    token_id = lead.whoami()["token_id"]
    elsewhere.tokens.revoke(token_id)
    with pytest.raises(Unauthenticated):
        lead.groups.create("never-made")
    assert "never-made" not in {g["name"] for g in platform.admin.groups.list()["items"]}
