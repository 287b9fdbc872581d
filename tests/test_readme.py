"""README's SDK snippet runs as written against a real server, with a token got the way
its "Getting a token" section says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from tests.servers import start

README = Path(__file__).resolve().parents[1] / "README.md"


def _sdk_snippet() -> str:
    text = README.read_text()
    section = text[text.index("### The Python SDK"):]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def test_readme_explains_where_a_token_comes_from() -> None:
    text = README.read_text()
    getting = text[text.index("### Getting a token"):text.index("### The Python SDK")]
    for step in ("charter init", "charter tokens create --user", "login --url"):
        assert step in getting


def test_the_sdk_snippet_runs(platform, monkeypatch) -> None:
    snippet = _sdk_snippet()
    assert "token = " in snippet  # no name the reader must guess
    token = platform.admin.tokens.create(description="README")["token"]
    server = start(platform.settings.home).ready()
    try:
        monkeypatch.setenv("CHARTER_TOKEN", token)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(snippet.replace("http://127.0.0.1:8787", server.url), "README", "exec"),
                 {})
    finally:
        server.stop()
    lines = printed.getvalue().splitlines()
    assert lines[0].startswith("crn:team-b-dev:org:account/team-b-dev")
    assert "account_not_found" in lines
    assert platform.admin.accounts.get("team-b-dev").name == "team-b-dev"
