"""Printing results: rich tables for people, `--json` for programs, one-line errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from charter.errors import CharterError

# Piped output is read by people in logs and by grep: do not squeeze tables to 80 columns
# unless COLUMNS says how wide the reader is.
_PIPE_WIDTH = None if "COLUMNS" in os.environ else 200
console = Console(width=None if sys.stdout.isatty() else _PIPE_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else _PIPE_WIDTH)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None,
          *, total: int | None = None, offset: int = 0) -> None:
    out = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*[_cell(row.get(c)) for c in columns])
    console.print(out)
    if total is not None and total > offset + len(rows):
        console.print(f"[dim]showing {offset + 1}-{offset + len(rows)} of {total}; "
                      f"next page: --offset {offset + len(rows)}[/dim]")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def show(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    if as_json:
        print_json(data)
    else:
        render(data)


def fail(error: CharterError, as_json: bool) -> None:
    if as_json:
        print_json({"error": error.to_dict()})
    else:
        err_console.print(f"[red]error[/red] {escape(f'[{error.code}]')}: {escape(error.message)}",
                          highlight=False, soft_wrap=True)
