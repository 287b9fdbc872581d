"""An in-process client on a platform that was never initialised is refused with
`not_initialized` before anything is made in its home, and prints no traceback."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from charter import Client
from charter.cli.main import run
from charter.errors import NotFound
from charter.settings import Settings
from tests.conftest import PG_URL, create_pg_database, drop_pg_database

ENV = ("CHARTER_HOME", "CHARTER_DATABASE_URL", "CHARTER_URL", "CHARTER_TOKEN",
       "CHARTER_PROFILE")


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with nothing in it, and no CHARTER_* variable naming a platform."""
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_the_default_home_is_not_created(bare: Path, capfd: pytest.CaptureFixture) -> None:
    with pytest.raises(NotFound) as refused:
        Client(token="chr_x")
    assert refused.value.code == "not_initialized"
    assert list(bare.iterdir()) == []
    captured = capfd.readouterr()
    assert captured.out == captured.err == ""


def test_an_empty_home_stays_empty(bare: Path) -> None:
    home = bare / "home"
    home.mkdir()
    with pytest.raises(NotFound) as refused:
        Client(token="chr_x", settings=Settings(home=home))
    assert refused.value.code == "not_initialized" and str(home) in refused.value.message
    assert list(home.iterdir()) == []


def test_the_cli_answers_not_initialized(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = bare / "home"
    home.mkdir()
    monkeypatch.setenv("CHARTER_HOME", str(home))
    monkeypatch.setenv("CHARTER_TOKEN", "chr_x")
    for args in (["whoami"], ["--json", "whoami"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert run(args) == 1
        assert "not_initialized" in out.getvalue() + err.getvalue()
        assert "Traceback" not in err.getvalue()
    assert list(home.iterdir()) == []


@pytest.mark.skipif(not PG_URL, reason="set CHARTER_TEST_DATABASE_URL to a PostgreSQL server")
def test_an_empty_postgresql_database_is_not_initialized(bare: Path) -> None:
    url = create_pg_database()
    try:
        with pytest.raises(NotFound) as refused:
            Client(token="chr_x", settings=Settings(home=bare / "home", database_url=url))
        assert refused.value.code == "not_initialized"
        assert "CHARTER_DATABASE_URL" in refused.value.message
        assert not (bare / "home").exists()
    finally:
        drop_pg_database(url)
