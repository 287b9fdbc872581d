"""The CLI's conventions hold for every command (docs/design.md, "Interfaces"): help that
teaches, an output choice everywhere, paging on every list, and a reference that is the
CLI's own."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.core import TyperArgument, TyperGroup

from charter.cli import reference
from charter.cli.main import command

ROOT = Path(__file__).resolve().parents[2]


def _leaves(group, path=("charter",)):
    for name, cmd in sorted(group.commands.items()):
        if getattr(cmd, "hidden", False):
            continue
        if isinstance(cmd, TyperGroup):
            yield from _leaves(cmd, (*path, name))
        else:
            yield (*path, name), cmd


LEAVES = list(_leaves(command()))
IDS = [" ".join(path[1:]) for path, _ in LEAVES]


def test_there_are_commands_to_check() -> None:
    assert len(LEAVES) >= 50


@pytest.mark.parametrize(("path", "cmd"), LEAVES, ids=IDS)
def test_every_command_teaches_by_example(path, cmd, tmp_path, monkeypatch) -> None:
    examples = re.findall(r"^\s*Example: (.+)$", cmd.help or "", re.M)
    assert examples, f"{' '.join(path)}: its help has no `Example: ...` line"
    monkeypatch.chdir(tmp_path)
    for example in examples:
        words = shlex.split(example)
        for word in words:  # the files an example reads, there to be read
            if re.fullmatch(r"[\w.-]+\.(csv|parquet|json|py)", word):
                (tmp_path / word).write_text("")
        assert words[:len(path)] == list(path), f"the example {example!r} runs another command"
        # The example parses: its arguments and options exist and take what it gives.
        cmd.make_context(" ".join(path), words[len(path):], resilient_parsing=False)


@pytest.mark.parametrize(("path", "cmd"), LEAVES, ids=IDS)
def test_every_argument_and_option_is_described(path, cmd) -> None:
    for param in cmd.params:
        if isinstance(param, TyperArgument):
            assert param.help, f"{' '.join(path)} {param.metavar}: no description"
        else:
            assert param.help, f"{' '.join(path)} {param.opts[0]}: no description"


@pytest.mark.parametrize(("path", "cmd"), LEAVES, ids=IDS)
def test_every_command_chooses_its_output(path, cmd) -> None:
    options = {o for p in cmd.params for o in getattr(p, "opts", ())}
    if path[1:] in (("server",), ("config", "show")):
        assert "--json" in options
    else:
        assert {"-o", "--json"} <= options, f"{' '.join(path)} lacks -o or --json"
    if path[-1] == "list" or path[1:] in (("audit", "events"), ("audit", "checkpoints")):
        assert {"--limit", "--offset"} <= options, f"{' '.join(path)} is a list without paging"


def test_help_names_no_python_types(platform) -> None:
    for path, _ in LEAVES:
        code, out, _ = platform.cli(*path[1:], "--help")
        assert code == 0
        for python_type in ("<str>", "<bool>", "<int", "<float", "<path>", "list[", "<Path"):
            assert python_type not in out, f"{' '.join(path)} --help shows {python_type}"


def test_version(platform) -> None:
    import charter

    code, out, _ = platform.cli("--version")
    assert code == 0 and out.strip() == f"charter {charter.__version__}"


def test_the_reference_is_the_clis_own() -> None:
    assert reference.main([str(ROOT / "docs" / "reference.md"), "--check"]) == 0, \
        "docs/reference.md is out of date: run `python -m charter.cli.reference`"


def test_the_reference_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text("# R\n\n<!-- generated: commands -->\nold\n<!-- end generated -->\n")
    assert reference.main([str(stale), "--check"]) == 1
    assert reference.main([str(stale)]) == 0 and "charter users list" in stale.read_text()
    assert reference.main([str(stale), "--check"]) == 0
