"""The department inbox in headless Chromium against a real server: a ticket dispatched
to the unit appears without a reload; another unit's never does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from hotline.auth import add_user
from hotline.extensions import db
from hotline.outbox import relay_pending
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
def page(live_server: str) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="zh-CN")
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def settle() -> None:
    # SQLite takes the write lock at BEGIN: never hold a transaction while the server works.
    db.session.rollback()


def dispatched(staff: Any, department: str, content: str) -> str:
    reference = new_ticket(staff, content=content)
    assert staff.act("agent", reference, "dispatch", {"department": department}).status_code == 200
    settle()
    return reference


def test_a_ticket_dispatched_to_the_unit_appears_without_reload(
    app: Flask, staff: Any, live_server: str, page: Any
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    add_user("h-pjq", "handler", department_code="PJQ", password=PASSWORD)
    settle()

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "h-pjq")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server}/inbox")
    expect(page.locator("#inbox-live")).to_have_text("实时：新派工单无需刷新即会出现。")
    expect(page.locator("#inbox-rows")).to_contain_text("本单位暂无待办工单")
    page.evaluate("document.body.dataset.loadedOnce = 'yes'")  # a reload would drop it

    mine = dispatched(staff, "PJQ", "小区门口路灯坏了")
    theirs = dispatched(staff, "SCJGJ", "超市卖过期食品")
    relay_pending()
    settle()
    expect(page.locator(f"tr[data-reference='{mine}']")).to_be_visible(timeout=2_000)
    assert page.locator(f"tr[data-reference='{theirs}']").count() == 0
    assert page.evaluate("document.body.dataset.loadedOnce") == "yes"
    assert problems == []
