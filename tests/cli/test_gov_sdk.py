"""The governance domains' SDK parts and REST listings: public, documented, typed, paged."""

from __future__ import annotations

import inspect
import pydoc

import pytest

import charter
from charter.audit.schemas import AuditEventRead
from charter.controls.schemas import ControlRead
from charter.errors import Conflict, Invalid
from charter.identity.schemas import GroupRead, PermissionSetRead, TokenRead, UserRead
from charter.org.schemas import AccountRead, BlueprintRead, OUNode
from charter.sdk._part import Pager, Part

PARTS = {"org": "Org", "accounts": "Accounts", "users": "Users", "groups": "Groups",
         "permission_sets": "PermissionSets", "assignments": "Assignments",
         "tokens": "Tokens", "controls": "Controls", "audit": "Audit", "lake": "Lake"}


def test_help_of_the_client_lists_the_parts_with_their_docstrings(platform):
    text = pydoc.render_doc(charter.Client, renderer=pydoc.plaintext)
    client = platform.admin
    for attribute, class_name in PARTS.items():
        part = getattr(client, attribute)
        assert type(part).__name__ == class_name and not class_name.startswith("_")
        assert isinstance(part, Part)
        assert f"{attribute}: " in text and f"(`{class_name}`)" in text, attribute
        assert inspect.getdoc(type(part)), class_name
        for name, method in inspect.getmembers(type(part), inspect.isfunction):
            if not name.startswith("_") and method.__qualname__.startswith(class_name):
                assert inspect.getdoc(method), f"{class_name}.{name} has no docstring"


@pytest.mark.parametrize("path,total", [("/v1/identity/permission-sets", 9),
                                        ("/v1/org/blueprints", 5), ("/v1/controls", None)])
def test_catalogues_answer_the_page_envelope(platform, path, total):
    http = platform.admin._http
    whole = http.get(path).json()
    assert set(whole) == {"items", "total", "limit", "offset", "next_cursor"}
    assert whole["total"] == len(whole["items"]) == (total or whole["total"])
    page = http.get(path, params={"limit": 2, "offset": 1}).json()
    assert page["total"] == whole["total"] and page["items"] == whole["items"][1:3]
    assert (page["limit"], page["offset"], page["next_cursor"]) == (2, 1, None)
    refused = http.get(path, params={"cursor": "abc"})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_cursor"


def test_list_calls_are_typed_and_iterate_past_their_first_page(platform):
    client = platform.admin
    platform.vend("team-a-dev")
    client.tokens.create(description="a second token")
    for pager, kind, everything in (
            (client.permission_sets.list(limit=2), PermissionSetRead, 9),
            (client.org.blueprints(limit=2), BlueprintRead, 5),
            (client.controls.list(limit=2), ControlRead, None),
            (client.accounts.list(limit=2), AccountRead, 12),
            (client.groups.list(limit=2), GroupRead, None),
            (client.tokens.list(all=True, limit=1), TokenRead, None),
            (client.audit.events(limit=2), AuditEventRead, None)):
        assert isinstance(pager, Pager) and len(pager.items) <= 2
        items = list(pager)
        assert all(isinstance(item, kind) for item in items)
        assert len(items) == pager.total > len(pager.items)
        assert everything is None or len(items) == everything


def test_single_answers_are_typed(platform):
    client = platform.admin
    assert isinstance(client.org.tree(), OUNode)
    assert client.permission_sets.get("auditor").patterns == ["@read", "!lake:ReadTable",
                                                                 "!experiments:GetArtifact"]
    assert client.org.blueprint("ml-team-dev").name_suffix == "dev"
    assert isinstance(client.users.get("admin"), UserRead)
    assert client.groups.get("cloud-engineering").members == ["admin"]
    seq = client.audit.events(limit=1).items[0].seq
    assert client.audit.event(seq).seq == seq
    with pytest.raises(Invalid):
        client.controls.list(limit=0)


def test_closing_a_closed_account_is_a_conflict_not_a_refusal(platform):
    platform.vend("team-a-dev")
    client = platform.admin
    assert client.accounts.close("team-a-dev").status == "closed"
    with pytest.raises(Conflict) as closed:
        client.accounts.close("team-a-dev")
    assert closed.value.code == "account_closed" and closed.value.http_status == 409
    events = client.audit.events(action="org:CloseAccount", limit=1).items
    assert (events[0].decision, events[0].error_code) == ("allow", "account_closed")
