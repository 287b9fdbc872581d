"""The CLI: --json everywhere, help that teaches, profiles kept private."""

from __future__ import annotations

import json
import stat

import typer

from charter.cli.main import app


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_has_json_and_help():
    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) >= 30
    for path, command in commands:
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        assert "--json" in options, f"charter {' '.join(path)} lacks --json"
        assert command.help, f"charter {' '.join(path)} has no help text"
        for param in command.params:
            if getattr(param, "opts", [""])[0].startswith("--"):
                assert param.help, f"charter {' '.join(path)} {param.opts[0]} has no help"


def test_help_lists_the_command_groups(platform):
    code, out, _ = platform.cli("--help")
    assert code == 0
    for group in ("accounts", "ou", "controls", "audit", "tokens", "assignments"):
        assert group in out


def test_init_writes_a_private_default_profile(platform):
    config = platform.settings.home / "config"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    code, out, _ = platform.cli("whoami", "--json", use_profile=True)
    assert code == 0 and json.loads(out)["name"] == "admin"


def test_login_saves_a_named_profile(platform):
    _, token = platform.user("pat", "security-auditors")
    code, out, _ = platform.cli("--profile", "pat", "login", "--token", token, "--json")
    assert code == 0 and json.loads(out)["user"] == "pat"
    code, out, _ = platform.cli("--profile", "pat", "whoami", "--json", use_profile=True)
    assert json.loads(out)["name"] == "pat"
    platform.monkeypatch.setenv("CHARTER_PROFILE", "pat")
    code, out, _ = platform.cli("whoami", "--json", use_profile=True)
    assert json.loads(out)["name"] == "pat"
    code, out, _ = platform.cli("profiles", "--json", use_profile=True)
    assert {p["name"] for p in json.loads(out)} == {"default", "pat"}
    assert token not in out


def test_login_with_a_bad_token_saves_nothing(platform):
    code, _, err = platform.cli("--profile", "x", "login", "--token", "chr_wrong")
    assert code == 1 and "[invalid_token]" in err
    assert "[x]" not in (platform.settings.home / "config").read_text()


def test_unknown_profile_says_how_to_log_in(platform):
    code, _, err = platform.cli("--profile", "nobody", "whoami", use_profile=True)
    assert code == 1 and "[not_logged_in]" in err and "charter login" in err


def test_json_lists_and_tables(platform):
    platform.vend("team-a-dev")
    for args in (["ou", "tree"], ["accounts", "list"], ["users", "list"], ["groups", "list"],
                 ["permission-sets", "list"], ["assignments", "list"], ["tokens", "list"],
                 ["controls", "list"], ["controls", "findings"], ["audit", "events"],
                 ["blueprints", "list"]):
        code, out, err = platform.cli(*args)
        assert code == 0 and out.strip(), (args, err)
        code, out, err = platform.cli(*args, "--json")
        assert code == 0, (args, err)
        json.loads(out)


def test_audit_verify_and_events_filters(platform):
    platform.vend("team-a-dev")
    code, out, _ = platform.cli("audit", "verify")
    assert code == 0 and "verified" in out
    code, out, _ = platform.cli("audit", "events", "--action", "org:CreateAccount",
                                "--since", "1h", "--json")
    items = json.loads(out)["items"]
    assert [e["account"] for e in items] == ["team-a-dev"]
    code, _, err = platform.cli("audit", "events", "--since", "yesterday")
    assert code == 1 and "[invalid_time]" in err
