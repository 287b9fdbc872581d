"""What other users typed never acts on a terminal: control characters are shown escaped,
text is never read as markup, and CSV cells a spreadsheet would run are quoted."""

from __future__ import annotations

import csv
import io

import pytest

ESCAPES = "\x1b]0;PWNED\x07\x1b[2J\u202e"
MARKUP = "[link=http://evil]click[/link] [red]x[/red]"


@pytest.fixture
def planted(platform):
    """A group, a user and a token whose text carries escapes and markup."""
    admin = platform.admin
    admin.groups.create("planted", description=f"{MARKUP} {ESCAPES}")
    admin.users.create("eve", groups=["planted"], display_name=f"Eve {ESCAPES}",
                       email='=HYPERLINK("http://evil","x")')
    admin.tokens.create(user="eve", description=f"{MARKUP}{ESCAPES}")
    return platform


@pytest.mark.parametrize("line", [
    ("groups", "show", "planted"), ("groups", "list", "-o", "wide"),
    ("users", "show", "eve"), ("users", "list", "-o", "wide"),
    ("tokens", "list", "--all", "-o", "wide"), ("users", "list", "-o", "csv"),
    ("users", "list", "-o", "yaml"),
])
def test_no_control_character_reaches_the_terminal(planted, line) -> None:
    code, out, err = planted.cli(*line)
    assert code == 0
    # YAML is data for programs: it escapes control characters, and keeps other text as is.
    for raw in ("\x1b", "\x07") if "yaml" in line else ("\x1b", "\x07", "\u202e"):
        assert raw not in out and raw not in err, (line, raw)


@pytest.mark.parametrize("line", [("groups", "show", "planted"), ("groups", "list", "-o", "wide"),
                                  ("tokens", "list", "--all", "-o", "wide")])
def test_names_and_descriptions_are_never_markup(planted, line) -> None:
    code, out, _ = planted.cli(*line)
    assert code == 0 and "[link=http://evil]click[/link]" in out.replace("\n", "")


def test_csv_cells_a_spreadsheet_would_run_are_quoted(planted) -> None:
    code, out, _ = planted.cli("users", "list", "-o", "csv")
    assert code == 0
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(out))}
    assert rows["eve"]["email"] == '\'=HYPERLINK("http://evil","x")'
    assert rows["admin"]["email"] == ""
