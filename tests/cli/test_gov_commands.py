"""The governance commands: nouns and verbs, shows for listed things, confirmations, key
columns whole at 100 columns, and whoami saying where it ran."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import typer
from click import Argument

from charter.cli import output
from charter.cli.main import app
from tests.api.conftest import CHARTER, server  # noqa: F401  (the fixture)

GROUPS = ("ous", "ou", "accounts", "blueprints", "users", "groups", "permission-sets",
          "assignments", "tokens", "controls", "audit")
LISTS = [("ous",), ("accounts", "list"), ("blueprints", "list"), ("users", "list"),
         ("groups", "list"), ("permission-sets", "list"), ("assignments", "list"),
         ("tokens", "list"), ("controls", "list"), ("controls", "findings"),
         ("audit", "events", "list"), ("audit", "checkpoints")]


def _leaves(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _leaves(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def _commands():
    root = typer.main.get_command(app)
    return {path: command for path, command in _leaves(root) if path[0] in GROUPS}


def test_every_leaf_has_an_example_and_described_positionals():
    commands = _commands()
    assert ("users", "delete") in commands and ("audit", "events", "show") in commands
    for path, command in commands.items():
        example = re.search(r"^\s*Example: (charter .+)$", command.help or "", re.MULTILINE)
        assert example, f"charter {' '.join(path)} has no Example line"
        assert example.group(1).split()[1] in (path[0], "ous"), path
        for param in command.params:
            if isinstance(param, Argument):
                assert getattr(param, "help", None), f"{path} {param.name} is not described"


def test_every_list_pages_and_chooses_its_output():
    commands = _commands()
    for path in LISTS:
        if path == ("ous",):
            continue
        options = {opt for p in commands[path].params for opt in getattr(p, "opts", [])}
        assert {"--limit", "--offset", "-o", "--json"} <= options, path


def test_ous_is_the_noun_and_ou_an_unlisted_alias(platform):
    code, out, _ = platform.cli("--help")
    assert re.search(r"\bous\b", out) and not re.search(r"│ ou\s", out)
    for noun in ("ous", "ou"):
        code, out, err = platform.cli(noun, "tree", "--json")
        assert code == 0, err
        assert json.loads(out)["path"] == "/"
    code, out, _ = platform.cli("ous", "create", "/workloads/ml/sandbox", "--json")
    assert code == 0 and json.loads(out)["path"] == "/workloads/ml/sandbox"


def test_shows_for_listed_things(platform):
    platform.user("dana", "security-auditors")
    for args, key, value in (
            (["users", "show", "dana"], "groups", ["security-auditors"]),
            (["groups", "show", "security-auditors"], "members", ["dana"]),
            (["permission-sets", "show", "data-scientist"], "name", "data-scientist"),
            (["blueprints", "show", "ml-team-prod"], "controls", ["CHARTER-PREV-3"])):
        code, out, err = platform.cli(*args, "--json")
        assert code == 0, err
        assert json.loads(out)[key] == value
        code, out, err = platform.cli(*args)
        assert code == 0 and args[2] in out, err
    code, out, err = platform.cli("permission-sets", "show", "nobody", "--json")
    assert code == 1 and json.loads(out)["code"] == "permission_set_not_found"
    code, out, _ = platform.cli("blueprints", "show", "nothing", "--json")
    assert code == 1 and json.loads(out)["code"] == "blueprint_not_found"


@pytest.mark.parametrize("args", [
    ["accounts", "close", "team-a-dev"], ["users", "delete", "eve"],
    ["tokens", "revoke", "TOKEN"], ["assignments", "delete", "ASSIGNMENT"],
    ["groups", "remove-member", "security-auditors", "eve"],
    ["controls", "disable", "CHARTER-DET-1", "--ou", "/"]])
def test_destructive_commands_ask_first(platform, args):
    platform.vend("team-a-dev")
    _, token = platform.user("eve", "security-auditors")
    token_id = platform.admin.tokens.list(user="eve").items[0].id
    assignment = platform.admin.assignments.create(permission_set="auditor", user="eve",
                                                   account="team-a-dev").id
    args = [{"TOKEN": token_id, "ASSIGNMENT": assignment}.get(a, a) for a in args]
    before = platform.admin.audit.events(limit=1).items[0].seq
    code, out, _ = platform.cli(*args, "--json")
    assert code == 1 and json.loads(out)["code"] == "confirmation_required"
    assert platform.admin.audit.events(limit=1).items[0].seq == before + 1  # only this read
    assert platform.admin.accounts.get("team-a-dev").status == "active"
    assert platform.admin.users.get("eve").groups == ["security-auditors"]
    assert platform.client(token).whoami()["name"] == "eve"
    code, out, err = platform.cli(*args, "--yes", "--json")
    assert code == 0, err


def test_audit_events_lists_by_default_and_shows_a_record_in_full(platform):
    _, token = platform.user("mallory")
    code, _, _ = platform.cli("accounts", "show", "management", token=token)
    assert code == 1
    for args in (["audit", "events"], ["audit", "events", "--decision", "deny"],
                 ["audit", "events", "list", "--decision", "deny"]):
        code, out, err = platform.cli(*args, "--json")
        assert code == 0, (args, err)
        assert json.loads(out)["items"], args
    code, out, _ = platform.cli("audit", "events", "--principal", "mallory", "--decision",
                                "deny", "--json")
    denial = json.loads(out)["items"][0]
    code, out, _ = platform.cli("audit", "events", "show", str(denial["seq"]), "--json")
    assert code == 0 and json.loads(out) == denial
    code, out, _ = platform.cli("audit", "events", "show", str(denial["seq"]))
    assert code == 0
    for part in ("deny", "denied", "access_denied", denial["reason"][:40],
                 denial["request_id"], denial["resource"], "org:DescribeAccount", "mallory"):
        assert part in out, part
    code, out, _ = platform.cli("audit", "events", "show", "999999", "--json")
    assert code == 1 and json.loads(out)["code"] == "audit_event_not_found"
    code, out, _ = platform.cli("audit", "events", "show", str(denial["seq"]), "--json",
                                token=token)
    assert code == 1 and json.loads(out)["code"] == "access_denied"


def _rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines()
            if line.startswith("│")]


def test_key_columns_are_whole_at_100_columns(platform, monkeypatch):
    platform.vend("ml-shared-services-dev", blueprint="ml-team-dev")
    platform.cli("permission-sets", "list")
    monkeypatch.setattr(output.console, "width", 100)
    monkeypatch.setattr(output.err_console, "width", 100)
    code, out, _ = platform.cli("audit", "events", "--limit", "100")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 100
    shown = {row[0]: row[1] for row in _rows(out) if row[0]}
    events = platform.admin.audit.events(limit=100).items[1:]  # not this listing's record
    assert shown == {str(e.seq): e.action for e in events}
    admin = platform.admin
    for args, names in ((["accounts", "list"], [a.name for a in admin.accounts.list()]),
                        (["permission-sets", "list"], [p.name for p in
                                                       admin.permission_sets.list()]),
                        (["blueprints", "list"], [b.name for b in admin.org.blueprints()])):
        code, out, _ = platform.cli(*args)
        assert [r[0] for r in _rows(out) if r[0]] == names, args
    code, out, _ = platform.cli("accounts", "list", "-o", "wide")
    assert "crn:ml-shared-services-dev:org:account/ml-shared-services-dev" in out


def test_whoami_says_it_ran_in_process(platform):
    _, out, _ = platform.cli("whoami", "--json")
    assert json.loads(out)["via"] == f"in-process (CHARTER_HOME={platform.settings.home})"
    _, out, _ = platform.cli("whoami")
    assert f"in-process (CHARTER_HOME={platform.settings.home})" in out


def test_whoami_names_the_server_it_ran_against(server):  # noqa: F811
    platform, url, env = server
    env = {**env, "CHARTER_URL": url, "CHARTER_TOKEN": platform.admin_token}
    done = subprocess.run([CHARTER, "whoami", "--json"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["via"] == url
    done = subprocess.run([CHARTER, "whoami"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and f"via {url}" in done.stdout
