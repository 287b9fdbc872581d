"""Deleting a user: a governed, audited operation that takes their memberships,
assignments and tokens with them, and never the last administrator."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from charter.errors import Conflict, Denied, NotFound, Unauthenticated
from charter.identity.orm import Assignment, Membership, Token, User


def _count(platform, model, *where) -> int:
    with platform.runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_delete_removes_memberships_and_assignments_and_revokes_tokens(platform):
    platform.vend("team-a-dev")
    bob, _ = platform.user("bob", "team-a-leads")
    bob.tokens.create(description="made with bob's token")
    direct = platform.admin.assignments.create(permission_set="auditor", user="bob", ou="/")
    assert bob.whoami()["name"] == "bob"

    code, out, _ = platform.cli("users", "delete", "bob", "--yes", "--json")
    assert code == 0, out
    deleted = json.loads(out)
    assert deleted["name"] == "bob" and deleted["groups"] == ["team-a-leads"]
    assert deleted["assignments_removed"] == [direct.id]
    assert len(deleted["tokens_revoked"]) == 2
    with pytest.raises(Unauthenticated):
        bob.whoami()
    assert _count(platform, User, User.name == "bob") == 0
    assert _count(platform, Membership, Membership.user == "bob") == 0
    assert _count(platform, Assignment, Assignment.principal_name == "bob") == 0
    assert _count(platform, Token, Token.user == "bob") == 0
    assert "bob" not in platform.admin.groups.get("team-a-leads").members
    record = platform.admin.audit.events(action="identity:DeleteUser").items[0]
    assert (record.decision, record.outcome, record.principal) == ("allow", "success", "admin")
    assert record.details["tokens_revoked"] == deleted["tokens_revoked"]
    assert record.details["assignments_removed"] == [direct.id]
    with pytest.raises(NotFound) as gone:
        platform.admin.users.delete("bob")
    assert gone.value.code == "user_not_found"


def test_the_last_administrator_cannot_be_deleted_and_nothing_changes(platform):
    tokens_before = _count(platform, Token, Token.user == "admin")
    with pytest.raises(Conflict) as refused:
        platform.admin.users.delete("admin")
    assert refused.value.code == "last_administrator"
    assert platform.admin.groups.get("cloud-engineering").members == ["admin"]
    assert _count(platform, Token, Token.user == "admin") == tokens_before
    assert platform.admin.whoami()["name"] == "admin"
    record = platform.admin.audit.events(action="identity:DeleteUser").items[0]
    assert (record.outcome, record.error_code) == ("refused", "last_administrator")


def test_an_administrator_goes_when_another_remains(platform):
    platform.user("ada", "cloud-engineering")
    assert platform.admin.users.delete("ada").groups == ["cloud-engineering"]
    assert platform.admin.groups.get("cloud-engineering").members == ["admin"]


def test_only_administrators_may_delete_users(platform):
    platform.user("carl")
    auditor, _ = platform.user("aude", "security-auditors")
    with pytest.raises(Denied):
        auditor.users.delete("carl")
    assert platform.admin.users.get("carl").name == "carl"
    sets = {p.name: p for p in platform.admin.permission_sets.list()}
    assert "identity:DeleteUser" in sets["cloud-admin"].actions or \
        sets["cloud-admin"].patterns == ["*"]
    assert "identity:DeleteUser" not in sets["auditor"].actions
    assert not any("identity:DeleteUser" in p.actions for n, p in sets.items()
                   if n != "cloud-admin")
