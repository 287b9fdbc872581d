"""Users, groups, assignments and tokens."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from charter.errors import CharterError, Conflict, Denied, Unauthenticated
from charter.identity.orm import Token, User
from charter.identity.service import hash_secret


def test_permission_sets_are_the_nine_personas(platform):
    sets = {p["name"]: p for p in platform.admin.permission_sets.list()}
    assert set(sets) == {"cloud-admin", "data-lake-admin", "ml-platform-admin", "ml-team-lead",
                         "data-scientist", "ml-engineer", "governance-officer", "auditor",
                         "cost-viewer"}
    auditor_actions = sets["auditor"]["actions"]
    assert "audit:VerifyTrail" in auditor_actions
    assert not [a for a in auditor_actions if "Create" in a or "Update" in a]


def test_token_is_shown_once_and_stored_hashed(platform):
    platform.user("tim", "security-auditors")
    created = platform.admin.tokens.create(user="tim", expires_in="2d")
    assert created["token"].startswith("chr_")
    with platform.runtime.db.transaction() as session:
        row = session.get(Token, created["id"])
        assert row.secret_hash == hash_secret(created["token"])
        assert created["token"] not in repr(row.__dict__)
    listed = platform.admin.tokens.list(user="tim")["items"]
    assert all("token" not in t for t in listed)


def test_expired_token_is_refused(platform):
    platform.user("eve", "security-auditors")
    token = platform.admin.tokens.create(user="eve", expires_in="1s")["token"]
    eve = platform.client(token)
    assert eve.whoami()["name"] == "eve"
    time.sleep(1.2)
    with pytest.raises(Unauthenticated) as refused:
        eve.whoami()
    assert refused.value.code == "token_expired"
    code, _, err = platform.cli("whoami", token=token)
    assert code == 1 and "[token_expired]" in err
    events = platform.admin.audit.events(action="identity:Authenticate")["items"]
    assert events[0]["error_code"] == "token_expired"


def test_revoked_token_is_refused_at_once(platform):
    ron, token = platform.user("ron", "security-auditors")
    token_id = ron.whoami()["token_id"]
    code, out, _ = platform.cli("tokens", "revoke", token_id, "--yes", "--json", token=token)
    assert code == 0 and json.loads(out)["status"] == "revoked"
    with pytest.raises(Unauthenticated) as refused:
        ron.whoami()
    assert refused.value.code == "token_revoked"


@pytest.mark.parametrize("token,code", [("chr_not-a-real-token", "invalid_token"),
                                        ("Basic abc", "invalid_token")])
def test_bad_tokens(platform, token, code):
    with pytest.raises(Unauthenticated) as refused:
        platform.client(token).whoami()
    assert refused.value.code == code


def test_users_manage_only_their_own_tokens(platform):
    platform.admin.groups.create("book-club")  # no permission set anywhere
    ann, _ = platform.user("ann", "book-club")
    platform.user("ben", "book-club")
    mine = ann.tokens.create(expires_in="1h")
    assert mine["user"] == "ann"
    assert {t["user"] for t in ann.tokens.list()["items"]} == {"ann"}
    ben_token = platform.admin.tokens.list(user="ben")["items"][0]["id"]
    with pytest.raises(Denied):
        ann.tokens.revoke(ben_token)
    with pytest.raises(Denied):
        ann.tokens.create(user="ben")
    with pytest.raises(Denied):
        ann.tokens.list(user="ben")
    assert ann.tokens.revoke(mine["id"])["status"] == "revoked"


def test_bad_token_lifetimes(platform):
    for value in ("0d", "30", "ten days", "-1d", "400d"):
        code, _, err = platform.cli("tokens", "create", "--expires-in", value)
        assert code == 1 and "[invalid_duration]" in err, value


def test_user_with_unknown_group_is_not_created(platform):
    code, _, err = platform.cli("users", "create", "gus", "--group", "security-auditors",
                                "--group", "no-such-group")
    assert code == 1 and "[group_not_found]" in err
    with platform.runtime.db.transaction() as session:
        assert session.scalar(select(User).where(User.name == "gus")) is None
    platform.admin.users.create("gus")
    with pytest.raises(Conflict) as duplicate:
        platform.admin.users.create("gus")
    assert duplicate.value.code == "user_exists"


def test_ou_assignment_covers_accounts_below_and_deletion_takes_effect(platform):
    platform.vend("team-a-dev")
    platform.vend("team-a-prod")
    viewer, _ = platform.user("vic")
    platform.admin.groups.create("finance")
    platform.admin.groups.add_member("finance", "vic")
    with pytest.raises(Denied):
        viewer.accounts.get("team-a-dev")
    assignment = platform.admin.assignments.create(permission_set="cost-viewer",
                                                   group="finance", ou="/workloads/ml")
    assert viewer.accounts.get("team-a-dev")["name"] == "team-a-dev"
    assert viewer.accounts.get("team-a-prod")["name"] == "team-a-prod"
    with pytest.raises(Denied):
        viewer.accounts.get("log-archive")
    platform.admin.assignments.delete(assignment["id"])
    with pytest.raises(Denied):
        viewer.accounts.get("team-a-dev")


def test_bad_assignments(platform):
    platform.vend("team-a-dev")
    for kwargs, code in (
        ({"permission_set": "wizard", "group": "team-a-leads", "account": "team-a-dev"},
         "permission_set_not_found"),
        ({"permission_set": "auditor", "group": "ghosts", "account": "team-a-dev"},
         "group_not_found"),
        ({"permission_set": "auditor", "group": "team-a-leads", "ou": "/nowhere"},
         "ou_not_found"),
        ({"permission_set": "auditor", "group": "team-a-leads"}, "invalid_assignment"),
        ({"permission_set": "ml-team-lead", "group": "team-a-leads", "account": "team-a-dev"},
         "assignment_exists"),
    ):
        with pytest.raises(CharterError) as refused:
            platform.admin.assignments.create(**kwargs)
        assert getattr(refused.value, "code", None) == code, kwargs


def test_whoami_in_cli_and_env_token(platform):
    _, token = platform.user("wendy", "security-auditors")
    code, out, _ = platform.cli("whoami", "--json", token=token)
    me = json.loads(out)
    assert code == 0 and me["name"] == "wendy" and me["groups"] == ["security-auditors"]
    assert me["assignments"][0]["permission_set"] == "auditor"


def test_a_user_and_a_group_of_one_name_are_two_principals(platform):
    """The duplicate check of a new assignment asks what `assign` asks: who (user or
    group), which permission set, where (account or OU)."""
    platform.vend("team-a-dev")
    admin = platform.admin
    admin.groups.create("sam")
    admin.users.create("sam")
    made = {kind: admin.assignments.create(permission_set="data-scientist", account="team-a-dev",
                                           **{kind: "sam"})
            for kind in ("group", "user")}
    assert {m["principal_type"] for m in made.values()} == {"group", "user"}
    with pytest.raises(Conflict) as again:
        admin.assignments.create(permission_set="data-scientist", user="sam",
                                 account="team-a-dev")
    assert again.value.code == "assignment_exists" and made["user"]["id"] in again.value.message
