"""Text the metadata store cannot hold: found anywhere in decoded JSON, escaped for records."""

from __future__ import annotations

import json

import pytest

from charter.core.text import escaped, refused, refused_in


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "x\udfff", "\udc80"])
def test_nul_and_lone_surrogates_are_refused(value):
    assert refused(value)


@pytest.mark.parametrize("value", ["", "plain", "\x01\x1f\x7f", "é€😀", "\\u0000", "\uffff"])
def test_everything_else_is_storable(value):
    assert not refused(value)
    assert escaped(value) == value


def test_escapes_are_storable_and_say_what_was_sent():
    assert escaped("a\x00b\udc80c") == "a\\x00b\\udc80c"
    assert not refused(escaped("\x00\ud800\udfff"))


def test_refused_text_is_found_in_keys_and_in_json_nested_thousands_deep():
    deep: object = "\x00"
    for _ in range(10_000):
        deep = [deep]
    assert refused_in(deep)
    assert refused_in({"ok": {"bad\x00key": 1}})
    assert refused_in(json.loads('{"a": ["x", {"b": "\\ud800"}]}'))
    assert not refused_in(json.loads('{"a": ["\\ud83d\\ude00", 1, null, true, 2.5]}'))
