"""/docs and /redoc render in a real browser with the network off: headless Chromium (Debian's
package, driven by Playwright) may reach the server under test and nothing else. The
screenshots are kept in tests/artifacts/ (not committed)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def browser():
    """Headless Chromium that resolves no host name: only the loopback server is reached."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing on CI: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing: install Debian's package (apt-get install "
                    "chromium) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                  "--no-sandbox"])  # CI runs as root, where Chromium's sandbox cannot start
        yield browser
        browser.close()


def _offline_page(browser, url: str):
    """A page whose requests to anywhere but `url`'s server are refused and collected."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    origin = urlsplit(url).netloc
    refused: list[str] = []

    def only_the_server(route) -> None:
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", only_the_server)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    return page, refused, failed


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_docs_render_offline_with_every_operation_and_the_authorize_button(server, browser):
    _, url, _ = server
    page, refused, failed = _offline_page(browser, url)
    page.goto(f"{url}/docs", wait_until="networkidle")
    page.wait_for_selector(".opblock", timeout=30_000)
    document = page.request.get(f"{url}/openapi.json").json()
    operations = sum(len(item) for item in document["paths"].values())
    assert page.locator(".opblock").count() == operations
    shown = page.locator(".opblock-summary-operation-id").all_inner_texts()
    assert sorted(shown) == sorted(op["operationId"] for item in document["paths"].values()
                                   for op in item.values())
    page.locator("button.authorize").first.click()
    dialog = page.locator(".dialog-ux")
    dialog.wait_for(timeout=10_000)
    assert "bearer" in dialog.inner_text() and "http, Bearer" in dialog.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs-swagger-ui.png"), full_page=False)
    assert refused == [] and failed == [], (refused, failed)

    page, refused, failed = _offline_page(browser, url)
    page.goto(f"{url}/redoc", wait_until="networkidle")
    page.wait_for_selector("[data-section-id]", timeout=30_000)
    assert page.locator("h1", has_text="Charter").count() == 1
    assert page.get_by_text("AUTHORIZATIONS:").count() >= operations - 1  # all but /healthz
    page.screenshot(path=str(ARTIFACTS / "docs-redoc.png"), full_page=False)
    assert refused == [] and failed == [], (refused, failed)
