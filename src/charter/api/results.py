"""A query's result in the form the caller's `Accept` header asks for: an Arrow IPC stream
(the default), JSON rows with the columns' names and types, or CSV."""

from __future__ import annotations

import base64
import io
import json
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from fastapi import Response
from pydantic import BaseModel, Field

from charter.errors import CharterError

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON = "application/json"
CSV = "text/csv"
MEDIA_TYPES = (ARROW_STREAM, JSON, CSV)  # the first is the default


class NotAcceptable(CharterError):
    """None of the media types the caller accepts is one this answer comes in."""

    http_status = 406
    default_code = "not_acceptable"


class ResultColumn(BaseModel):
    name: str = Field(description="Unique within the result: a repeated name gets `_2`, ...")
    type: str = Field(description="The Arrow type, e.g. `int64`, `string`, "
                      "`timestamp[us, tz=UTC]`, `decimal128(10, 2)`.")


class QueryRows(BaseModel):
    """A result as JSON: one object per row, keyed by column name. Timestamps and dates are
    ISO 8601, decimals strings (exact), binary base64, NaN and infinities the strings
    `NaN`, `Infinity`, `-Infinity`; 64-bit integers are numbers (exact in JavaScript up
    to 2**53; use Arrow or CSV for larger)."""

    columns: list[ResultColumn]
    rows: list[dict[str, Any]]


# The 200 answer of a query in the OpenAPI document, one entry per media type.
QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "The result, in the offered media type `Accept` ranks highest "
    f"(default `{ARROW_STREAM}`).",
    "model": QueryRows,
    "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
                CSV: {"schema": {"type": "string"}}}}}


def choose_media_type(accept: str | None) -> str:
    """The media type to answer in: the offered one the `Accept` header ranks highest (by
    q, then by the order it names them), the Arrow stream for none or `*/*`."""
    if not accept or not accept.strip():
        return ARROW_STREAM
    best: tuple[float, int, str] | None = None
    for order, item in enumerate(accept.split(",")):
        kind, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if not 0 < weight <= 1:
            continue
        offered = _offered(kind.lower())
        if offered and (best is None or weight > best[0]):
            best = (weight, order, offered)
    if best is None:
        raise NotAcceptable(f"a query result comes as {', '.join(MEDIA_TYPES)}; the Accept "
                            f"header names none of them: {accept[:200]!r}",
                            offered=list(MEDIA_TYPES))
    return best[2]


def _offered(kind: str) -> str | None:
    if kind in MEDIA_TYPES:
        return kind
    if kind in ("*/*", "*", "application/*"):
        return ARROW_STREAM
    if kind == "text/*":
        return CSV
    return None


def result_response(table: pa.Table, media_type: str) -> Response:
    """The whole result as one answer in `media_type`."""
    headers = {"vary": "Accept"}
    if media_type == JSON:
        body = json.dumps(_rows(table), allow_nan=False, separators=(",", ":"))
        return Response(body, media_type=JSON, headers=headers)
    if media_type == CSV:
        sink = io.BytesIO()
        pacsv.write_csv(_csv_ready(table), sink)
        return Response(sink.getvalue(), media_type=f"{CSV}; charset=utf-8", headers=headers)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM, headers=headers)


def _rows(table: pa.Table) -> dict[str, Any]:
    names = _unique(table.column_names)
    columns = [{"name": n, "type": str(f.type)} for n, f in zip(names, table.schema, strict=True)]
    values = [_json_values(column) for column in table.columns]
    return {"columns": columns,
            "rows": [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
            if values else [{} for _ in range(table.num_rows)]}


def _json_values(column: pa.ChunkedArray) -> list[Any]:
    """A column's values as JSON carries them; only the kinds that need it are converted
    one by one (a third of the time of a million-row answer)."""
    kind = column.type
    if (pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_boolean(kind)
            or pa.types.is_large_string(kind) or pa.types.is_null(kind)):
        return column.to_pylist()
    if pa.types.is_floating(kind) and pc.all(pc.is_finite(column)).as_py() is not False:
        return column.to_pylist()
    return [_plain(v) for v in column.to_pylist()]


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (`x`, `x_2`, ...), so every column has its key in a row."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _plain(value: Any) -> Any:
    """A value as JSON can carry it exactly."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):  # an interval: months, days, nanoseconds
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _csv_ready(table: pa.Table) -> pa.Table:
    """Columns CSV cannot hold as they are (lists, structs, maps, intervals) as JSON text."""
    for i, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_nested(kind) or pa.types.is_interval(kind):
            text = [None if v is None else json.dumps(_plain(v), allow_nan=False)
                    for v in table.column(i).to_pylist()]
            table = table.set_column(i, pa.field(field.name, pa.string()),
                                     pa.array(text, pa.string()))
    return table
