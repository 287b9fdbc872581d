"""Platform settings, grouped by concern: read from CHARTER_* variables, built once, passed in."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import unquote

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from charter.errors import Invalid

_SIZE = r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"


def default_home() -> Path:
    return Path.home() / ".charter"


def _group_config(prefix: str) -> SettingsConfigDict:
    # validate_by_name: a field with more than one environment name (an old one kept)
    # is still given in code by its field name.
    return SettingsConfigDict(env_prefix=prefix, extra="forbid", validate_by_name=True)


class StorageSettings(BaseSettings):
    """The object store: objects, lake tables and audit checkpoints."""

    model_config = _group_config("CHARTER_STORAGE_")

    url: str | None = Field(
        default=None,
        description="Object store root: a local directory, a file:// URL or "
        "s3://bucket/prefix; default: CHARTER_HOME/objects.",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible server (e.g. http://127.0.0.1:9000); "
        "default: AWS S3 itself.",
    )
    region: str | None = Field(
        default=None, description="Region of the S3 bucket; default: us-east-1."
    )
    access_key_id: str | None = Field(
        default=None,
        description="Access key id for S3; unset: credentials from the default AWS chain "
        "(environment, shared files, instance role).",
    )
    secret_access_key: SecretStr | None = Field(
        default=None,
        description="Secret access key for S3, set with the access key id; unset: "
        "credentials from the default AWS chain.",
    )

    def root(self, home: Path) -> Path:
        """The local directory objects are kept under, given the platform's home. With
        objects on S3, the directory of what stays on this machine's disk (the audit
        trail's checkpoints): CHARTER_HOME/objects."""
        if not self.url or self.url.startswith("s3://"):
            return home / "objects"
        return Path(self.url.removeprefix("file://")).expanduser()


class ApiSettings(BaseSettings):
    """The REST API and `charter server`."""

    model_config = _group_config("CHARTER_API_")

    max_json_bytes: int = Field(
        default=10 * 2**20, ge=1024,
        description="Bytes a JSON request body may have (`body_too_large`, 413).",
    )
    max_body_bytes: int = Field(
        default=2**30, ge=1024,
        description="Bytes any other request body (a file to ingest) may have; a body past "
        "1 MiB is read only once its sender's token is valid.",
    )
    switch_interval: float = Field(
        default=0.001, gt=0, le=0.1,
        validation_alias=AliasChoices("CHARTER_API_SWITCH_INTERVAL",
                                      "CHARTER_SERVER_SWITCH_INTERVAL"),
        description="Seconds a thread of `charter server` runs Python while another waits "
        "for the interpreter (sys.setswitchinterval; Python's default is 0.005): shorter "
        "keeps quick requests quick while long lake queries parse.",
    )
    workers: int = Field(
        default=1, ge=1, le=64,
        description="Worker processes of `charter server` (`--workers`): each serves requests "
        "with its own connections and policy caches over the shared metadata database. "
        "PostgreSQL only: SQLite keeps one writer, so it serves with one worker.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="The request log `charter server` writes to stdout, one line per "
        "request (method, path, status, duration, request id, principal): `text`, or "
        "`json` for one JSON object per line.",
    )


class AuditSettings(BaseSettings):
    """The hash-chained audit trail and its signed checkpoints."""

    model_config = _group_config("CHARTER_AUDIT_")

    key: SecretStr | None = Field(
        default=None,
        description="Key of the audit chain's HMAC. Default: CHARTER_HOME/audit.key, made "
        "on first use; servers sharing one database must all be given the same key.",
    )
    signing_key: Path | None = Field(
        default=None,
        description="PEM file of the Ed25519 key that signs the audit trail's checkpoints. "
        "Default: CHARTER_HOME/audit-signing.key, made on first use. Never kept in the "
        "metadata database; servers sharing one database must be given the same key.",
    )
    checkpoint_url: str | None = Field(
        default=None,
        description="Where signed checkpoints of the audit trail are written, append-only: "
        "a directory or file:// URL. Default: the log-archive account's part of the "
        "object store. Point it at storage the metadata database's writers cannot change.",
    )
    checkpoint_interval: float = Field(
        default=60, gt=0, le=86_400,
        description="Seconds between the checkpoints a server signs of the audit trail.",
    )


class IdentitySettings(BaseSettings):
    """Users' API tokens."""

    model_config = _group_config("CHARTER_IDENTITY_")

    token_rotation_days: int = Field(
        default=90, ge=1,
        validation_alias=AliasChoices("CHARTER_IDENTITY_TOKEN_ROTATION_DAYS",
                                      "CHARTER_TOKEN_ROTATION_DAYS"),
        description="Age after which a token is reported for rotation.",
    )
    default_token_days: int = Field(
        default=30, ge=1,
        validation_alias=AliasChoices("CHARTER_IDENTITY_DEFAULT_TOKEN_DAYS",
                                      "CHARTER_DEFAULT_TOKEN_DAYS"),
        description="Lifetime of a token created without --expires-in.",
    )


class LakeSettings(BaseSettings):
    """Lake ingestion and governed queries."""

    model_config = _group_config("CHARTER_LAKE_")

    query_engines: int = Field(
        default=4, ge=1,
        description="Locked DuckDB databases kept for governed lake queries, one for each "
        "set of snapshot files recently read; the least recently used is closed.",
    )
    query_memory: str = Field(
        default="2GB", pattern=_SIZE,
        description="Memory limit of each lake query DuckDB database (DuckDB syntax).",
    )
    query_timeout: float = Field(
        default=300, gt=0,
        description="Seconds a governed lake query may run before it is stopped.",
    )
    query_spill: str = Field(
        default="20GB", pattern=_SIZE,
        description="Disk each lake query database may spill to, under "
        "CHARTER_HOME/lake-spill.",
    )
    queries_per_principal: int = Field(
        default=2, ge=1,
        description="Governed lake queries one principal may run at once (per server "
        "process); more wait up to CHARTER_LAKE_QUERY_WAIT, then get too_many_queries.",
    )
    queries_total: int = Field(
        default=4, ge=1, le=16,
        description="Governed lake queries a server process runs at once, everyone's "
        "together. Running and waiting queries hold at most twice this many of the "
        "server's 40 worker threads, so it stays at most 16.",
    )
    query_wait: float = Field(
        default=2, ge=0, le=60,
        description="Seconds a lake query over its limits waits for a slot before it is "
        "refused with too_many_queries; 0 refuses at once.",
    )
    query_max_length: int = Field(
        default=100_000, ge=1, le=1_000_000,
        description="Characters a governed lake query's SQL may have (`query_too_long`).",
    )
    ingest_max_columns: int = Field(
        default=1_000, ge=1,
        description="Columns a CSV or Parquet file may have to be ingested; a wider file is "
        "refused from its header (`too_many_columns`).",
    )


# Field name in Settings -> the group's class. A later domain adds its group here.
GROUPS: dict[str, type[BaseSettings]] = {
    "storage": StorageSettings, "api": ApiSettings, "audit": AuditSettings,
    "identity": IdentitySettings, "lake": LakeSettings,
}


class _TopLevelEnv(EnvSettingsSource):
    """The environment, for top-level fields only: each group reads its own variables,
    so a stray CHARTER_API or CHARTER_LAKE variable is not parsed as a whole group."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in GROUPS:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class Settings(BaseSettings):
    """Where a platform keeps its state and how it behaves, grouped by concern.

    Built in `create_app(settings)` or the CLI callback and passed down; never a global.
    A group given in code as a dict takes the rest of its fields from the environment:
    `Settings(home=p, lake={"queries_total": 1})`.
    """

    model_config = SettingsConfigDict(env_prefix="CHARTER_", extra="forbid")

    home: Path = Field(
        default_factory=default_home,
        description="Directory for the embedded database, object store and CLI config.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store; default: SQLite in CHARTER_HOME.",
    )
    database_connections: int = Field(
        default=30, ge=4, le=10_000,
        description="Most PostgreSQL connections one Charter process opens (a third kept "
        "open, the rest opened under load; past them a request waits for a free one). "
        "`charter server --workers N` shares this number among its N workers and the "
        "process that delivers events, so keep it below the server's max_connections "
        "less what other clients use. Not used with SQLite.",
    )
    dispatch_inline: bool = Field(
        default=True,
        description="Deliver outbox events right after each request (the server also polls).",
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
    storage: StorageSettings = Field(default_factory=StorageSettings,
                                     description=StorageSettings.__doc__)
    api: ApiSettings = Field(default_factory=ApiSettings, description=ApiSettings.__doc__)
    audit: AuditSettings = Field(default_factory=AuditSettings,
                                 description=AuditSettings.__doc__)
    identity: IdentitySettings = Field(default_factory=IdentitySettings,
                                       description=IdentitySettings.__doc__)
    lake: LakeSettings = Field(default_factory=LakeSettings, description=LakeSettings.__doc__)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _TopLevelEnv(settings_cls)

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @field_validator(*GROUPS, mode="before")
    @classmethod
    def _group_from_dict(cls, value: object, info: ValidationInfo) -> object:
        # Built through the group's own __init__, so fields not given come from the env.
        if isinstance(value, dict):
            return GROUPS[info.field_name](**value)
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'charter.db'}"

    @property
    def resolved_storage_root(self) -> Path:
        return self.storage.root(self.home)


def env_names(group: type[BaseSettings], name: str) -> tuple[str, ...]:
    """The environment variables a field is read from, the one that wins first."""
    alias = group.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(c for c in alias.choices if isinstance(c, str))
    if isinstance(alias, str):
        return (alias,)
    return (f"{group.model_config.get('env_prefix', '')}{name}".upper(),)


def load_settings(**values: Any) -> Settings:
    """Settings from the environment (and `values`); a bad value is `invalid_settings`."""
    try:
        return Settings(**values)
    except ValidationError as error:
        raise Invalid(explain_error(error, os.environ), code="invalid_settings") from None


def explain_error(error: ValidationError, environ: Mapping[str, str]) -> str:
    """One line naming each bad setting by the variable it came from (its value, unless
    secret) or, given in code, by its dotted name."""
    title_group = {cls.__name__: name for name, cls in GROUPS.items()}.get(error.title)
    parts = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        group = title_group or (loc.pop(0) if len(loc) > 1 and loc[0] in GROUPS else None)
        cls = GROUPS[group] if group else Settings
        name = _field_named(cls, loc[0]) if loc else None
        if name is None:
            parts.append(f"{'.'.join([group, *loc] if group else loc)}: {item['msg']}")
            continue
        found = _env_set(env_names(cls, name), environ)
        if found is None:
            where = f"{group}.{name}" if group else name
        elif _is_secret(cls, name):
            where = found
        else:
            where = f"{found}={environ[found][:80]!r}"
        parts.append(f"{where}: {item['msg']}")
    return "invalid setting " + "; ".join(parts)


def _field_named(cls: type[BaseSettings], key: str) -> str | None:
    """The field an error's location names: its own name or one of its env names."""
    if key in cls.model_fields:
        return key
    return next((name for name in cls.model_fields
                 if key.upper() in env_names(cls, name)), None)


def _env_set(names: tuple[str, ...], environ: Mapping[str, str]) -> str | None:
    """The first of `names` set in `environ`, matched without case as pydantic-settings
    matches them; returned as it is spelled there."""
    spelled = {key.lower(): key for key in environ}
    return next((spelled[n.lower()] for n in names if n.lower() in spelled), None)


def _is_secret(cls: type[BaseSettings], name: str) -> bool:
    annotation = cls.model_fields[name].annotation
    return SecretStr in (get_args(annotation) or (annotation,))


@dataclass(frozen=True)
class SettingValue:
    """One effective setting, as `charter config show` reports it."""

    name: str  # dotted, as code reads it: "home", "lake.query_timeout"
    group: str  # "core" for the top-level fields
    value: Any  # JSON-ready; secrets hidden
    source: str  # "env (CHARTER_X)", "argument" (given in code) or "default"
    env: tuple[str, ...]
    description: str


def describe_settings(settings: Settings, environ: Mapping[str, str]) -> list[SettingValue]:
    """Every setting's effective value and where it came from, secrets hidden."""
    rows = [_describe(settings, settings, "core", name, environ)
            for name in Settings.model_fields if name not in GROUPS]
    for group in GROUPS:
        part = getattr(settings, group)
        rows += [_describe(settings, part, group, name, environ)
                 for name in type(part).model_fields]
    return rows


def _describe(settings: Settings, owner: BaseSettings, group: str, name: str,
              environ: Mapping[str, str]) -> SettingValue:
    cls = type(owner)
    dotted = name if group == "core" else f"{group}.{name}"
    names = env_names(cls, name)
    found = _env_set(names, environ)
    if found is not None:
        source = f"env ({found})"
    else:
        source = "argument" if name in owner.model_fields_set else "default"
    value = getattr(owner, name)
    if dotted == "database_url":
        value = settings.resolved_database_url
    elif dotted == "storage.url":
        value = value or str(settings.storage.root(settings.home))
    return SettingValue(dotted, group, _shown(value), source, names,
                        cls.model_fields[name].description or "")


def _shown(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return SECRET_MASK
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):
        return mask_url(value)
    return value


SECRET_MASK = "********"
_URL_PASSWORD = re.compile(
    r"^(?P<head>[\w+.-]+://[^:/@]*:)(?P<password>[^@]*)(?P<tail>@.*)$", re.S)
_BARE_PASSWORD = re.compile(r"^(?P<head>[\w+.-]+://[^:/@\s]*:)(?P<password>[^@/\s]*\D[^@/\s]*)$")
_PARAM = re.compile(r"(?P<head>(?:^|[?&;\s])(?P<name>[^=&;?#\s]+)\s*=\s*)"
                    r"(?P<value>'(?:[^'\\]|\\.)*'|[^&;#\s]*)")
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "credential")


def mask_url(value: str) -> str:
    """`value` with every secret it may carry hidden: a URL's password (user:PASSWORD@host),
    and any parameter whose name, percent-decoded, speaks of a secret (`?password=`,
    `?%70assword=`, `sslpassword=`, a key/value DSN's `password=...`)."""
    match = _URL_PASSWORD.match(value) or _BARE_PASSWORD.match(value)
    if match and match["password"]:
        value = f"{match['head']}{SECRET_MASK}{match.groupdict().get('tail') or ''}"
    return _PARAM.sub(_masked_param, value)


def _masked_param(match: re.Match[str]) -> str:
    name = unquote(match["name"]).lower()
    if any(word in name for word in _SECRET_WORDS) and match["value"]:
        return match["head"] + SECRET_MASK
    return match[0]
