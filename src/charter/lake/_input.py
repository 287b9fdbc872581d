"""Files written into the lake: CSV (its delimiter found or given) and Parquet read as
Arrow, and the columns of a file whose types a table cannot take.

Key contracts:
- A CSV's delimiter is the one of comma, semicolon, tab and pipe that its header line
  holds most often, outside quotes (a one-column file: comma), unless the writer names it.
- An empty file is `empty_file`; a CSV with a header and no rows is `no_rows`.
- `mismatched` says which columns a table cannot take from a file, by the rule pyiceberg
  applies on write (equal types, or a promotion Iceberg allows), so pyiceberg's own
  check, which prints a table on stdout, never fails.
- A CSV written into an existing table is read with the table's column types (declared
  types win), so `1` in a double column is a double and an empty column keeps its type;
  a value its column's type cannot take is `schema_mismatch`.
- No error names a value of the file: a value may be PII that only the table's readers
  may see, and a message reaches the audit trail. Errors name the column, the row number
  (1: the first row of data) where it is known, and what was expected.
- A CSV's width is counted from its header with bounded memory, stopping past the limit.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyiceberg.exceptions import ResolveError
from pyiceberg.io.pyarrow import pyarrow_to_schema, schema_to_pyarrow
from pyiceberg.schema import Schema, promote

from charter.errors import Invalid

TYPES = {"long": pa.int64(), "int": pa.int32(), "double": pa.float64(), "string": pa.string(),
         "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us")}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_NAMED = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "\\t": "\t"}
_HEADER_SAMPLE = 1 << 16  # bytes of the file searched for the header line


@dataclass(frozen=True)
class ColumnType:
    """The type a CSV column is read with, and where it comes from."""
    arrow: pa.DataType
    name: str  # as a user knows it: the schema's type name, or the table's
    from_table: bool


def read_input(data: bytes, fmt: str, declared: dict[str, Any] | None, *,
               max_columns: int, delimiter: str | None = None,
               table: Schema | None = None) -> pa.Table:
    """CSV or Parquet bytes as an Arrow table, typed by the declared schema if given (a
    CSV also by the types of the `table` it is written into); a file wider than
    `max_columns` is refused from its header, before its rows are read."""
    if not data or data.isspace():  # no copy of the file, as strip() would make
        raise Invalid(f"the {fmt} file is empty: nothing to write", code="empty_file")
    types = _declared_types(declared) if declared else {}
    if fmt == "parquet":
        return _checked(_read_parquet(data, types, max_columns), max_columns)
    sep = csv_delimiter(data, delimiter)
    _check_width(_csv_width(data, sep, max_columns), max_columns)
    typed = {**(table_types(table) if table is not None else {}), **types}
    # An empty CSV field is a missing value, for strings as for numbers.
    options = pacsv.ConvertOptions(column_types={n: t.arrow for n, t in typed.items()},
                                   strings_can_be_null=True)
    try:
        read = pacsv.read_csv(io.BytesIO(data), convert_options=options,
                              parse_options=pacsv.ParseOptions(delimiter=sep))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise _csv_error(str(exc), data, sep, typed) from None
    if read.num_rows == 0 and not types:  # declared types: an empty table
        raise Invalid("the csv file has a header line and no rows: nothing to write",
                      code="no_rows", columns=read.column_names[:100])
    return _checked(read, max_columns)


def table_types(table: Schema) -> dict[str, ColumnType]:
    """The CSV reading type of each of a table's columns of a plain type (not nested,
    not binary: those are read as the file gives them)."""
    out = {}
    for field, kind in zip(table.fields, schema_to_pyarrow(table).types, strict=True):
        kind = pa.string() if pa.types.is_large_string(kind) else kind
        if (pa.types.is_boolean(kind) or pa.types.is_integer(kind)
                or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
                or pa.types.is_string(kind) or pa.types.is_date(kind)
                or pa.types.is_timestamp(kind)):
            out[field.name] = ColumnType(kind, str(field.field_type), from_table=True)
    return out


def _read_parquet(data: bytes, types: dict[str, ColumnType], max_columns: int) -> pa.Table:
    try:
        source = pq.ParquetFile(io.BytesIO(data))
        _check_width(len(source.schema_arrow), max_columns)
        read = source.read()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        raise Invalid(f"cannot read the parquet file: {redacted(str(exc))}",
                      code="malformed_parquet") from None
    columns = []
    for name, column in zip(read.column_names, read.columns, strict=True):
        wanted = types.get(name)
        if wanted is not None and column.type != wanted.arrow:
            try:
                column = column.cast(wanted.arrow)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                # pyarrow's message quotes the value it could not cast
                raise Invalid(f"cannot read the parquet file: column {name!r} holds "
                              f"{column.type} values that are not all of the declared type "
                              f"{wanted.name}", code="malformed_parquet",
                              columns=[{"column": name, "expected": wanted.name,
                                        "found": str(column.type)}]) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, names=read.column_names)


_PARSE = re.compile(r"CSV parse error: (?:Row #(\d+): )?Expected (\d+) columns, got (\d+)")
_CONVERT = re.compile(r"In CSV column #(\d+): CSV conversion error to ([^:]+):")


def _csv_error(said: str, data: bytes, sep: str, typed: dict[str, ColumnType]) -> Invalid:
    """pyarrow's error about a CSV, told without the row text or value it quotes."""
    parse = _PARSE.search(said)
    if parse:
        row = _bad_row(data, sep)
        where = f"row {row}" if row is not None else "a row"
        return Invalid(f"cannot read the csv file: {where} has {parse.group(3)} fields where "
                       f"the header has {parse.group(2)}", code="malformed_csv",
                       **({"row": row} if row is not None else {}))
    convert = _CONVERT.search(said)
    if convert:
        index, kind = int(convert.group(1)), convert.group(2)
        names = _csv_header(data, sep, index + 1)
        name = names[index] if index < len(names) else f"#{index + 1}"
        wanted = typed.get(name)
        expected = wanted.name if wanted else kind
        if wanted is not None and wanted.from_table:
            columns = [{"column": n, "expected": typed[n].name,
                        "found": f"a value that is not a valid {typed[n].name}"}
                       for n in _unconvertible(data, sep, typed) or [name]]
            named = ", ".join(f"{c['column']} ({c['expected']})" for c in columns[:10])
            return Invalid(f"the file does not match the table's schema: column(s) {named} "
                           "hold values not of that type; nothing was written",
                           code="schema_mismatch", columns=columns)
        return Invalid(f"cannot read the csv file: column {name} holds a value that is not "
                       f"a valid {expected}", code="malformed_csv", column=name,
                       expected=expected)
    return Invalid(f"cannot read the csv file: {redacted(said)}", code="malformed_csv")


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|(?<=: )[^:]*$")


def redacted(said: str) -> str:
    """A library's one-line message about a file without what it quotes of the data:
    quoted text, and text after the last `: ` (where pyarrow puts the row it read)."""
    line = said.splitlines()[0] if said else ""
    return _QUOTED.sub("...", line)[:300]


def _unconvertible(data: bytes, sep: str, typed: dict[str, ColumnType]) -> list[str]:
    """The typed columns with a value their type cannot take, found by reading them as
    text and casting each (pyarrow's reader stops at the first): on the error path only."""
    as_text = pacsv.ConvertOptions(column_types=dict.fromkeys(typed, pa.string()),
                                   strings_can_be_null=True)
    try:
        read = pacsv.read_csv(io.BytesIO(data), convert_options=as_text,
                              parse_options=pacsv.ParseOptions(delimiter=sep))
    except pa.ArrowException:
        return []
    bad = []
    for name in read.column_names:
        if name in typed and not pa.types.is_string(typed[name].arrow):
            try:
                read[name].cast(typed[name].arrow)
            except pa.ArrowException:
                bad.append(name)
    return bad


def _bad_row(data: bytes, sep: str) -> int | None:
    """The number of the first row (1: the first row of data) whose width is not the
    header's, read again on one thread, which numbers rows: on the error path only."""
    found: list[int] = []

    def seen(row: Any) -> str:
        if row.number is not None:
            found.append(row.number - 1)  # pyarrow counts the header as row 1
        return "error"

    with contextlib.suppress(pa.ArrowException):
        pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(use_threads=False),
                       parse_options=pacsv.ParseOptions(delimiter=sep, invalid_row_handler=seen))
    return found[0] if found else None


def csv_delimiter(data: bytes, given: str | None) -> str:
    """The delimiter a CSV is read with: `given` (a character or its name), else the
    candidate its header line holds most often outside quotes."""
    if given is not None:
        sep = _NAMED.get(given, given)
        if len(sep) != 1 or sep in "\"\r\n" or sep.isalnum():
            raise Invalid(f"a delimiter is one character such as {', '.join(_NAMED)}, not "
                          f"{given!r}", code="invalid_delimiter")
        return sep
    header = data[:_HEADER_SAMPLE].decode("utf-8", errors="replace")
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda c: counts[c])  # ties: the first, comma
    return best if counts[best] else ","


def _csv_width(data: bytes, delimiter: str, max_columns: int) -> int:
    """The number of fields in a CSV's first record, counted up to `max_columns` + 1 and
    without copying it: a header of millions of fields costs no memory. A quote opens a
    quoted field only at the start of a field, as pyarrow reads it; the delimiter, quote
    and line ends are ASCII, so never part of a UTF-8 character."""
    special = re.compile(b"[" + re.escape(delimiter.encode()) + b'"\r\n]')
    fields, pos, start = 1, 0, 0
    while True:
        found = special.search(data, pos)
        if found is None:
            return fields
        char, pos = found.group(), found.end()
        if char == b'"' and found.start() == start:  # a quoted field: up to its end
            while True:
                close = data.find(b'"', pos)
                if close < 0:
                    return fields
                pos = close + 1
                if data[pos:pos + 1] != b'"':  # "" is a quote inside the field
                    break
                pos += 1
        elif char in (b"\r", b"\n"):
            return fields
        elif char != b'"':
            fields += 1
            if fields > max_columns:
                return fields
            start = pos


def _csv_header(data: bytes, delimiter: str, fields: int) -> list[str]:
    """The first `fields` names of a CSV's header (its width is known to be bounded)."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="")
    try:
        return next(csv.reader(text, delimiter=delimiter), [])[:fields]
    except csv.Error:
        return []


def _check_width(columns: int, max_columns: int) -> None:
    if columns > max_columns:
        # a CSV's columns are counted only up to one past the bound
        raise Invalid(f"the file has more than {max_columns} columns; at most {max_columns} "
                      "can be ingested (CHARTER_LAKE_INGEST_MAX_COLUMNS)",
                      code="too_many_columns")


def _checked(table: pa.Table, max_columns: int) -> pa.Table:
    """Refuse what a table cannot hold: repeated names, columns with no type."""
    _check_width(table.num_columns, max_columns)
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise Invalid(f"the file has two columns named {name!r}", code="duplicate_column")
        seen.add(name)
    untyped = [f.name for f in table.schema if pa.types.is_null(f.type)]
    if untyped:
        raise Invalid(f"no value to infer the type of column(s) {', '.join(untyped[:10])} "
                      "from (an empty file or an empty column): declare their types with a "
                      "schema", code="untyped_column")
    return table


def _declared_types(declared: dict[str, Any]) -> dict[str, ColumnType]:
    columns = declared.get("columns") if isinstance(declared, dict) else None
    if not isinstance(columns, list) or not columns:
        raise Invalid('a schema is {"columns": [{"name": ..., "type": ...}, ...]}',
                      code="invalid_schema")
    out = {}
    for column in columns:
        name, kind = (column.get("name"), column.get("type")) if isinstance(column, dict) \
            else (None, None)
        if not isinstance(name, str) or kind not in TYPES:
            raise Invalid(f"invalid schema column {json.dumps(column)}: types are "
                          f"{', '.join(TYPES)}", code="invalid_schema")
        out[name] = ColumnType(TYPES[kind], kind, from_table=False)
    return out


def mismatched(table: Schema, file: pa.Schema) -> list[dict[str, str]]:
    """The table's columns that the file's cannot be written into: {column, expected,
    found}, `found` "missing" for a required column the file lacks."""
    known = [name for name in file.names if _has(table, name)]
    provided = pyarrow_to_schema(pa.schema([file.field(n) for n in known]),
                                 name_mapping=table.name_mapping)
    out = []
    for field in table.fields:
        if field.name not in known:
            if field.required:
                out.append({"column": field.name, "expected": f"{field.field_type} (required)",
                            "found": "missing"})
            continue
        given = provided.find_field(field.name)
        if field.required and not given.required:
            out.append({"column": field.name, "expected": f"{field.field_type} (required)",
                        "found": f"{given.field_type} (may be empty)"})
        elif given.field_type != field.field_type and not _promotes(given, field):
            out.append({"column": field.name, "expected": str(field.field_type),
                        "found": str(given.field_type)})
    return out


def _has(table: Schema, name: str) -> bool:
    try:
        table.find_field(name, case_sensitive=True)
    except ValueError:
        return False
    return True


def _promotes(given: Any, field: Any) -> bool:
    try:
        promote(given.field_type, field.field_type)
    except ResolveError:
        return False
    return True
