"""Alembic environment: migrates the metadata of every domain."""

from __future__ import annotations

import importlib
import importlib.util

from alembic import context
from sqlalchemy import create_engine, pool

from charter.core import events as _events  # noqa: F401  (the outbox table)
from charter.core.db import Base
from charter.domains import DOMAINS

for _domain in DOMAINS:  # every domain's tables, `charter.domains`
    if importlib.util.find_spec(f"charter.{_domain.name}.orm") is not None:
        importlib.import_module(f"charter.{_domain.name}.orm")

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
