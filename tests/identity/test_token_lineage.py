"""Token lineage: a token made with a token never outlives it, dies with it, and cannot
revoke the tokens it was not made with."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from sqlalchemy import func, select

from charter.errors import Denied, Invalid, Unauthenticated
from charter.identity.orm import Token


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_a_token_made_with_a_short_lived_token_expires_with_it(platform):
    platform.admin.users.create("ann", groups=["security-auditors"])
    parent = platform.admin.tokens.create(user="ann", expires_in="1h")
    ann = platform.client(parent["token"])
    child = ann.tokens.create(expires_in="366d")
    assert child["parent_id"] == parent["id"]
    assert _when(child["expires_at"]) == _when(parent["expires_at"])
    grandchild = platform.client(child["token"]).tokens.create(expires_in="10m")
    assert _when(grandchild["expires_at"]) < _when(parent["expires_at"])
    assert grandchild["parent_id"] == child["id"]


def test_a_child_of_an_expired_token_is_refused(platform):
    platform.admin.users.create("eve", groups=["security-auditors"])
    parent = platform.admin.tokens.create(user="eve", expires_in="2s")
    child = platform.client(parent["token"]).tokens.create(expires_in="30d")
    assert _when(child["expires_at"]) == _when(parent["expires_at"])
    grown_up = platform.client(child["token"])
    assert grown_up.whoami()["token_id"] == child["id"]
    time.sleep(max(0.0, (_when(parent["expires_at"]) - _when(child["created_at"]))
                   .total_seconds()) + 0.3)
    with pytest.raises(Unauthenticated) as refused:
        grown_up.whoami()
    assert refused.value.code == "token_expired"


def test_revoking_a_token_revokes_every_token_made_with_it(platform):
    ann, first = platform.user("ann", "security-auditors")
    first_id = ann.whoami()["token_id"]
    child = ann.tokens.create(expires_in="1d")
    grandchild = platform.client(child["token"]).tokens.create(expires_in="1h")
    code, out, _ = platform.cli("tokens", "revoke", first_id, "--json")
    revoked = json.loads(out)
    assert code == 0 and revoked["status"] == "revoked"
    assert revoked["also_revoked"] == [child["id"], grandchild["id"]]
    for secret in (first, child["token"], grandchild["token"]):
        with pytest.raises(Unauthenticated) as refused:
            platform.client(secret).whoami()
        assert refused.value.code == "token_revoked"
    listed = {t["id"]: t["status"] for t in platform.admin.tokens.list(user="ann")["items"]}
    assert set(listed.values()) == {"revoked"}
    assert platform.admin.whoami()["name"] == "admin"


def test_a_token_revokes_itself_and_its_descendants_but_not_its_siblings(platform):
    platform.admin.groups.create("book-club")  # no permission set anywhere
    platform.admin.users.create("vic", groups=["book-club"])
    kept = platform.admin.tokens.create(user="vic", expires_in="1d")
    stolen = platform.admin.tokens.create(user="vic", expires_in="1d")
    thief = platform.client(stolen["token"])
    made_with_kept = platform.client(kept["token"]).tokens.create(expires_in="1h")
    for victim in (kept["id"], made_with_kept["id"]):
        with pytest.raises(Denied) as refused:
            thief.tokens.revoke(victim)
        assert refused.value.code == "access_denied"
    code, _, err = platform.cli("tokens", "revoke", kept["id"], token=stolen["token"])
    assert code == 1 and "[access_denied]" in err
    with pytest.raises(Denied):  # nor an ancestor of its own
        platform.client(made_with_kept["token"]).tokens.revoke(kept["id"])
    assert platform.client(kept["token"]).whoami()["name"] == "vic"
    denied = platform.admin.audit.events(action="identity:RevokeToken", decision="deny")
    assert denied["items"][0]["principal"] == "vic"
    own = thief.tokens.create(expires_in="1h")
    assert thief.tokens.revoke(own["id"])["status"] == "revoked"
    assert thief.tokens.revoke(stolen["id"])["status"] == "revoked"
    assert platform.client(kept["token"]).whoami()["name"] == "vic"


def test_a_standing_that_covers_revoking_tokens_still_revokes_any(platform):
    platform.admin.users.create("ida", groups=["cloud-engineering"])
    one = platform.admin.tokens.create(user="ida", expires_in="1d")
    other = platform.admin.tokens.create(user="ida", expires_in="1d")
    ida = platform.client(one["token"])
    assert ida.tokens.revoke(other["id"])["status"] == "revoked"


@pytest.mark.parametrize("lifetime", ["\u0663d", "\uff11d", "\u0967\u0968h", "1\u0660d"])
def test_durations_take_ascii_digits_only(platform, lifetime):
    with platform.runtime.db.read() as session:
        before = session.scalar(select(func.count()).select_from(Token))
    code, out, _ = platform.cli("tokens", "create", "--expires-in", lifetime, "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "invalid_duration"
    with pytest.raises(Invalid) as refused:
        platform.admin.tokens.create(expires_in=lifetime)
    assert refused.value.code == "invalid_duration"
    with platform.runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Token)) == before
