"""Browser-test helpers: the test's app on a real HTTP server, and a headless Chromium page.

tests/web/conftest.py registers the fixtures `live_server`, `page` and `browser` (with
`new_page(browser, live_server)` for one page per person); a test module marks its tests
`pytestmark = pytest.mark.browser`.
`page` navigates relative to the live server (`page.goto("/portal/")`). Tests are skipped,
saying why, when Chromium or Playwright is missing (STACK.md "Browser tests": Debian's
chromium, never `playwright install`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from werkzeug.serving import make_server

from hotline.extensions import db

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


@dataclass
class LiveServer:
    url: str
    app: Flask
    console: list[str] = field(default_factory=list)  # browser console lines, for asserts


def release_session() -> None:
    """End the test thread's transaction: with SQLite every transaction begins with BEGIN
    IMMEDIATE (hotline.database), so an open one would block the server's writes."""
    db.session.rollback()
    db.session.remove()


@pytest.fixture(name="live_server")
def live_server_fixture(app: Flask) -> Iterator[LiveServer]:
    """The test's `app` served on 127.0.0.1:<free port> by a threaded werkzeug server.

    Server threads share the test's database. CSRF is switched on, as in production, so
    forms are tested the way a citizen's browser submits them. Between browser steps and
    database checks, call `release_session()` after reading.
    """
    app.config["WTF_CSRF_ENABLED"] = True
    release_session()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        release_session()


@pytest.fixture(name="browser")
def browser_fixture(live_server: LiveServer) -> Iterator[Browser]:
    """Headless Chromium (Debian's), for tests that need several people's pages."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"headless Chromium not found at {CHROMIUM}: "
            "apt-get install -y chromium fonts-wqy-microhei"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser: Browser, live_server: LiveServer) -> Page:
    """A page in a context of its own (its own cookies: one person), zh-CN, whose
    relative URLs go to the live server."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1000, "height": 900},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda message: live_server.console.append(message.text))
    return page


@pytest.fixture(name="page")
def page_fixture(live_server: LiveServer, browser: Browser) -> Iterator[Page]:
    """A fresh headless Chromium page (zh-CN) whose relative URLs go to the live server."""
    page = new_page(browser, live_server)
    yield page
    page.context.close()
