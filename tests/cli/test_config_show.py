"""`charter config show`: effective settings with sources, secrets hidden, before init too."""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest

from charter.cli import output
from charter.cli.config import Profile, save_profile
from charter.cli.main import run

SECRETS = {
    "CHARTER_AUDIT_KEY": "audit-key-" + "x" * 30,
    "CHARTER_STORAGE_SECRET_ACCESS_KEY": "storage-secret-value",
    "CHARTER_DATABASE_URL": "postgresql+psycopg://bob:db-pass-word@db.internal:5432/charter",
    "CHARTER_TOKEN": "chr_token-value-in-env",
}


@pytest.fixture
def charter(tmp_path, monkeypatch):
    """Run `charter ARGS` in-process with only the CHARTER_* variables a test sets and a
    home that does not exist yet; returns (exit code, stdout, stderr)."""
    for key in list(os.environ):
        if key.upper().startswith("CHARTER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CHARTER_HOME", str(tmp_path / "home"))
    # Wide enough that no value wraps: a secret split over two lines would pass `not in`.
    monkeypatch.setattr(output.console, "width", 300)

    def cli(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(args))
        return code, out.getvalue(), err.getvalue()

    cli.env = monkeypatch
    cli.home = tmp_path / "home"
    return cli


def test_it_works_before_init_and_touches_nothing(charter):
    code, out, err = charter("config", "show", "--json")
    assert code == 0, err
    assert not charter.home.exists()  # no database, no home made
    data = json.loads(out)
    assert data["home"] == {
        "group": "core", "value": str(charter.home), "source": "env (CHARTER_HOME)",
        "env": ["CHARTER_HOME"],
        "description": "Directory for the embedded database, object store and CLI config."}
    assert data["database_url"]["value"] == f"sqlite:///{charter.home / 'charter.db'}"
    assert data["lake.query_timeout"]["source"] == "default"
    assert {row["group"] for row in data.values()} == {
        "core", "storage", "api", "audit", "identity", "lake", "profile"}
    assert all(set(row) == {"group", "value", "source", "env", "description"}
               for row in data.values())


def test_sources_name_the_variable_set_old_or_new(charter):
    charter.env.setenv("CHARTER_LAKE_QUERY_TIMEOUT", "12")
    charter.env.setenv("CHARTER_SERVER_SWITCH_INTERVAL", "0.01")
    charter.env.setenv("CHARTER_IDENTITY_DEFAULT_TOKEN_DAYS", "5")
    data = json.loads(charter("config", "show", "--json")[1])
    assert data["lake.query_timeout"] | {"description": ""} == {
        "group": "lake", "value": 12.0, "source": "env (CHARTER_LAKE_QUERY_TIMEOUT)",
        "env": ["CHARTER_LAKE_QUERY_TIMEOUT"], "description": ""}
    assert data["api.switch_interval"]["source"] == "env (CHARTER_SERVER_SWITCH_INTERVAL)"
    assert data["api.switch_interval"]["env"] == ["CHARTER_API_SWITCH_INTERVAL",
                                                  "CHARTER_SERVER_SWITCH_INTERVAL"]
    assert data["identity.default_token_days"]["value"] == 5
    assert data["lake.query_wait"]["source"] == "default"


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_secrets_never_print(charter, as_json):
    for key, value in SECRETS.items():
        charter.env.setenv(key, value)
    code, out, err = charter("config", "show", *(["--json"] if as_json else []))
    assert code == 0, err
    for secret in ("audit-key-", "storage-secret-value", "db-pass-word", "chr_token-value"):
        assert secret not in out
    assert "********" in out and "db.internal" in out  # the URL itself still shows
    if as_json:
        data = json.loads(out)
        assert data["audit.key"]["value"] == data["profile.token"]["value"] == "********"
        assert data["database_url"]["value"] == (
            "postgresql+psycopg://bob:********@db.internal:5432/charter")
        assert data["profile.token"]["source"] == "env (CHARTER_TOKEN)"


def test_the_table_is_grouped_by_concern(charter):
    charter.env.setenv("CHARTER_LAKE_QUERIES_TOTAL", "3")
    code, out, _ = charter("config", "show")
    assert code == 0
    lines = out.splitlines()
    titles = [line.strip() for line in lines if line.strip() in
              {"core", "storage", "api", "audit", "identity", "lake", "profile"}]
    assert titles == ["core", "storage", "api", "audit", "identity", "lake", "profile"]
    row = next(line for line in lines if "lake.queries_total" in line)
    assert "3" in row and "env (CHARTER_LAKE_QUERIES_TOTAL)" in row
    assert lines.index(next(x for x in lines if x.strip() == "lake")) < lines.index(row)


def test_the_profile_in_use_with_its_sources(charter):
    save_profile(charter.home, Profile("ops", "https://charter.example", "chr_saved-token"))
    data = json.loads(charter("--profile", "ops", "config", "show", "--json")[1])
    assert data["profile.name"]["value"] == "ops"
    assert data["profile.name"]["source"] == "option (--profile)"
    assert data["profile.url"]["value"] == "https://charter.example"
    assert data["profile.url"]["source"] == f"profile ({charter.home / 'config'})"
    assert data["profile.token"]["value"] == "********"

    charter.env.setenv("CHARTER_PROFILE", "nobody")
    charter.env.setenv("CHARTER_URL", "http://127.0.0.1:9")
    code, out, _ = charter("config", "show", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["profile.name"] | {"description": ""} == {
        "group": "profile", "value": "nobody", "source": "env (CHARTER_PROFILE)",
        "env": ["CHARTER_PROFILE"], "description": ""}
    assert data["profile.url"]["source"] == "env (CHARTER_URL)"
    assert data["profile.token"] | {"description": ""} == {
        "group": "profile", "value": None, "source": "default", "env": ["CHARTER_TOKEN"],
        "description": ""}
    assert "chr_saved-token" not in out

    charter.env.setenv("CHARTER_URL", "http://u:S3CRET@127.0.0.1:9")
    code, out, _ = charter("config", "show", "--json")
    assert code == 0 and "S3CRET" not in out
    assert json.loads(out)["profile.url"]["value"] == "http://u:********@127.0.0.1:9"


def test_a_bad_value_is_one_line_and_a_nonzero_exit(charter):
    charter.env.setenv("CHARTER_LAKE_QUERY_TIMEOUT", "abc")
    code, out, err = charter("config", "show")
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert err.startswith("error [invalid_settings]: ")
    assert "CHARTER_LAKE_QUERY_TIMEOUT='abc'" in err

    code, out, _ = charter("config", "show", "--json")
    assert code == 1
    error = json.loads(out)
    assert error["code"] == "invalid_settings"
    assert "CHARTER_LAKE_QUERY_TIMEOUT='abc'" in error["message"]


@pytest.mark.parametrize("args", [("whoami",), ("profiles",), ("init",),
                                  ("login", "--token", "chr_x"), ("server",),
                                  ("lake", "tables", "list", "retail-data")])
def test_every_command_reports_a_bad_setting_the_same_way(charter, args):
    charter.env.setenv("CHARTER_SERVER_SWITCH_INTERVAL", "fast")
    code, out, err = charter(*args)
    assert (code, out) == (1, "")
    assert err.startswith("error [invalid_settings]: invalid setting "
                          "CHARTER_SERVER_SWITCH_INTERVAL='fast'")
    assert not charter.home.exists()  # refused before anything was made
