"""Build a platform Runtime from settings, with every domain loaded and subscribed."""

from __future__ import annotations

import os
import secrets
import tempfile

from charter.core.context import Runtime
from charter.core.db import Database
from charter.core.storage import open_store
from charter.settings import Settings


def load_domains() -> None:
    """Import every domain service so its operations, Cedar sources and controls register."""
    from charter.audit import service as _audit  # noqa: F401
    from charter.controls import service as _controls  # noqa: F401
    from charter.identity import service as _identity  # noqa: F401
    from charter.lake import service as _lake  # noqa: F401
    from charter.org import service as _org  # noqa: F401


def audit_key(settings: Settings) -> bytes:
    """CHARTER_AUDIT_KEY, else CHARTER_HOME/audit.key (made once, owner-only)."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    path = settings.home / "audit.key"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=settings.home, prefix=".audit-key-")  # mode 0600
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process made
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip().encode()


def build_runtime(settings: Settings) -> Runtime:
    load_domains()
    from charter.controls import service as controls
    from charter.lake import service as lake

    runtime = Runtime(settings=settings, db=Database(settings.resolved_database_url),
                      storage=open_store(settings.resolved_storage_root),
                      audit_key=audit_key(settings))
    controls.install(runtime)
    lake.recover(runtime)  # what a crash under an older version left in the lake catalog
    return runtime
