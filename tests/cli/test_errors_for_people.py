"""Errors read right wherever they are seen: the platform's messages name no CLI command
or flag (the SDK and HTTP callers see them too), the CLI adds what to run next, and a bad
server URL is an error line, not a traceback."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import charter
from charter.cli.hints import HINTS
from charter.domains import DOMAINS

SRC = Path(charter.__file__).parent
CLI_ADVICE = re.compile(r"`charter |(^|[\s(])--[a-z]")


def _raised_strings(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        value = node.exc if isinstance(node, ast.Raise) else \
            node.value if isinstance(node, ast.Return) else None
        if value is not None:
            for part in ast.walk(value):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    found.append((part.lineno, part.value))
    return found


def _platform_modules() -> list[Path]:
    packages = [SRC / d.name for d in DOMAINS] + [SRC / "core", SRC / "api", SRC / "platform"]
    return sorted(p for package in packages for p in package.rglob("*.py"))


def test_no_platform_error_message_gives_cli_advice() -> None:
    offenders = [f"{path.relative_to(SRC)}:{line}: {text!r}"
                 for path in _platform_modules() for line, text in _raised_strings(path)
                 if CLI_ADVICE.search(text)]
    assert not offenders, "CLI advice belongs in charter/cli/hints.py:\n" + "\n".join(offenders)


def test_the_check_finds_cli_advice(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('def f():\n    raise ValueError("x; use --mode create")\n'
                      'def g():\n    raise ValueError(f"see `charter users list` {1}")\n')
    assert [line for line, text in _raised_strings(module) if CLI_ADVICE.search(text)] == [2, 4]


def test_sdk_errors_carry_no_cli_advice(platform) -> None:
    admin = platform.admin
    failures = []
    for call in (lambda: admin.accounts.get("nope"),
                 lambda: admin.users.create("x", groups=["no-such-group"]),
                 lambda: admin.accounts.create("t-dev", ou="/workloads/ml/nonprod",
                                               blueprint="ml-team-dev", tags={}),
                 lambda: admin.assignments.delete("asg-0"),
                 lambda: admin.tokens.revoke("tok-0"),
                 lambda: admin.lake.table("retail-data", "nodb.nothing"),
                 lambda: platform.client("chr_wrong").whoami(),
                 lambda: platform.client(None).whoami()):
        with pytest.raises(charter.CharterError) as caught:
            call()
        failures.append(caught.value)
    for error in failures:
        assert not CLI_ADVICE.search(error.message), (error.code, error.message)


def test_the_cli_adds_what_to_run(platform) -> None:
    code, _, err = platform.cli("accounts", "show", "nope")
    assert code == 1 and "[account_not_found]" in err
    assert err.strip().endswith("does not exist; see `charter accounts list`")
    code, out, _ = platform.cli("accounts", "show", "nope", "--json")
    assert code == 1 and "hint" not in out  # JSON is the API's error body, nothing added


def test_hints_name_real_codes() -> None:
    assert all(re.fullmatch(r"[a-z_]+", code) for code in HINTS)


@pytest.mark.parametrize("url", ["http://localhost:8787x", "localhost:8787", "ftp://host/"])
def test_a_bad_server_url_is_one_error_line(platform, monkeypatch, url: str) -> None:
    monkeypatch.setenv("CHARTER_URL", url)
    code, out, err = platform.cli("whoami")
    assert code == 1 and out == ""
    assert "[invalid_url]" in err and "Traceback" not in err and "CHARTER_URL" in err
    code, out, _ = platform.cli("whoami", "--json")
    assert code == 1 and '"invalid_url"' in out


def test_a_server_that_does_not_answer_suggests_starting_one(platform, monkeypatch) -> None:
    monkeypatch.setenv("CHARTER_URL", "http://127.0.0.1:9")
    code, _, err = platform.cli("whoami")
    assert code == 1 and "[unreachable]" in err and "`charter server`" in err


def test_whoami_says_where_it_ran(platform, monkeypatch) -> None:
    from tests.servers import start

    code, out, _ = platform.cli("whoami", "--json")
    assert code == 0
    assert json.loads(out)["via"] == f"in-process (CHARTER_HOME={platform.settings.home})"
    server = start(platform.settings.home).ready()
    try:
        monkeypatch.setenv("CHARTER_URL", server.url)
        code, out, _ = platform.cli("whoami")
        assert code == 0 and f"via {server.url}" in out
        code, out, _ = platform.cli("whoami", "-o", "yaml")
        assert f"via: {server.url}" in out
    finally:
        server.stop()
