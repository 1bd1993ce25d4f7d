"""Debian's Chromium driven by Playwright, for the console's end-to-end tests:
launching it (skipped, with the reason, where /usr/bin/chromium is missing;
nothing is ever downloaded), signing in, and plain HTTP with a page's session
cookie (what a browser would never send, such as a POST without its token);
the screenshots of docs/, taken only when AMIABLE_SCREENSHOTS=1."""

import http.client
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import pytest

if TYPE_CHECKING:  # playwright is a dev dependency, imported only where Chromium runs
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SESSION_COOKIE = "amiable-console"
VIEWPORT = {"width": 1280, "height": 800}
DOCS = Path(__file__).resolve().parent.parent / "docs"


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"the console is tested in Debian's Chromium: {CHROMIUM} is missing")
    pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra) is missing")


@contextmanager
def chromium() -> Iterator["Browser"]:
    """A headless Chromium, closed (its processes ended) on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browser_tab(browser: "Browser", timeout_ms: int = 15_000) -> Iterator["Page"]:
    """A fresh 1280x800 page in a context of its own (no cookie of another
    test); a JavaScript dialog (an alert an injected script would raise)
    fails the test."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    tab = context.new_page()
    tab.set_default_timeout(timeout_ms)
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield tab
    finally:
        context.close()
    assert not dialogs, f"a script ran: {dialogs}"


def sign_in(page: "Page", url: str, key: str = "test", secret: str = "test") -> None:
    """Sign in on the console's sign-in page (where `url`, a console page, sends a
    signed-out browser) and land where it was going."""
    page.goto(url)
    page.get_by_label("Access key ID").fill(key)
    page.get_by_label("Secret access key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def session_cookie(page: "Page") -> str:
    """The console's session cookie of the page's browser context."""
    for cookie in page.context.cookies():
        if cookie.get("name") == SESSION_COOKIE:
            return str(cookie.get("value"))
    raise AssertionError("not signed in: no session cookie")


def post(url: str, cookie: str | None, form: dict[str, str]) -> http.client.HTTPResponse:
    """A form POSTed with plain http.client (no redirect followed), with the
    session cookie if given."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    connection.request("POST", parts.path, urlencode(form), headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def get(url: str) -> http.client.HTTPResponse:
    """A plain GET, no cookie, no redirect followed."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def screenshot(page: "Page", name: str) -> None:
    """`docs/{name}` of the page at 1280x800, when AMIABLE_SCREENSHOTS=1 (never otherwise)."""
    if os.environ.get("AMIABLE_SCREENSHOTS") != "1":
        return
    page.set_viewport_size(VIEWPORT)  # type: ignore[arg-type]
    page.screenshot(path=str(DOCS / name))
