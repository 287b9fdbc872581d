"""Settings: groups read their environment names, old and new; code overrides; bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from charter.errors import Invalid
from charter.settings import (
    LakeSettings,
    Settings,
    describe_settings,
    load_settings,
    mask_url,
)

# Every environment name a setting is read from: (variable, value, dotted field, expected).
ENV_CASES = [
    ("CHARTER_HOME", "/tmp/elsewhere", "home", Path("/tmp/elsewhere")),
    ("CHARTER_DATABASE_URL", "sqlite:////tmp/x.db", "database_url", "sqlite:////tmp/x.db"),
    ("CHARTER_DATABASE_CONNECTIONS", "12", "database_connections", 12),
    ("CHARTER_DISPATCH_INLINE", "false", "dispatch_inline", False),
    ("CHARTER_IDEMPOTENCY_KEY_HOURS", "2", "idempotency_key_hours", 2.0),
    ("CHARTER_FAULT_POINT", "lake.after_data", "fault_point", "lake.after_data"),
    ("CHARTER_STORAGE_URL", "/tmp/objects", "storage.url", "/tmp/objects"),
    ("CHARTER_STORAGE_ENDPOINT_URL", "http://127.0.0.1:9000", "storage.endpoint_url",
     "http://127.0.0.1:9000"),
    ("CHARTER_STORAGE_REGION", "eu-west-1", "storage.region", "eu-west-1"),
    ("CHARTER_STORAGE_ACCESS_KEY_ID", "AKIA1", "storage.access_key_id", "AKIA1"),
    ("CHARTER_STORAGE_SECRET_ACCESS_KEY", "s3cr3t", "storage.secret_access_key", "s3cr3t"),
    ("CHARTER_API_MAX_JSON_BYTES", "2048", "api.max_json_bytes", 2048),
    ("CHARTER_API_MAX_BODY_BYTES", "4096", "api.max_body_bytes", 4096),
    ("CHARTER_API_SWITCH_INTERVAL", "0.01", "api.switch_interval", 0.01),
    ("CHARTER_SERVER_SWITCH_INTERVAL", "0.02", "api.switch_interval", 0.02),
    ("CHARTER_API_LOG_FORMAT", "json", "api.log_format", "json"),
    ("CHARTER_API_WORKERS", "2", "api.workers", 2),
    ("CHARTER_AUDIT_KEY", "k" * 40, "audit.key", "k" * 40),
    ("CHARTER_AUDIT_SIGNING_KEY", "/tmp/sign.pem", "audit.signing_key", Path("/tmp/sign.pem")),
    ("CHARTER_AUDIT_CHECKPOINT_URL", "file:///tmp/cp", "audit.checkpoint_url", "file:///tmp/cp"),
    ("CHARTER_AUDIT_CHECKPOINT_INTERVAL", "5", "audit.checkpoint_interval", 5.0),
    ("CHARTER_IDENTITY_TOKEN_ROTATION_DAYS", "7", "identity.token_rotation_days", 7),
    ("CHARTER_TOKEN_ROTATION_DAYS", "8", "identity.token_rotation_days", 8),
    ("CHARTER_IDENTITY_DEFAULT_TOKEN_DAYS", "3", "identity.default_token_days", 3),
    ("CHARTER_DEFAULT_TOKEN_DAYS", "4", "identity.default_token_days", 4),
    ("CHARTER_LAKE_QUERY_ENGINES", "2", "lake.query_engines", 2),
    ("CHARTER_LAKE_QUERY_MEMORY", "512MB", "lake.query_memory", "512MB"),
    ("CHARTER_LAKE_QUERY_TIMEOUT", "12.5", "lake.query_timeout", 12.5),
    ("CHARTER_LAKE_QUERY_SPILL", "1GiB", "lake.query_spill", "1GiB"),
    ("CHARTER_LAKE_QUERIES_PER_PRINCIPAL", "3", "lake.queries_per_principal", 3),
    ("CHARTER_LAKE_QUERIES_TOTAL", "16", "lake.queries_total", 16),
    ("CHARTER_LAKE_QUERY_WAIT", "0", "lake.query_wait", 0.0),
    ("CHARTER_LAKE_QUERY_MAX_LENGTH", "500", "lake.query_max_length", 500),
    ("CHARTER_LAKE_INGEST_MAX_COLUMNS", "9", "lake.ingest_max_columns", 9),
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No CHARTER_* variable of the machine or another test leaks in."""
    for key in list(os.environ):
        if key.upper().startswith("CHARTER_"):
            monkeypatch.delenv(key)
    return monkeypatch


def _get(settings: Settings, dotted: str):
    value = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@pytest.mark.parametrize(("env", "raw", "dotted", "expected"), ENV_CASES,
                         ids=[case[0] for case in ENV_CASES])
def test_each_setting_reads_its_environment_name(clean_env, env, raw, dotted, expected):
    default = _get(Settings(), dotted)
    clean_env.setenv(env, raw)
    assert _get(Settings(), dotted) == expected != default


def test_every_environment_name_of_every_setting_is_tested():
    names = {env for row in describe_settings(Settings(), {}) for env in row.env}
    assert names == {case[0] for case in ENV_CASES}


def test_the_new_name_wins_over_the_old_one(clean_env):
    clean_env.setenv("CHARTER_SERVER_SWITCH_INTERVAL", "0.02")
    clean_env.setenv("CHARTER_API_SWITCH_INTERVAL", "0.01")
    clean_env.setenv("CHARTER_TOKEN_ROTATION_DAYS", "8")
    clean_env.setenv("CHARTER_IDENTITY_TOKEN_ROTATION_DAYS", "7")
    settings = Settings()
    assert settings.api.switch_interval == 0.01
    assert settings.identity.token_rotation_days == 7


def test_names_are_matched_without_case_as_before(clean_env):
    clean_env.setenv("charter_lake_queries_total", "5")
    assert Settings().lake.queries_total == 5


def test_code_gives_top_level_fields_and_groups(clean_env, tmp_path):
    clean_env.setenv("CHARTER_LAKE_QUERY_TIMEOUT", "5")
    clean_env.setenv("CHARTER_LAKE_QUERIES_TOTAL", "3")
    clean_env.setenv("CHARTER_API_MAX_JSON_BYTES", "2048")
    settings = Settings(home=tmp_path, database_url="sqlite:///x.db",
                        lake={"queries_total": 1})
    assert (settings.home, settings.database_url) == (tmp_path, "sqlite:///x.db")
    assert settings.lake.queries_total == 1  # code beats the environment
    assert settings.lake.query_timeout == 5  # the rest of a group given as a dict: env
    assert settings.api.max_json_bytes == 2048  # a group not given: env

    given = Settings(lake=LakeSettings(queries_total=2))
    assert (given.lake.queries_total, given.lake.query_timeout) == (2, 5)
    assert Settings(api={"switch_interval": 0.05}).api.switch_interval == 0.05


def test_settings_are_built_fresh_each_time(clean_env):
    first = Settings()
    first.lake.query_wait = 30
    assert Settings().lake.query_wait == 2  # no group object shared between platforms


def test_home_is_expanded(clean_env):
    assert Settings(home="~/x").home == Path.home() / "x"


def test_a_variable_named_like_a_group_is_not_read_as_one(clean_env):
    clean_env.setenv("CHARTER_API", "http://127.0.0.1:8787")
    clean_env.setenv("CHARTER_LAKE", "{not json")
    clean_env.setenv("CHARTER_URL", "http://127.0.0.1:8787")  # the CLI's, not a setting
    settings = load_settings()
    assert settings.api.max_json_bytes == 10 * 2**20 and settings.lake.queries_total == 4


@pytest.mark.parametrize("values", [{"lake_query_timeout": 1}, {"lake": {"query_timout": 1}},
                                    {"online_store_url": "redis://x"}])
def test_unknown_keywords_are_refused_not_ignored(values):
    with pytest.raises(ValidationError):
        Settings(**values)
    with pytest.raises(Invalid) as refused:
        load_settings(**values)
    assert refused.value.code == "invalid_settings"
    key, inner = next(iter(values.items()))
    assert (f"{key}.{next(iter(inner))}" if isinstance(inner, dict) else key) \
        in refused.value.message


@pytest.mark.parametrize(("env", "raw", "reason"), [
    ("CHARTER_LAKE_QUERY_TIMEOUT", "abc", "valid number"),
    ("CHARTER_LAKE_QUERY_MEMORY", "lots", "pattern"),
    ("CHARTER_LAKE_QUERIES_TOTAL", "17", "less than or equal to 16"),
    ("CHARTER_API_MAX_JSON_BYTES", "5", "greater than or equal to 1024"),
    ("CHARTER_SERVER_SWITCH_INTERVAL", "0", "greater than 0"),
    ("CHARTER_DEFAULT_TOKEN_DAYS", "0", "greater than or equal to 1"),
    ("CHARTER_AUDIT_CHECKPOINT_INTERVAL", "90000", "less than or equal to 86400"),
    ("CHARTER_IDEMPOTENCY_KEY_HOURS", "-1", "greater than 0"),
    ("CHARTER_DISPATCH_INLINE", "maybe", "valid boolean"),
    ("CHARTER_API_LOG_FORMAT", "xml", "'text' or 'json'"),
    ("CHARTER_API_WORKERS", "0", "greater than or equal to 1"),
    ("CHARTER_DATABASE_CONNECTIONS", "3", "greater than or equal to 4"),
])
def test_a_bad_value_names_the_variable_it_came_from(clean_env, env, raw, reason):
    clean_env.setenv(env, raw)
    with pytest.raises(Invalid) as refused:
        load_settings()
    assert refused.value.code == "invalid_settings"
    message = refused.value.message
    assert f"{env}={raw!r}" in message and reason in message and "\n" not in message


def test_a_bad_value_given_in_code_is_named_by_its_field(clean_env):
    with pytest.raises(Invalid) as refused:
        load_settings(lake={"queries_total": 0})
    assert "lake.queries_total:" in refused.value.message


def test_every_bad_value_is_reported_at_once(clean_env):
    clean_env.setenv("CHARTER_LAKE_QUERY_TIMEOUT", "abc")
    clean_env.setenv("CHARTER_LAKE_QUERY_WAIT", "99")
    with pytest.raises(Invalid) as refused:
        load_settings()
    assert "CHARTER_LAKE_QUERY_TIMEOUT=" in refused.value.message
    assert "CHARTER_LAKE_QUERY_WAIT=" in refused.value.message


def test_storage_root_and_database_url_resolve_from_home(clean_env, tmp_path):
    settings = Settings(home=tmp_path)
    assert settings.resolved_storage_root == tmp_path / "objects"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'charter.db'}"
    clean_env.setenv("CHARTER_STORAGE_URL", f"file://{tmp_path}/elsewhere")
    assert Settings(home=tmp_path).resolved_storage_root == tmp_path / "elsewhere"
    assert Settings(storage={"url": "~/objs"}).resolved_storage_root == Path.home() / "objs"


def test_describe_settings_gives_each_source_and_hides_secrets(clean_env, tmp_path):
    environ = {"CHARTER_SERVER_SWITCH_INTERVAL": "0.01", "CHARTER_AUDIT_KEY": "k" * 40,
               "CHARTER_DATABASE_URL": "postgresql+psycopg://bob:pw-1@db:5432/charter"}
    for key, value in environ.items():
        clean_env.setenv(key, value)
    rows = {row.name: row for row in describe_settings(
        Settings(home=tmp_path, lake={"queries_total": 1}), environ)}
    assert rows["api.switch_interval"].source == "env (CHARTER_SERVER_SWITCH_INTERVAL)"
    assert rows["api.switch_interval"].value == 0.01
    assert rows["lake.queries_total"].source == "argument"
    assert rows["lake.query_timeout"].source == "default"
    assert rows["audit.key"].value == "********"
    assert rows["storage.secret_access_key"].value is None  # unset: nothing to hide
    assert rows["database_url"].value == "postgresql+psycopg://bob:********@db:5432/charter"
    assert rows["storage.url"].value == str(tmp_path / "objects")  # the effective root
    assert all(row.description for row in rows.values())


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://u:p%40ss@h:5432/db", "postgresql+psycopg://u:********@h:5432/db"),
    ("postgresql://u:a:b/c@h/db", "postgresql://u:********@h/db"),
    ("postgresql://h/db?sslmode=require&password=x", "postgresql://h/db?sslmode=require"
     "&password=********"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("sqlite:////tmp/a:b@c/charter.db", "sqlite:////tmp/a:b@c/charter.db"),
    ("s3://bucket/prefix", "s3://bucket/prefix"),
    ("/plain/path", "/plain/path"),
    ("http://h:8787", "http://h:8787"),
    # spellings an outside review found leaking
    ("postgresql://u@h/db?%70assword=S3CRET", "postgresql://u@h/db?%70assword=********"),
    ("postgresql://u@h/db?sslpassword=S3CRET", "postgresql://u@h/db?sslpassword=********"),
    ("postgresql://u:S3CRET@h/db\nx", "postgresql://u:********@h/db\nx"),
    ("host=h user=u password=S3CRET dbname=x", "host=h user=u password=******** dbname=x"),
    ("host=h password='a b' dbname=x", "host=h password=******** dbname=x"),
    ("http://u:S3CRET@h", "http://u:********@h"),
    ("postgresql://u:S3CRET", "postgresql://u:********"),
    ("postgresql://u;password=S3CRET", "postgresql://u;password=********"),
])
def test_mask_url_hides_only_the_password(url, shown):
    assert mask_url(url) == shown
