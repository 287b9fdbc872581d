"""docs/reference.md's generated parts: every command from the CLI itself, every REST
operation from the OpenAPI document.

The reference keeps its written prose; what lies between `<!-- generated: NAME -->` and
`<!-- end generated -->` is made here. `python -m charter.cli.reference` rewrites the
file; `--check` exits 1 when it is out of date (the test suite runs the check).
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typer.core import TyperArgument, TyperGroup

from charter.cli.main import command

_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def commands_markdown() -> str:
    lines: list[str] = []
    for path, cmd in _leaves(command(), ["charter"]):
        lines += [f"### `{' '.join(path)}`", "", f"    {_usage(path, cmd)}", ""]
        summary = _summary(cmd.help or "")
        if summary:
            lines += [summary, ""]
        rows = [_param_row(p) for p in cmd.params if not getattr(p, "hidden", False)]
        rows = [r for r in rows if r]
        if rows:
            lines += ["| argument or option | takes | |", "|---|---|---|", *rows, ""]
    aliases = sorted(" ".join(path) for path, _ in _leaves(command(), ["charter"], hidden=True))
    if aliases:
        lines += ["Earlier spellings, still accepted: " + ", ".join(f"`{a}`" for a in aliases)
                  + ".", ""]
    return "\n".join(lines)


def _leaves(cmd: Any, path: list[str], *,
            hidden: bool = False) -> Iterator[tuple[list[str], Any]]:
    """Every runnable command under `cmd` (groups that run a default command included);
    `hidden`: the hidden ones (old spellings) only."""
    if isinstance(cmd, TyperGroup):
        for name in sorted(cmd.commands):
            sub = cmd.commands[name]
            if getattr(sub, "hidden", False):
                if hidden:
                    yield [*path, name], sub
                continue
            yield from _leaves(sub, [*path, name], hidden=hidden)
    elif not hidden and len(path) > 1:
        yield path, cmd


def _usage(path: list[str], cmd: Any) -> str:
    words = [" ".join(path)]
    for param in cmd.params:
        if isinstance(param, TyperArgument):
            words.append(param.metavar if param.required else f"[{param.metavar}]")
    return " ".join(words) + " [OPTIONS]"


def _summary(text: str) -> str:
    """The help text with its example kept as an example."""
    out = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        paragraph = " ".join(line.strip() for line in paragraph.splitlines())
        if paragraph.startswith("Example:"):
            paragraph = f"Example: `{paragraph.removeprefix('Example:').strip()}`"
        out.append(paragraph)
    return "\n\n".join(out)


def _param_row(param: Any) -> str | None:
    """One row of a command's table: name, what it takes, its help and default."""
    if isinstance(param, TyperArgument):
        name, takes = param.metavar, "required" if param.required else "optional"
    else:
        opts = [*param.opts, *param.secondary_opts]
        if {"--help", "--json", "--output-format"} & set(opts):
            return None  # every command's: the conventions above say what they do
        name, takes = ", ".join(opts), param.metavar or ""
    text = " ".join((getattr(param, "help", None) or "").split())
    default = param.default
    if (not isinstance(param, TyperArgument) and not callable(default)
            and default not in (None, False, (), [])):
        text += f" Default: `{default}`."
    return f"| `{name}` | {_cell(takes)} | {_cell(text.strip())} |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def api_markdown() -> str:
    from charter.api.app import create_app
    from charter.settings import load_settings

    with tempfile.TemporaryDirectory() as home:  # the document needs no platform's data
        app = create_app(load_settings(home=Path(home)))
        try:
            document = app.openapi()
        finally:
            app.state.runtime.close()
    lines = ["| method | path | operation (SDK call) | summary |", "|---|---|---|---|"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            summary = (operation.get("description") or operation.get("summary") or "")
            summary = _cell(" ".join(summary.split("\n\n")[0].split()))
            lines.append(f"| {method.upper()} | `{path}` | `{operation['operationId']}` | "
                         f"{summary} |")
    return "\n".join(lines) + "\n"


GENERATORS = {"commands": commands_markdown, "api": api_markdown}


def render(text: str) -> str:
    """`text` with each generated block made anew."""
    made: dict[str, str] = {}

    def block(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in made:
            made[name] = GENERATORS[name]().rstrip("\n") + "\n"
        return match.group(1) + made[name] + match.group(4)

    return _BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    paths = [a for a in args if not a.startswith("--")] or ["docs/reference.md"]
    target = Path(paths[0])
    current = target.read_text()
    fresh = render(current)
    if check:
        if fresh != current:
            sys.stderr.write(f"{target} is out of date: run `python -m charter.cli.reference`"
                             "\n")
            return 1
        return 0
    target.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
