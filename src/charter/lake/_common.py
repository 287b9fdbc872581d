"""Lake helpers every lake module uses: names, targets, lookups."""

from __future__ import annotations

import hmac
import re
from hashlib import sha256
from typing import TYPE_CHECKING

from charter.access.authorizer import Target
from charter.core.context import Context, Runtime
from charter.core.ids import crn
from charter.core.lookup import require
from charter.errors import Invalid
from charter.lake.orm import LakeDatabase, LakeTable
from charter.org import service as org

if TYPE_CHECKING:
    from pyiceberg.table import Table

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")


def check_identifier(value: str, what: str) -> str:
    """Database, table and column names are SQL identifiers: a-z, digits, underscores."""
    if not _IDENTIFIER.fullmatch(value or ""):
        raise Invalid(f"invalid {what} name {value!r}: use lower-case letters, digits and "
                      "underscores, starting with a letter", code=f"invalid_{what}_name")
    return value


def lake_target(ctx: Context, account: str, type_: str, path: str) -> Target:
    return org.target_in_account(ctx.db, account, crn(account, "lake", type_, path))


def require_database(ctx: Context, account: str, database: str) -> LakeDatabase:
    """A database of `account` (which must exist too), or NotFound."""
    org.require_account(ctx.db, account)
    return require(ctx.db.get(LakeDatabase, (account, database)),
                   f"database {database!r} of {account}", code="database_not_found")


def require_table(ctx: Context, account: str, database: str, table: str) -> LakeTable:
    """A table `account` owns (its database and the account must exist too), or NotFound."""
    require_database(ctx, account, database)
    return require(ctx.db.get(LakeTable, (account, database, table)),
                   f"table {database}.{table} of {account}", code="table_not_found")


def column_names(table: Table) -> list[str]:
    """An Iceberg table's column names, in its schema's order."""
    return [f.name for f in table.schema().fields]


def catalog_names_lock(account: str) -> str:
    """The lock (`core.db.lock`) a database created in `account` and a share to it take:
    either would shadow the other of the same name in the account's catalog."""
    return f"lake.catalog-names:{account}"


def hash_mask_key(runtime: Runtime, owner: str) -> str:
    """The secret a hash mask mixes into every value of `owner`'s tables (hex), derived
    from the platform's audit key: equal values still hash alike across the owner's
    tables, so masked columns join, but without the key nobody can hash a guess (a
    phone number, a card number) to find its row. One key per producer account: a
    table whose hashes someone can read beside values they chose must come from an
    account where they may ingest, and there they read every table as it is anyway."""
    keys: dict[str, str] = runtime.cache.setdefault("lake.hash_keys", {})
    key = keys.get(owner)
    if key is None:
        key = keys[owner] = hmac.new(runtime.audit_key, b"charter lake hash mask\0"
                                     + owner.encode(), sha256).hexdigest()
    return key
