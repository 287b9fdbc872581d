"""The operation pipeline's declarations."""

from __future__ import annotations

import pytest

from charter.access.pipeline import operation


def test_only_plain_reads_can_be_read_only():
    with pytest.raises(ValueError):
        operation("test:WriteThing", "write", target=lambda ctx: None, read_only=True)
    with pytest.raises(ValueError):
        operation("test:ReadPolicy", "read", target=lambda ctx: None, read_only=True,
                  changes_policy=True)


def test_permission_set_patterns_take_exclusions():
    from charter.access.actions import ACTIONS, expand

    reads = expand(["@read"])
    assert "lake:ReadTable" in reads
    assert expand(["@read", "!lake:ReadTable"]) == [a for a in reads if a != "lake:ReadTable"]
    assert expand(["lake:*", "!lake:*Table*"]) == sorted(
        a for a in ACTIONS if a.startswith("lake:") and "Table" not in a)
    assert expand(["!@read", "@read"]) == []  # an exclusion holds wherever it stands
