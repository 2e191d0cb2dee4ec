"""The chat widget in headless Chromium against a real server (real WebSocket upgrades):
start a chat, send a line, see an agent's reply and the end of the chat."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from hotline.auth import add_user
from hotline.extensions import db
from hotline.intake.chat import close_chat, post_agent_message
from hotline.models import Message, Ticket
from hotline.outbox import relay_pending
from tests.web.browser import CHROMIUM as BROWSER_PATH
from tests.web.browser import CHROMIUM_ARGS

CHROMIUM = str(BROWSER_PATH)
FLAGS = CHROMIUM_ARGS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
sync_playwright = sync_api.sync_playwright

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Chromium at {CHROMIUM}"),
]


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
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
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = browser.new_context(locale="zh-CN")
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def settle() -> None:
    # SQLite takes the write lock at BEGIN: never hold a transaction while the server works.
    db.session.rollback()


def test_a_citizen_chats_with_an_agent_in_the_browser(
    app: Flask, live_server: str, page: Any
) -> None:
    problems: list[str] = []

    def console(message: Any) -> None:
        # The site has no favicon yet (base.html is shared); anything else is a failure.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            problems.append(f"{message.text} {message.location}")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))

    page.goto(f"{live_server}/chat")
    page.fill("textarea[name=content]", "社保卡丢失了怎么补办？")
    page.fill("input[name=phone]", "13800138000")
    page.click("text=开始咨询")
    page.wait_for_selector(".chat-reference strong")
    settle()
    ticket = db.session.scalar(select(Ticket))
    assert ticket is not None and ticket.channel == "chat"
    reference = ticket.reference
    settle()
    assert page.inner_text(".chat-reference strong") == reference
    # Connected: the widget clears its "connecting" notice (no wait_for_function: the
    # page's CSP forbids the eval it would need, as it should).
    expect(page.locator("#chat-status")).to_have_text("", timeout=10_000)

    page.fill("#chat-text", "需要带什么材料？")
    page.press("#chat-text", "Enter")
    page.wait_for_selector(".chat-log li.inbound >> nth=1")
    assert page.input_value("#chat-text") == ""
    settle()
    bodies = db.session.scalars(select(Message.body).order_by(Message.id)).all()
    assert list(bodies) == ["社保卡丢失了怎么补办？", "需要带什么材料？"]
    settle()

    agent = add_user("agent1", "agent", password="x" * 12)
    post_agent_message(reference, agent, "请携带身份证到社保窗口办理。")
    settle()
    relay_pending()
    reply = page.wait_for_selector(".chat-log li.outbound")
    assert reply is not None and "请携带身份证到社保窗口办理。" in reply.inner_text()
    assert "12345 话务员" in reply.inner_text()

    close_chat(reference, agent)
    settle()
    relay_pending()
    page.wait_for_selector("#chat-text:disabled")
    assert "本次咨询已结束" in page.inner_text("#chat-status")

    page.reload()  # the ended chat is shown with an offer to start a new one
    assert page.locator(".chat-log li").count() == 3
    assert page.locator("text=发起新的咨询").count() >= 1
    assert problems == []
