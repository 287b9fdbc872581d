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
