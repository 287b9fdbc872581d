"""Build a platform Runtime from settings, with every domain loaded and subscribed."""

from __future__ import annotations

from charter.core.context import Runtime
from charter.core.db import Database
from charter.core.storage import open_store
from charter.settings import Settings


def load_domains() -> None:
    """Import every domain service so its operations, Cedar sources and controls register."""
    from charter.audit import service as _audit  # noqa: F401
    from charter.controls import service as _controls  # noqa: F401
    from charter.identity import service as _identity  # noqa: F401
    from charter.org import service as _org  # noqa: F401


def build_runtime(settings: Settings) -> Runtime:
    load_domains()
    from charter.controls import service as controls

    runtime = Runtime(settings=settings, db=Database(settings.resolved_database_url),
                      storage=open_store(settings.resolved_storage_root))
    controls.install(runtime)
    return runtime
