"""The request log: one line per request (method, path, status, duration, request id,
principal) to `charter.access`; `charter server` writes it to stdout as text, or as one JSON
object per line with CHARTER_API_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import re
import time

import httpx
import pytest

from charter.api.access_log import ACCESS_LOGGER, AccessFormatter
from tests import servers

TEXT_LINE = re.compile(r"^\S+Z? (GET|POST) (\S+) (\d{3}) \d+\.\dms (\S+) (\S+)$")


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return caplog


def _lines(caplog) -> list[dict]:
    return [r.access for r in caplog.records if r.name == ACCESS_LOGGER]


def test_every_request_has_one_line_with_who_and_how(platform, access):
    admin = platform.admin._http
    answers = [admin.get("/v1/accounts"), admin.get("/v1/nowhere"),
               platform.client(None)._http.get("/v1/accounts"),
               platform.client("chr_not-a-token")._http.get("/v1/identity/whoami"),
               admin.get("/healthz")]
    lines = _lines(access)
    assert [(line["method"], line["path"], line["status"], line["principal"])
            for line in lines] == [
        ("GET", "/v1/accounts", 200, "admin"), ("GET", "/v1/nowhere", 404, "admin"),
        ("GET", "/v1/accounts", 401, "-"), ("GET", "/v1/identity/whoami", 401, "-"),
        ("GET", "/healthz", 200, "-")]
    assert [line["request_id"] for line in lines] == [
        a.headers["x-request-id"] for a in answers]
    assert all(isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
               for line in lines)


def test_a_path_cannot_write_a_line_of_its_own(platform, access):
    platform.admin._http.get("/v1/accounts/a%0Afake%20200")
    record = next(r for r in access.records if r.name == ACCESS_LOGGER)
    assert "\n" not in record.getMessage() and " fake" not in record.getMessage()
    assert record.access["path"] == "/v1/accounts/a%0Afake%20200"


def test_the_formatter_writes_text_or_json(platform, access):
    platform.admin._http.get("/v1/accounts")
    record = next(r for r in access.records if r.name == ACCESS_LOGGER)
    text = AccessFormatter("text").format(record)
    assert TEXT_LINE.match(text).groups()[:3] == ("GET", "/v1/accounts", "200")
    as_json = json.loads(AccessFormatter("json").format(record))
    assert set(as_json) == {"time", "method", "path", "status", "duration_ms", "request_id",
                            "principal"}


def _log_lines(server: servers.Server, want: int) -> list[str]:
    """The server's stdout once it holds `want` request lines (it writes each as it goes)."""
    deadline = time.monotonic() + 20
    while True:
        lines = [line for line in server.log.read_text().splitlines()
                 if "/v1/" in line or "/healthz" in line]
        if len(lines) >= want or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_server_writes_the_log_in_the_format_asked(platform, monkeypatch, fmt):
    monkeypatch.setenv("CHARTER_API_LOG_FORMAT", fmt)
    server = servers.start(platform.settings.home).ready()
    try:
        headers = {"authorization": f"Bearer {platform.admin_token}"}
        ok = httpx.get(f"{server.url}/v1/accounts", headers=headers)
        refused = httpx.get(f"{server.url}/v1/accounts")
        lines = _log_lines(server, want=3)  # /healthz of `ready` too
    finally:
        server.stop()
    answered = {a.headers["x-request-id"]: a.status_code for a in (ok, refused)}
    if fmt == "json":
        parsed = [json.loads(line) for line in lines]
        mine = [p for p in parsed if p["request_id"] in answered]
        assert [(p["method"], p["path"], p["status"], p["principal"]) for p in mine] == [
            ("GET", "/v1/accounts", 200, "admin"), ("GET", "/v1/accounts", 401, "-")]
    else:
        matched = [TEXT_LINE.match(line) for line in lines]
        assert all(matched), lines
        mine = [m.groups() for m in matched if m.group(4) in answered]
        assert [(g[0], g[1], g[2], g[4]) for g in mine] == [
            ("GET", "/v1/accounts", "200", "admin"), ("GET", "/v1/accounts", "401", "-")]
