"""The browser phone on the agent console, in headless Chromium with the vendored Twilio
Voice SDK: without Twilio credentials the panel says so and the console works; with
them the phone is ready, and nothing reaches Twilio until the agent takes a call."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hotline.auth import add_user
from tests.web.browser import LiveServer, release_session
from tests.web.test_inbox_browser import PASSWORD, sign_in

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser

CREDENTIALS = {
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_API_KEY": "SK" + "2" * 32,
    "TWILIO_API_SECRET": "s" * 32,
    "TWILIO_TWIML_APP_SID": "AP" + "3" * 32,
}


def _console(page: Any, live_server: LiveServer) -> list[str]:
    """Open the console as an agent; returns every address the page reaches (live)."""
    reached: list[str] = []
    page.on("request", lambda r: reached.append(r.url))
    page.on("websocket", lambda ws: reached.append(ws.url))
    add_user("li", "agent", password=PASSWORD, display_name="李敏")
    release_session()
    sign_in(page, "li", lands_on="/tickets")
    page.goto("/console")
    expect(page.locator("#console-live")).to_contain_text("实时")
    return reached


def test_without_credentials_the_console_works_and_says_there_is_no_phone(
    app: Flask, catalogue: Any, live_server: LiveServer, page: Any
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    for key in CREDENTIALS:
        app.config[key] = None
    _console(page, live_server)
    expect(page.locator("#softphone-status")).to_contain_text("未配置网络电话")
    expect(page.locator("#softphone-take")).to_be_disabled()
    expect(page.locator("#softphone")).to_have_attribute("data-state", "off")
    page.click("#agent-state button[value=available]")
    expect(page.locator("#my-state")).to_have_text("空闲")
    assert problems == []


def test_with_credentials_the_phone_is_ready_without_reaching_twilio(
    app: Flask, catalogue: Any, live_server: LiveServer, page: Any
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    app.config.update(CREDENTIALS)
    reached = _console(page, live_server)
    expect(page.locator("#softphone-status")).to_contain_text("就绪")
    expect(page.locator("#softphone")).to_have_attribute("data-state", "ready")
    expect(page.locator("#softphone-take")).to_be_enabled()
    expect(page.locator("#softphone-hangup")).to_be_disabled()
    assert page.evaluate("typeof window.Twilio.Device") == "function"
    assert page.evaluate("window.hotlinePhone.busy()") is False
    assert all(
        url.startswith(live_server.url.replace("http", "ws")) or url.startswith(live_server.url)
        for url in reached
    )
    assert problems == []
