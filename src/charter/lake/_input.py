"""Files written into the lake: CSV (its delimiter found or given) and Parquet read as
Arrow, and the columns of a file whose types a table cannot take.

Key contracts:
- A CSV's delimiter is the one of comma, semicolon, tab and pipe that its header line
  holds most often, outside quotes (a one-column file: comma), unless the writer names it.
- An empty file is `empty_file`; a CSV with a header and no rows is `no_rows`.
- `mismatched` says which columns a table cannot take from a file, by the rule pyiceberg
  applies on write (equal types, or a promotion Iceberg allows), so pyiceberg's own
  check, which prints a table on stdout, never fails.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyiceberg.exceptions import ResolveError
from pyiceberg.io.pyarrow import pyarrow_to_schema
from pyiceberg.schema import Schema, promote

from charter.errors import Invalid

TYPES = {"long": pa.int64(), "int": pa.int32(), "double": pa.float64(), "string": pa.string(),
         "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us")}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_NAMED = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "\\t": "\t"}
_HEADER_SAMPLE = 1 << 16  # bytes of the file searched for the header line


def read_input(data: bytes, fmt: str, declared: dict[str, Any] | None, *,
               max_columns: int, delimiter: str | None = None) -> pa.Table:
    """CSV or Parquet bytes as an Arrow table, typed by the declared schema if given; a
    file wider than `max_columns` is refused from its header, before its rows are read."""
    if not data.strip():
        raise Invalid(f"the {fmt} file is empty: nothing to write", code="empty_file")
    types = _declared_types(declared) if declared else None
    try:
        if fmt == "parquet":
            source = pq.ParquetFile(io.BytesIO(data))
            _check_width(len(source.schema_arrow), max_columns)
            table = source.read()
            table = table.cast(pa.schema([(n, types.get(n, t)) for n, t in
                                          zip(table.column_names, table.schema.types,
                                              strict=True)])) if types else table
        else:
            sep = csv_delimiter(data, delimiter)
            _check_width(_csv_width(data, sep), max_columns)
            # An empty CSV field is a missing value, for strings as for numbers.
            options = pacsv.ConvertOptions(column_types=types or {}, strings_can_be_null=True)
            table = pacsv.read_csv(io.BytesIO(data), convert_options=options,
                                   parse_options=pacsv.ParseOptions(delimiter=sep))
            if table.num_rows == 0 and not types:  # declared types: an empty table
                raise Invalid("the csv file has a header line and no rows: nothing to write",
                              code="no_rows", columns=table.column_names[:100])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        kind = "malformed_csv" if fmt == "csv" else "malformed_parquet"
        message = str(exc).splitlines()[0][:300]
        raise Invalid(f"cannot read the {fmt} file: {message}", code=kind) from None
    return _checked(table, max_columns)


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


def _csv_width(data: bytes, delimiter: str) -> int:
    """The number of fields in a CSV's first record, read without reading the rest."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="")
    try:
        return len(next(csv.reader(text, delimiter=delimiter), []))
    except csv.Error:
        return 0  # pyarrow's reader says what is wrong with it


def _check_width(columns: int, max_columns: int) -> None:
    if columns > max_columns:
        raise Invalid(f"the file has {columns} columns; at most {max_columns} can be ingested "
                      "(CHARTER_LAKE_INGEST_MAX_COLUMNS)", code="too_many_columns")


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


def _declared_types(declared: dict[str, Any]) -> dict[str, pa.DataType]:
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
        out[name] = TYPES[kind]
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
