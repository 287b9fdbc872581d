"""Platform settings: read from CHARTER_* environment variables, built once and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    audit_signing_key: Path | None = Field(
        default=None,
        description="PEM file of the Ed25519 key that signs the audit trail's checkpoints. "
        "Default: CHARTER_HOME/audit-signing.key, made on first use. Never kept in the "
        "metadata database; servers sharing one database must be given the same key.",
    )
    audit_checkpoint_url: str | None = Field(
        default=None,
        description="Where signed checkpoints of the audit trail are written, append-only: "
        "a directory or file:// URL. Default: the log-archive account's part of the "
        "object store. Point it at storage the metadata database's writers cannot change.",
    )
    audit_checkpoint_interval: float = Field(
        default=60, gt=0, le=86_400,
        description="Seconds between the checkpoints a server signs of the audit trail.",
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
    lake_queries_per_principal: int = Field(
        default=2, ge=1,
        description="Governed lake queries one principal may run at once (per server "
        "process); more wait up to CHARTER_LAKE_QUERY_WAIT, then get too_many_queries.",
    )
    lake_queries_total: int = Field(
        default=4, ge=1, le=16,
        description="Governed lake queries a server process runs at once, everyone's "
        "together. Running and waiting queries hold at most twice this many of the "
        "server's 40 worker threads, so it stays at most 16.",
    )
    lake_query_wait: float = Field(
        default=2, ge=0, le=60,
        description="Seconds a lake query over its limits waits for a slot before it is "
        "refused with too_many_queries; 0 refuses at once.",
    )
    server_switch_interval: float = Field(
        default=0.001, gt=0, le=0.1,
        description="Seconds a thread of `charter server` runs Python while another waits "
        "for the interpreter (sys.setswitchinterval; Python's default is 0.005): shorter "
        "keeps quick requests quick while long lake queries parse.",
    )
    lake_query_max_length: int = Field(
        default=100_000, ge=1, le=1_000_000,
        description="Characters a governed lake query's SQL may have (`query_too_long`).",
    )
    lake_ingest_max_columns: int = Field(
        default=1_000, ge=1,
        description="Columns a CSV or Parquet file may have to be ingested; a wider file is "
        "refused from its header (`too_many_columns`).",
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
    api_max_json_bytes: int = Field(
        default=10 * 2**20, ge=1024,
        description="Bytes a JSON request body may have (`body_too_large`, 413).",
    )
    api_max_body_bytes: int = Field(
        default=2**30, ge=1024,
        description="Bytes any other request body (a file to ingest) may have; a body past "
        "1 MiB is read only once its sender's token is valid.",
    )
    api_log_format: Literal["text", "json"] = Field(
        default="text",
        description="The request log `charter server` writes to stdout, one line per "
        "request (method, path, status, duration, request id, principal): `text`, or "
        "`json` for one JSON object per line.",
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
