"""Token lineage: a token made with a token never outlives it, dies with it, and cannot
revoke the tokens it was not made with."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import uvicorn
from sqlalchemy import func, select, update

from charter.errors import Denied, Invalid, Unauthenticated
from charter.identity.orm import Token
from charter.sdk import Client


def _when(value: datetime | str) -> datetime:
    """A time from the SDK (typed) or from CLI JSON (a string)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


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
    code, out, _ = platform.cli("tokens", "revoke", first_id, "--yes", "--json")
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
    code, _, err = platform.cli("tokens", "revoke", kept["id"], "--yes", token=stolen["token"])
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
    assert code == 1 and json.loads(out)["code"] == "invalid_duration"
    with pytest.raises(Invalid) as refused:
        platform.admin.tokens.create(expires_in=lifetime)
    assert refused.value.code == "invalid_duration"
    with platform.runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Token)) == before


# -- minting while the parent is revoked (a real server, real threads) -----------------

@contextlib.contextmanager
def _serving(app) -> Iterator[str]:
    """The platform's app behind a real HTTP server on a free local port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _minter(url: str, secret: str, minted: list[str], refusals: list[str],
            go: threading.Barrier) -> None:
    with Client(url, secret) as client:
        go.wait(timeout=60)
        for _ in range(400):  # until the parent's revocation refuses it
            try:
                minted.append(client.tokens.create(expires_in="1h")["id"])
            except Unauthenticated as refused:
                refusals.append(refused.code)
                return
        refusals.append("never refused")


def _active_in_subtree(platform, root: str) -> tuple[int, list[str]]:
    with platform.runtime.db.read() as session:
        rows = {t.id: t for t in session.scalars(select(Token))}
    children: dict[str, list[str]] = {}
    for row in rows.values():
        children.setdefault(row.parent_id, []).append(row.id)
    subtree, frontier = [], [root]
    while frontier:
        frontier = [c for parent in frontier for c in children.get(parent, [])]
        subtree += frontier
    return len(subtree), [t for t in subtree if rows[t].revoked_at is None]


def test_no_child_minted_while_its_parent_is_revoked_stays_active(platform):
    platform.admin.users.create("mia", groups=["security-auditors"])
    parent = platform.admin.tokens.create(user="mia", expires_in="1d")
    child = platform.client(parent["token"]).tokens.create(expires_in="1d")
    minted: list[str] = []
    refusals: list[str] = []
    go = threading.Barrier(13)
    with _serving(platform.app) as url:
        threads = [threading.Thread(target=_minter, daemon=True,
                                    args=(url, (parent, child)[i % 2]["token"], minted,
                                          refusals, go)) for i in range(12)]
        for thread in threads:
            thread.start()
        go.wait(timeout=60)
        while len(minted) < 24 and len(refusals) < 12:
            time.sleep(0.005)
        with Client(url, platform.admin_token) as admin:
            revoked = admin.tokens.revoke(parent["id"])
        for thread in threads:
            thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(set(refusals)) == ["token_revoked"] and len(refusals) == 12
    assert len(minted) >= 24
    size, active = _active_in_subtree(platform, parent["id"])
    assert active == []
    assert size == len(minted) + 1  # every child minted, and the first child
    assert set(revoked["also_revoked"]) <= {child["id"], *minted}


# -- a token for another user, and the cascade's record ---------------------------------

def test_a_token_made_for_another_user_has_no_parent_and_outlives_its_maker(platform):
    maker = platform.admin.tokens.create(expires_in="1h")  # the administrator's own
    assert maker["parent_id"] == platform.admin.whoami()["token_id"]
    platform.admin.users.create("ned", groups=["security-auditors"])
    given = platform.client(maker["token"]).tokens.create(user="ned", expires_in="30d")
    assert given["parent_id"] is None
    assert _when(given["expires_at"]) > _when(maker["expires_at"])  # not capped by its maker
    revoked = platform.admin.tokens.revoke(maker["id"])
    assert revoked["also_revoked"] == []
    ned = platform.client(given["token"])
    assert ned.whoami()["name"] == "ned"
    code, out, _ = platform.cli("tokens", "create", "--user", "ned", "--json")
    assert code == 0 and json.loads(out)["parent_id"] is None


def test_a_user_without_standing_revokes_only_their_own_lineage(platform):
    # kim once administered and made tokens for lou; kim now holds no permission set
    kim, kim_secret = platform.user("kim", "cloud-engineering")
    kim_token = kim.whoami()["token_id"]
    platform.admin.users.create("lou", groups=["security-auditors"])
    for_lou = kim.tokens.create(user="lou", expires_in="1d")
    own = kim.tokens.create(expires_in="1d")
    platform.admin.groups.remove_member("cloud-engineering", "kim")
    code, out, _ = platform.cli("tokens", "revoke", kim_token, "--yes", "--json", token=kim_secret)
    assert code == 0 and json.loads(out)["also_revoked"] == [own["id"]]
    assert platform.client(for_lou["token"]).whoami()["name"] == "lou"
    record = platform.admin.audit.events(action="identity:RevokeToken", limit=1)["items"][0]
    assert record["principal"] == "kim" and record["outcome"] == "success"
    assert record["details"]["also_revoked"] == [own["id"]]


def test_a_token_linked_to_another_users_token_earlier_is_not_revoked_with_it(platform):
    """Rows stored before lineage was limited to one user's own tokens keep their link."""
    platform.admin.users.create("oli", groups=["security-auditors"])
    maker = platform.admin.tokens.create(expires_in="1h")
    given = platform.admin.tokens.create(user="oli", expires_in="1h")
    with platform.runtime.db.transaction() as session:
        session.execute(update(Token).where(Token.id == given["id"])
                        .values(parent_id=maker["id"]))
    assert platform.admin.tokens.revoke(maker["id"])["also_revoked"] == []
    assert platform.client(given["token"]).whoami()["name"] == "oli"
