"""Data quality rules: parsed from `kind(args)` text, checked with Arrow compute before a
write commits. A write that breaks any rule writes nothing."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import Invalid

KINDS = ("not_null", "unique", "range", "allowed", "regex", "row_count")
_RULE = re.compile(r"\s*([a-z_]+)\s*\((.*)\)\s*", re.DOTALL)
EXAMPLES = 5


def _bad(text: str, why: str) -> Invalid:
    return Invalid(f"invalid rule {text!r}: {why}. Rules: not_null(col), unique(col), "
                   "range(col, min, max), allowed(col, a|b|c), regex(col, pattern), "
                   "row_count(min, max)", code="invalid_rule")


def _number(value: str, text: str) -> float | None:
    value = value.strip()
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise _bad(text, f"{value!r} is not a number") from None


def parse_rule(text: str) -> dict[str, Any]:
    """`range(age, 18, 120)` -> {"kind": "range", "column": "age", "min": 18, "max": 120}."""
    match = _RULE.fullmatch(text)
    if not match or match.group(1) not in KINDS:
        raise _bad(text, "unknown rule")
    kind, body = match.group(1), match.group(2)
    if kind == "row_count":
        bounds = body.split(",")
        if len(bounds) != 2:
            raise _bad(text, "row_count takes min and max (either may be empty)")
        return {"kind": kind, "min": _number(bounds[0], text), "max": _number(bounds[1], text)}
    column, _, rest = body.partition(",")
    column = column.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", column):
        raise _bad(text, "the first argument must be a column name")
    rule: dict[str, Any] = {"kind": kind, "column": column}
    if kind in ("not_null", "unique"):
        if rest.strip():
            raise _bad(text, f"{kind} takes only a column")
    elif kind == "range":
        bounds = rest.split(",")
        if len(bounds) != 2:
            raise _bad(text, "range takes a column, min and max")
        rule["min"], rule["max"] = _number(bounds[0], text), _number(bounds[1], text)
    elif kind == "allowed":
        values = [v.strip() for v in rest.split("|") if v.strip()]
        if not values:
            raise _bad(text, "allowed takes a column and values separated by |")
        rule["values"] = values
    elif kind == "regex":
        pattern = rest.strip().strip("'\"")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _bad(text, f"bad pattern: {exc}") from None
        if not pattern:
            raise _bad(text, "regex takes a column and a pattern")
        rule["pattern"] = pattern
    return rule


def rule_text(rule: dict[str, Any]) -> str:
    def num(v: float | None) -> str:
        if v is None:
            return ""
        return str(int(v)) if float(v).is_integer() else repr(v)

    kind = rule["kind"]
    if kind == "row_count":
        return f"row_count({num(rule['min'])}, {num(rule['max'])})"
    if kind == "range":
        return f"range({rule['column']}, {num(rule['min'])}, {num(rule['max'])})"
    if kind == "allowed":
        return f"allowed({rule['column']}, {'|'.join(rule['values'])})"
    if kind == "regex":
        return f"regex({rule['column']}, {rule['pattern']})"
    return f"{kind}({rule['column']})"


def check(rules: list[dict[str, Any]], new: pa.Table, existing: pa.Table | None,
          replaces: bool) -> list[dict[str, Any]]:
    """Every rule the write would break, with the number of failing rows and examples:
    the numbers of the first failing rows (1: the file's first row of data), never their
    values.

    `existing` holds the table's current rows when the write appends to them.
    """
    failures = []
    for rule in rules:
        if rule["kind"] == "row_count":
            total = new.num_rows + (0 if replaces or existing is None else existing.num_rows)
            low, high = rule["min"], rule["max"]
            if (low is not None and total < low) or (high is not None and total > high):
                failures.append({"rule": rule_text(rule), "failing_rows": total,
                                 "examples": [{"row_count": total}]})
            continue
        column = rule["column"]
        if column not in new.column_names:
            failures.append({"rule": rule_text(rule), "failing_rows": new.num_rows,
                             "examples": [{"missing_column": column}]})
            continue
        mask = _failing(rule, new[column], None if replaces else existing)
        bad = pc.sum(pc.cast(mask, pa.int64())).as_py() or 0
        if bad:
            # Row numbers only: a failing value may be PII the column is (or will be)
            # tagged as, and the writer has the file to look them up in.
            failing = pc.indices_nonzero(pc.fill_null(mask, False).combine_chunks())
            failures.append({"rule": rule_text(rule), "failing_rows": bad,
                             "examples": [{"row": i + 1} for i in
                                          failing.slice(0, EXAMPLES).to_pylist()]})
    return failures


def _failing(rule: dict[str, Any], values: pa.ChunkedArray,
             existing: pa.Table | None) -> pa.ChunkedArray:
    kind = rule["kind"]
    if kind == "not_null":
        return pc.is_null(values)
    valid = pc.is_valid(values)
    if kind == "unique":
        pool = values
        if existing is not None and rule["column"] in existing.column_names:
            pool = pa.chunked_array(values.chunks + existing[rule["column"]].cast(values.type)
                                    .chunks, type=values.type)
        counts = pc.value_counts(pool)
        repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
        return pc.and_(valid, pc.is_in(values, value_set=repeated))
    if kind == "range":
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            raise Invalid(f"range({rule['column']}, ...) needs a numeric column, not "
                          f"{values.type}", code="invalid_rule")
        low = pc.less(values, rule["min"]) if rule["min"] is not None else None
        high = pc.greater(values, rule["max"]) if rule["max"] is not None else None
        out = low if high is None else high if low is None else pc.or_(low, high)
        return pc.fill_null(out, False) if out is not None else pc.is_null(values)
    as_text = pc.cast(values, pa.string())
    if kind == "allowed":
        return pc.and_(valid, pc.invert(pc.is_in(as_text, value_set=pa.array(rule["values"]))))
    matched = pc.match_substring_regex(as_text, f"^(?:{rule['pattern']})$")
    return pc.and_(valid, pc.invert(pc.fill_null(matched, False)))
