"""The agent console in headless Chromium: an SMS that arrives through a signed Twilio
webhook appears in the agent's queue within 2 s, without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Ticket
from hotline.outbox import relay_pending
from tests.web.browser import LiveServer, release_session
from tests.web.test_screen_pop_browser import _live_console
from tests.web.test_twilio_sms import BASE, NUMBER, TOKEN, post_signed, sms

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser


def test_a_signed_sms_appears_in_the_agents_queue_without_reload(
    app: Flask, catalogue: Any, client: FlaskClient, live_server: LiveServer, page: Any
) -> None:
    app.config.update(PUBLIC_BASE_URL=BASE, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_NUMBER=NUMBER)
    problems = _live_console(page)
    expect(page.locator("#console-queue")).to_contain_text("暂无等待中的来电或诉求")
    page.evaluate("document.body.dataset.loadedOnce = 'yes'")  # a reload would drop it

    response = post_signed(client, "/twilio/sms", sms("SM" + "7" * 32, "小区门口路灯坏了三天了"))
    assert response.status_code == 200
    release_session()
    reference = db.session.scalar(select(Ticket.reference))
    assert reference is not None
    release_session()
    relay_pending()
    release_session()
    expect(page.locator(f"tr[data-reference='{reference}']")).to_be_visible(timeout=2_000)
    row = page.locator(f"tr[data-reference='{reference}']")
    expect(row).to_contain_text("短信")
    expect(row.locator("[data-since]")).not_to_be_empty()  # the waiting time counts
    assert page.evaluate("document.body.dataset.loadedOnce") == "yes"
    assert problems == []
