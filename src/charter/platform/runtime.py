"""Build a platform Runtime from settings, with every domain loaded and subscribed."""

from __future__ import annotations

import importlib
import importlib.util
import os
import secrets
import tempfile
from pathlib import Path
from types import ModuleType

from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.pool import NullPool

from charter.core.context import Runtime
from charter.core.db import Database
from charter.core.storage import open_store
from charter.domains import DOMAINS
from charter.errors import Invalid, NotFound
from charter.settings import Settings


def load_domains() -> list[ModuleType]:
    """Import every domain's service, in the order of `charter.domains`, so its operations,
    Cedar sources, controls and baseline steps register; return the services."""
    services = []
    for domain in DOMAINS:
        name = f"charter.{domain.name}.service"
        if importlib.util.find_spec(name) is not None:
            services.append(importlib.import_module(name))
    return services


MIN_AUDIT_KEY = 32  # characters: the generated key is 64 hex digits


def audit_key(settings: Settings) -> bytes:
    """CHARTER_AUDIT_KEY, else CHARTER_HOME/audit.key (made once, owner-only).

    A key set but empty or short is refused: an empty key would turn the chain's HMAC into
    a plain hash anyone can compute, and the lake's hash masks are keyed from it too.
    """
    if settings.audit.key is not None:
        return _checked_key(settings.audit.key.get_secret_value(), "CHARTER_AUDIT_KEY")
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


def require_initialized(settings: Settings) -> None:
    """Refuse, with NotFound `not_initialized` and before anything is created, a platform
    whose database was never migrated (`init` has not run for it): building one would
    make files in its home and then fail on the first missing table."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        migrated = False  # connecting would create the file
    else:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                migrated = (inspect(connection).has_table("alembic_version") and
                            connection.scalar(text("SELECT version_num FROM alembic_version"))
                            is not None)
        finally:
            engine.dispose()
    if not migrated:
        where = (f"at {settings.home}" if settings.database_url is None
                 else "in the database CHARTER_DATABASE_URL names")
        raise NotFound(f"no Charter platform is initialised {where}: initialise it first, or "
                       "choose another home (CHARTER_HOME) or a server (CHARTER_URL)",
                       code="not_initialized")


def build_runtime(settings: Settings, *, connections: int | None = None) -> Runtime:
    """A platform over `settings`' stores, every domain loaded and installed (subscribers,
    recovery of what a crash left), in the order of `charter.domains`. `connections`: the
    most database connections it opens (default: the setting)."""
    services = load_domains()
    runtime = Runtime(settings=settings,
                      db=Database(settings.resolved_database_url,
                                  connections=connections or settings.database_connections),
                      storage=open_store(settings),
                      audit_key=audit_key(settings))
    for service in services:
        install = getattr(service, "install", None)
        if install is not None:
            install(runtime)
    return runtime
