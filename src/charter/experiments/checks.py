"""Checks of what a client sends to be logged (keys, values, batch sizes, times): plain
functions over the schemas, so the SDK can check a whole input before it sends any of it."""

from __future__ import annotations

import re

from charter.errors import Invalid
from charter.experiments.schemas import (
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_KEY,
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    RunLog,
)

# Milliseconds since the epoch of 0001-01-01 and of the last millisecond of 9999: the
# times a date can be given back for.
MIN_TIME = -62_135_596_800_000
MAX_TIME = 253_402_300_799_999


def check_length(value: str, limit: int, what: str) -> None:
    if len(value) > limit:
        raise Invalid(f"{what} is {len(value)} characters long; at most {limit} are accepted",
                      code="value_too_long")


# What a key may not hold: a control character, a leading `/`, or a `..` part.
_BAD_KEY = re.compile(r"[\x00-\x1f\x7f]|\A/|(?:\A|/)\.\.(?:/|\Z)")


def check_key(key: str, what: str) -> None:
    """A param, metric or tag key: 1-250 characters, none a control character, no `..`
    part or leading `/` (MLflow's rule: a key may become a path)."""
    if not key:
        raise Invalid(f"a {what} key is empty", code="invalid_key")
    check_length(key, MAX_KEY, f"{what} key {key[:40]!r}...")
    if _BAD_KEY.search(key):
        raise Invalid(f"invalid {what} key {key!r}: use letters, digits and _ - . / space, "
                      "without a leading / or a .. part", code="invalid_key")


def check_tags(tags: dict[str, str], what: str = "tag") -> None:
    """At most MAX_BATCH_TAGS tags, each key and value checked."""
    if len(tags) > MAX_BATCH_TAGS:
        raise Invalid(f"at most {MAX_BATCH_TAGS} tags are accepted, not {len(tags)}",
                      code="too_many_tags")
    for key, value in tags.items():
        check_key(key, what)
        check_length(value, MAX_TAG_VALUE, f"the value of {what} {key!r}")


def check_time(millis: int | None, what: str) -> None:
    """A time in milliseconds since the epoch, within years 1 to 9999."""
    if millis is not None and not MIN_TIME <= millis <= MAX_TIME:
        raise Invalid(f"{what} {millis} is not a time in years 1 to 9999 (milliseconds "
                      "since 1970-01-01)", code="invalid_time")


def check_batch(body: RunLog, *, limits: bool = True) -> None:
    """Refuse a batch past MLflow's limits (unless `limits` is false) or with a bad key or
    value, before any write."""
    for items, limit, what in ((body.metrics, MAX_BATCH_METRICS, "metrics"),
                               (body.params, MAX_BATCH_PARAMS, "params"),
                               (body.tags, MAX_BATCH_TAGS, "tags")):
        if limits and len(items) > limit:
            raise Invalid(f"a batch holds at most {limit} {what}, not {len(items)}; send the "
                          "rest in further batches", code="batch_too_large")
    for key in {m.key for m in body.metrics}:  # a batch repeats its keys: each once
        check_key(key, "metric")
    for p in body.params:
        check_key(p.key, "param")
        check_length(p.value, MAX_PARAM_VALUE, f"the value of param {p.key!r}")
    for t in body.tags:
        check_key(t.key, "tag")
        check_length(t.value, MAX_TAG_VALUE, f"the value of tag {t.key!r}")
