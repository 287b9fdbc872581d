"""Platform settings: read from CHARTER_* environment variables, built once and passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.home() / ".charter"


class Settings(BaseSettings):
    """Where a platform keeps its state and how it behaves.

    Built in `create_app(settings)` or the CLI callback and passed down; never a global.
    """

    model_config = SettingsConfigDict(env_prefix="CHARTER_", extra="ignore")

    home: Path = Field(
        default_factory=default_home,
        description="Directory for the embedded database, object store and CLI config.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store; default: SQLite in CHARTER_HOME.",
    )
    storage_url: str | None = Field(
        default=None,
        description="Object store root (a local directory or file:// URL); "
        "default: CHARTER_HOME/objects.",
    )
    online_store_url: str | None = Field(
        default=None, description="Online feature store: sqlite path or redis:// URL."
    )
    compute: str = Field(default="local", description="Compute backend: local or ray://host:port.")
    token_rotation_days: int = Field(
        default=90, ge=1, description="Age after which a token is reported for rotation."
    )
    default_token_days: int = Field(
        default=30, ge=1, description="Lifetime of a token created without --expires-in."
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Key of the audit chain's HMAC. Default: CHARTER_HOME/audit.key, made "
        "on first use; servers sharing one database must all be given the same key.",
    )
    lake_query_engines: int = Field(
        default=4, ge=1,
        description="Locked DuckDB databases kept for governed lake queries, one for each "
        "set of snapshot files recently read; the least recently used is closed.",
    )
    lake_query_memory: str = Field(
        default="2GB", pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="Memory limit of each lake query DuckDB database (DuckDB syntax).",
    )
    lake_query_timeout: float = Field(
        default=300, gt=0,
        description="Seconds a governed lake query may run before it is stopped.",
    )
    lake_query_spill: str = Field(
        default="20GB", pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="Disk each lake query database may spill to, under "
        "CHARTER_HOME/lake-spill.",
    )
    idempotency_key_hours: float = Field(
        default=24, gt=0,
        description="Hours a write's idempotency key and first result are kept: a retry "
        "with the same key within that time returns the first result.",
    )
    fault_point: str | None = Field(
        default=None,
        description="Testing aid: the name of a fault point (docs/design.md, \"Lake writes "
        "are all or nothing\") at which the process kills itself with SIGKILL. Never set "
        "it outside crash tests.",
    )
    dispatch_inline: bool = Field(
        default=True,
        description="Deliver outbox events right after each request (the server also polls).",
    )

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'charter.db'}"

    @property
    def resolved_storage_root(self) -> Path:
        if not self.storage_url:
            return self.home / "objects"
        return Path(self.storage_url.removeprefix("file://")).expanduser()
