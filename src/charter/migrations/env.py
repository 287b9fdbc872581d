"""Alembic environment: migrates the metadata of every domain."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from charter.access import orm as _access  # noqa: F401
from charter.audit import orm as _audit  # noqa: F401
from charter.controls import orm as _controls  # noqa: F401
from charter.core import events as _events  # noqa: F401
from charter.core.db import Base
from charter.identity import orm as _identity  # noqa: F401
from charter.lake import orm as _lake  # noqa: F401
from charter.org import orm as _org  # noqa: F401

target_metadata = Base.metadata


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    # pyiceberg keeps its SQL catalog tables in the same database (on PostgreSQL).
    return not (type_ == "table" and name.startswith("iceberg_"))


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          include_object=_ours)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
