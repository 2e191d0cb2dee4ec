"""Collision control in headless Chromium: two people of one unit open the same ticket;
when the first starts filling in a form, the second sees who is editing and cannot type;
when the first leaves, the second can."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from hotline.auth import add_user
from hotline.extensions import db
from tests.api_helpers import new_ticket
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    db.session.rollback()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def browser(live_server: str) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def signed_in(browser: Any, live_server: str, username: str) -> Any:
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server}/inbox")
    return page


def test_the_second_person_sees_the_lock_and_cannot_type(
    app: Flask, staff: Any, live_server: str, browser: Any
) -> None:
    reference = new_ticket(staff, content="小区门口路灯坏了")
    assert staff.act("agent", reference, "dispatch", {"department": "PJQ"}).status_code == 200
    add_user("tan", "handler", department_code="PJQ", password=PASSWORD, display_name="谭伟")
    add_user("lin", "handler", department_code="PJQ", password=PASSWORD, display_name="林芳")
    db.session.commit()
    db.session.rollback()

    first = signed_in(browser, live_server, "tan")
    second = signed_in(browser, live_server, "lin")
    for page in (first, second):
        page.goto(f"{live_server}/tickets/{reference}")
    expect(first.locator("#ticket-presence")).to_contain_text("林芳")  # who else has it open
    expect(second.locator("#ticket-presence")).to_contain_text("谭伟")

    first.click("#act-send_back input[name=reason]")
    first.keyboard.type("不属于本单位")
    expect(first.locator("#ticket-presence")).to_contain_text("您正在编辑")
    expect(second.locator("#ticket-presence")).to_contain_text("谭伟 正在编辑")
    expect(second.locator("#act-send_back input[name=reason]")).to_be_disabled()
    expect(second.locator("#act-sign button")).to_be_disabled()

    first.goto(f"{live_server}/inbox")  # leaving gives the lock back
    expect(second.locator("#act-send_back input[name=reason]")).to_be_enabled(timeout=5_000)
    assert "正在编辑" not in second.inner_text("#ticket-presence")
