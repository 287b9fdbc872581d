"""Fixtures of the identity tests."""

from __future__ import annotations

import pytest

from charter import Client
from charter.api.app import create_app
from charter.platform.runtime import build_runtime


@pytest.fixture
def elsewhere(platform):
    """The administrator on a second platform process over the same stores (another
    worker of `charter server`, say)."""
    runtime = build_runtime(platform.settings)
    with Client(token=platform.admin_token, app=create_app(runtime=runtime)) as admin:
        yield admin
    runtime.close()
