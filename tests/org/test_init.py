"""`charter init`: the reference organisation, idempotent."""

from __future__ import annotations

import json

from charter.org.reference import CENTRAL_ACCOUNTS, OUS


def _paths(node: dict) -> set[str]:
    return {node["path"]} | {p for child in node["children"] for p in _paths(child)}


def _accounts(node: dict) -> set[str]:
    return set(node["accounts"]) | {a for child in node["children"] for a in _accounts(child)}


def test_init_creates_reference_structure(platform):
    tree = platform.admin.org.tree()
    assert _paths(tree) == set(OUS)
    assert _accounts(tree) == set(CENTRAL_ACCOUNTS)
    for name in ("security-tooling", "log-archive", "ml-shared-services-prod"):
        account = platform.admin.accounts.get(name)
        assert account["tags"]["owner"] and account["budget"]


def test_init_twice_gives_same_organisation_and_says_so(platform):
    before = platform.admin.org.tree()
    code, out, _ = platform.cli("init", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["already_initialized"] is True
    assert report["created"] == []
    assert any("security-tooling" in line for line in report["found"])
    assert platform.admin.org.tree() == before
    code, out, _ = platform.cli("init")
    assert code == 0 and "already initialised" in out
