"""SDK fixtures: the lake's producer account, to write to."""

from tests.lake.conftest import retail  # noqa: F401
