"""The agent's side of a web chat in headless Chromium: the agent opens the chat ticket
from the console, sees what the citizen wrote, replies with Enter, hears the citizen's
next line live and ends the chat; the citizen's widget shows each step."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from hotline.auth import add_user
from hotline.extensions import db
from hotline.models import Message, Ticket
from hotline.outbox import relay_pending
from tests.web.browser import LiveServer, new_page, release_session
from tests.web.test_inbox_browser import PASSWORD, sign_in

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser


def _relay_when(messages: int) -> None:
    """Wait until the chat has `messages` lines, then push them (no worker runs here)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        release_session()
        if (db.session.scalar(select(func.count(Message.id))) or 0) >= messages:
            break
        time.sleep(0.05)
    release_session()
    relay_pending()
    release_session()


def test_an_agent_chats_with_a_citizen_from_the_ticket_page(
    app: Flask, catalogue: Any, live_server: LiveServer, browser: Any
) -> None:
    problems: list[str] = []
    citizen = new_page(browser, live_server)
    agent = new_page(browser, live_server)
    for page in (citizen, agent):
        page.on("pageerror", lambda e: problems.append(str(e)))
    add_user("li", "agent", password=PASSWORD, display_name="李敏")
    release_session()

    citizen.goto("/chat")
    citizen.fill("textarea[name=content]", "社保卡丢失了怎么补办？")
    citizen.click("text=开始咨询")
    citizen.wait_for_selector(".chat-reference strong")
    release_session()
    reference = db.session.scalar(select(Ticket.reference))
    release_session()
    assert reference is not None

    sign_in(agent, "li", lands_on="/tickets")
    agent.goto("/console")
    # Connected, and the list refreshed once: a click while it is replaced can be lost.
    expect(agent.locator("#console-live")).to_contain_text("实时")
    agent.click(f"tr[data-reference='{reference}'] a")
    agent.wait_for_url(f"**/tickets/{reference}?from=console")
    expect(agent.locator("#chat-lines")).to_contain_text("社保卡丢失了怎么补办？")

    agent.keyboard.press("Alt+t")  # the reply box's key
    agent.keyboard.type("请携带身份证到社保窗口办理。")
    agent.keyboard.press("Enter")
    expect(agent.locator("#chat-reply textarea")).to_have_value("")
    _relay_when(2)
    expect(agent.locator("#chat-lines .outbound")).to_contain_text("请携带身份证")
    expect(citizen.locator(".chat-log li.outbound")).to_contain_text("请携带身份证")

    citizen.fill("#chat-text", "需要照片吗？")
    citizen.press("#chat-text", "Enter")
    _relay_when(3)
    expect(agent.locator("#chat-lines .inbound").nth(1)).to_contain_text("需要照片吗？")

    agent.click("#chat-close")
    expect(agent.locator("#chat-status")).to_contain_text("会话已结束")
    _relay_when(3)
    expect(citizen.locator("#chat-status")).to_contain_text("本次咨询已结束")
    assert problems == []
