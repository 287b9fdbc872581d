"""The server URL names the server's root: no user name or password (they would replace
the token and be echoed in errors), no path, query or fragment (no route is under them)."""

from __future__ import annotations

import pytest

from charter import Client
from charter.errors import Invalid
from tests import servers

SECRET = "s3cretPW"


@pytest.mark.parametrize("url", [f"http://user:{SECRET}@127.0.0.1:1",
                                 f"http://user:{SECRET}@127.0.0.1:8787x",
                                 f"http://user:{SECRET[:3]}@{SECRET[3:]}@127.0.0.1:1",
                                 f"https://user:{SECRET}@example.com/v1"])
def test_a_password_in_the_url_is_refused_and_never_echoed(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        Client(url, token="chr_x")
    assert refused.value.code == "invalid_url"
    assert SECRET[:3] not in refused.value.message
    assert SECRET[3:] not in refused.value.message
    assert "CHARTER_TOKEN" in refused.value.message


def test_the_cli_never_prints_the_password(platform, monkeypatch) -> None:
    monkeypatch.setenv("CHARTER_URL", f"http://user:{SECRET}@127.0.0.1:1")
    for extra in ((), ("--json",)):
        code, out, err = platform.cli("whoami", *extra)
        assert code == 1 and "invalid_url" in out + err
        assert SECRET not in out + err and "Traceback" not in err


@pytest.mark.parametrize("url", ["http://127.0.0.1:8787/v1", "http://127.0.0.1:8787/v1/",
                                 "http://127.0.0.1:8787/charter", "http://127.0.0.1:8787/?a=1",
                                 "http://127.0.0.1:8787?", "http://127.0.0.1:8787/#top",
                                 "http://127.0.0.1:8787/?token=chr_secret"])
def test_a_path_query_or_fragment_is_refused(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        Client(url, token="chr_x")
    assert refused.value.code == "invalid_url"
    assert "without a path" in refused.value.message
    assert "chr_secret" not in refused.value.message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8787", "http://127.0.0.1:8787/",
                                 "HTTP://127.0.0.1:8787//", "https://[::1]:8787/"])
def test_the_root_is_accepted_with_or_without_its_slash(url: str) -> None:
    with Client(url, token="chr_x") as client:
        assert client.url == url.lower().rstrip("/")


def test_a_root_with_its_slash_reaches_a_real_server(platform) -> None:
    server = servers.start(platform.settings.home).ready()
    try:
        with Client(server.url + "/", platform.admin_token) as client:
            assert client.url == server.url
            assert client.whoami().name == "admin"
    finally:
        server.stop()
