"""Printing results: tables for people, `-o json|yaml|csv` for programs, one-line errors.

Conventions (docs/design.md, "Interfaces"):
- stdout carries the command's result only; progress, hints and errors go to stderr.
- `-o table` (the default) fits the terminal without ever cutting a key column (ids and
  names a user types back): other columns wrap, and where even that does not fit, the
  last of them are left out with a note naming them; `-o wide` shows every column at
  full width; `-o json` and `-o yaml` print the answer as the API gave it; `-o csv`
  prints a listing's rows.
- A listing says which rows it shows of how many, and how to get the next page.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from charter.cli.hints import hint
from charter.errors import CharterError

# Characters a terminal acts on rather than shows: C0 and C1 controls (escape sequences
# that retitle, clear or hyperlink), and the bidirectional overrides that reorder text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """`text` with every control character shown as an escape (`\x1b`), never acted on."""
    return _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode(), text)


class _Console(Console):
    """A console as wide as COLUMNS says at each print, else the terminal; piped output is
    read by people in logs and by grep, so it is not squeezed to 80 columns.

    Text is never markup unless a print says so (`markup=True`, with the values in it
    escaped): names, descriptions and data come from other users. Control characters in
    any text are shown escaped."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(clean(text), **options)

    def __init__(self, *, width: int | None = None, **options: Any) -> None:
        super().__init__(width=width, **options)
        self.fixed_width = width

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        if self.fixed_width is not None:
            return measured
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit():
            return ConsoleDimensions(int(columns), measured.height)
        return measured if self.is_terminal else ConsoleDimensions(200, measured.height)


console = _Console(markup=False)
err_console = _Console(stderr=True, markup=False)

FORMATS = ("table", "wide", "json", "yaml", "csv")
# Column names that hold what a user types back into the next command.
_KEY_NAMES = frozenset({"id", "name", "seq", "key", "table", "crn", "path", "number"})


def is_key(column: str) -> bool:
    return column in _KEY_NAMES or column.endswith("_id")


def jsonable(data: Any) -> Any:
    """The answer as the API sent it: schemas dumped in JSON mode (64-bit ids as strings),
    a listing as its first page."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    page = getattr(data, "page", None)
    if isinstance(page, BaseModel):  # an SDK Pager
        return page.model_dump(mode="json")
    if isinstance(data, list | tuple):
        return [jsonable(item) for item in data]
    if isinstance(data, dict):
        return {key: jsonable(value) for key, value in data.items()}
    return data


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(data), indent=2, default=str) + "\n")


def print_yaml(data: Any) -> None:
    import yaml

    sys.stdout.write(yaml.safe_dump(json.loads(json.dumps(jsonable(data), default=str)),
                                    sort_keys=False, allow_unicode=True))


def print_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Rows as CSV with a header; nested values as JSON."""
    columns = list(columns or _columns_of(rows))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([_csv_cell(c) for c in columns])  # a header may hold a user's name
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])


def _columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _csv_cell(value: Any) -> str:
    """A value as a CSV cell: nested values as JSON; text a spreadsheet would run as a
    formula (starting with = + - @, a tab or a carriage return) behind a quote `'`."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    if isinstance(value, str) and value[:1] in _FORMULA:
        return "'" + clean(value)
    return clean(str(value)) if isinstance(value, str) else str(value)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class View:
    """How a listing shows as a table: `columns` in `-o table`, more in `-o wide`;
    `keys` never cut (default: ids, names, sequence numbers, `*_id`)."""

    columns: Sequence[str]
    wide: Sequence[str] = ()
    keys: Sequence[str] | None = None

    def key_columns(self) -> set[str]:
        columns = [*self.columns, *self.wide]
        return set(self.keys) if self.keys is not None else {c for c in columns if is_key(c)}


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None,
          *, total: int | None = None, offset: int = 0, next_cursor: str | None = None,
          keys: Sequence[str] | None = None, wide: bool = False) -> None:
    """Rows as a table on stdout; a note on stderr when it shows part of a listing or
    leaves columns out."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    key_set = set(keys) if keys is not None else {c for c in columns if is_key(c)}
    shown = list(range(len(columns)))
    if not wide:
        shown = _fit(cells, columns, key_set, console.width)
    out = Table(title=title, show_lines=False, header_style="bold")
    for index in shown:
        name = columns[index]
        if wide or name in key_set:
            width = max([len(name), *(len(r[index]) for r in cells)])
            out.add_column(name, no_wrap=True, min_width=width)
        else:
            out.add_column(name, overflow="fold")
    for row in cells:
        out.add_row(*[row[i] for i in shown])
    needed = _natural_width(cells, [columns[i] for i in shown], shown) if wide else \
        _least_width(cells, columns, key_set, shown)
    if needed > console.width:  # ids whole, though the terminal wraps the line
        _Console(width=needed, color_system=console.color_system, markup=False,
                 force_terminal=console.is_terminal, file=console.file).print(out)
    else:
        console.print(out)
    hidden = [columns[i] for i in range(len(columns)) if i not in shown]
    if hidden:
        note(f"left out at this width: {', '.join(hidden)} (-o wide shows every column)")
    page_note(len(rows), total=total, offset=offset, next_cursor=next_cursor)


def page_note(count: int, *, total: int | None, offset: int = 0,
              next_cursor: str | None = None) -> None:
    if total is not None and total > offset + count:
        how = f"--cursor {next_cursor}" if next_cursor else f"--offset {offset + count}"
        note(f"showing {offset + 1}-{offset + count} of {total}; next page: {how}")


def note(text: str) -> None:
    err_console.print(f"[dim]{escape(text)}[/dim]", markup=True, highlight=False,
                      soft_wrap=True)


_FLOOR = 8  # the narrowest a wrapping column is squeezed to


def _fit(cells: list[list[str]], columns: Sequence[str], keys: set[str],
         width: int) -> list[int]:
    """The columns to show in `width`: every key column at full width; the others wrap,
    and are left out from the last while even that does not fit."""
    shown = list(range(len(columns)))
    while _least_width(cells, columns, keys, shown) > width:
        optional = [i for i in shown if columns[i] not in keys]
        if not optional:
            break
        shown.remove(optional[-1])
    return shown


def _least_width(cells: list[list[str]], columns: Sequence[str], keys: set[str],
                 shown: list[int]) -> int:
    """The narrowest the table of `shown` columns can be: keys whole, others folded."""
    def need(index: int) -> int:
        longest = max([len(columns[index]), *(len(r[index]) for r in cells)])
        return longest if columns[index] in keys else min(longest, _FLOOR)

    return sum(need(i) + 3 for i in shown) + 1


def _natural_width(cells: list[list[str]], names: Sequence[str], shown: list[int]) -> int:
    return sum(max([len(name), *(len(r[i]) for r in cells)]) + 3
               for name, i in zip(names, shown, strict=True)) + 1


# An ISO 8601 time as the API writes it: shown to the second in tables (JSON keeps it all).
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]00:00)?")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, str) and len(value) <= 40 and (time := _ISO_TIME.fullmatch(value)):
        return f"{time[1]} {time[2]}" + ("Z" if time[3] else "")
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def rows_of(data: Any) -> list[dict[str, Any]]:
    """A listing's rows as JSON objects: the items of a page, or a list's elements."""
    data = jsonable(data)
    if isinstance(data, dict) and "items" in data:
        return data["items"]
    if isinstance(data, list):
        return data
    return [data]


def emit(fmt: str, data: Any, render: Callable[[Any], None] | None = None, *,
         view: View | None = None, title: str | None = None) -> None:
    """Print a command's result in `fmt` (one of FORMATS).

    `view` prints a listing (a page, or a list) as a table; `render` prints anything else
    for people (it gets the result, not JSON). `-o csv` of a single object is one row."""
    if fmt == "json":
        print_json(data)
    elif fmt == "yaml":
        print_yaml(data)
    elif fmt == "csv":
        print_csv(rows_of(data))
    elif view is not None:
        body = jsonable(data)
        rows = rows_of(body)
        wide = fmt == "wide"
        columns = [*view.columns, *(view.wide if wide else ())]
        paged = isinstance(body, dict) and "items" in body
        table(rows, columns, title, keys=sorted(view.key_columns()), wide=wide,
              total=body["total"] if paged else None,
              offset=body.get("offset", 0) if paged else 0,
              next_cursor=body.get("next_cursor") if paged else None)
    elif render is not None:
        render(data)
    else:
        print_yaml(data)


def fail(error: CharterError, as_json: bool) -> None:
    """An error: under `--json` (or `-o json|yaml`) as `{code, message, details}` on stdout,
    the object the API answers in its body; otherwise one line on stderr."""
    if as_json:
        print_json(error.to_dict())
    else:
        advice = hint(error.code)
        text = error.message + (f"; {advice}" if advice else "")
        err_console.print(f"[red]error[/red] {escape(f'[{error.code}]')}: {escape(text)}",
                          markup=True, highlight=False, soft_wrap=True)
