"""Build a platform Runtime from settings, with every domain loaded and subscribed."""

from __future__ import annotations

import os
import secrets
import tempfile

from charter.core.context import Runtime
from charter.core.db import Database
from charter.core.storage import open_store
from charter.errors import Invalid
from charter.settings import Settings


def load_domains() -> None:
    """Import every domain service so its operations, Cedar sources and controls register."""
    from charter.audit import service as _audit  # noqa: F401
    from charter.controls import service as _controls  # noqa: F401
    from charter.identity import service as _identity  # noqa: F401
    from charter.lake import service as _lake  # noqa: F401
    from charter.org import service as _org  # noqa: F401


MIN_AUDIT_KEY = 32  # characters: the generated key is 64 hex digits


def audit_key(settings: Settings) -> bytes:
    """CHARTER_AUDIT_KEY, else CHARTER_HOME/audit.key (made once, owner-only).

    A key set but empty or short is refused: an empty key would turn the chain's HMAC into
    a plain hash anyone can compute, and the lake's hash masks are keyed from it too.
    """
    if settings.audit_key is not None:
        return _checked_key(settings.audit_key.get_secret_value(), "CHARTER_AUDIT_KEY")
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
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"cannot read the audit key {path}: {exc}",
                      code="invalid_audit_key") from None
    return _checked_key(text, str(path))


def _checked_key(text: str, where: str) -> bytes:
    key = text.strip()
    if len(key) < MIN_AUDIT_KEY:
        raise Invalid(f"the audit key in {where} is {'empty' if not key else 'too short'}: "
                      f"it must be at least {MIN_AUDIT_KEY} characters (for example "
                      "`python -c 'import secrets; print(secrets.token_hex(32))'`); "
                      "Charter does not start without one", code="invalid_audit_key")
    return key.encode()


def build_runtime(settings: Settings) -> Runtime:
    load_domains()
    from charter.audit import service as audit
    from charter.controls import service as controls
    from charter.lake import service as lake

    runtime = Runtime(settings=settings, db=Database(settings.resolved_database_url),
                      storage=open_store(settings),
                      audit_key=audit_key(settings))
    audit.install(runtime)
    controls.install(runtime)
    lake.recover(runtime)  # what a crash under an older version left in the lake catalog
    return runtime
