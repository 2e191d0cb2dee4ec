"""The console in headless Chromium: a call put through to the agent opens the screen pop
by itself, the suggestions follow the typing, and one keystroke (Alt+D) makes and
dispatches the ticket, or (Alt+A) answers it from the knowledge base; a console that
lost its connection shows, once back, what arrived while it was away."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hotline import warmup
from hotline.auth import add_user
from hotline.extensions import db
from hotline.intake import voice, voice_reports
from hotline.models import CallRecord, KnowledgeGap, Ticket, TicketArticle, User
from hotline.outbox import relay_pending
from knowledge_base.io import import_knowledge_base
from tests.knowledge_base.test_search import _one_article
from tests.web.browser import LiveServer, release_session
from tests.web.test_inbox_browser import PASSWORD, sign_in
from tests.web.test_twilio_sms import BASE, NUMBER, TOKEN, post_signed, sms

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser

CALLER = "+8613800138000"
SID = "CA" + "6" * 32


def _relay() -> int:
    """Hand the outbox to Socket.IO, as the worker's relay does; returns how many went."""
    release_session()
    handed = relay_pending()
    release_session()
    return handed


def _live_console(page: Any) -> list[str]:
    """The agent 李敏 signed in at /console, live; the page's script errors, collected."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    add_user("li", "agent", password=PASSWORD, display_name="李敏")
    release_session()
    sign_in(page, "li", lands_on="/tickets")
    page.goto("/console")
    expect(page.locator("#console-live")).to_contain_text("实时")
    return problems


def _put_through(page: Any) -> None:
    """A call answered by 李敏 (as Twilio's queue reports it), its screen pop open."""
    call = {"CallSid": SID, "From": CALLER, "To": NUMBER, "CallStatus": "ringing"}
    voice.answer_call(call)
    agent = db.session.scalar(select(User).where(User.username == "li"))
    assert agent is not None
    voice_reports.record_dequeue({**call, "QueueTime": "5"}, str(agent.id))
    assert _relay() == 1  # the "call.answered" push to the agent's room
    # The suite's default wait (TIMEOUT_MS, 20 s): the call's page may load slowly on a busy
    # machine.
    page.wait_for_url(f"**/console/calls/{SID}")


def test_an_answered_call_pops_up_and_one_keystroke_dispatches_it(
    app: Flask, catalogue: Any, live_server: LiveServer, page: Any
) -> None:
    app.config["TWILIO_NUMBER"] = NUMBER
    warmup.warm(app)  # as `hotline serve` does when it starts
    problems = _live_console(page)
    _put_through(page)
    expect(page.locator("#caller")).to_contain_text(CALLER)
    expect(page.locator("#caller-history")).to_contain_text("该号码首次来电")
    page.fill("#ticket-content", "我家门口的路灯坏了一个星期，晚上很黑")
    expect(page.locator("#routing-hits .route-hit").first).to_be_visible()
    expect(page.locator("#deadline-preview")).to_contain_text("办结")
    page.select_option("select[name=department]", "PJQ")
    page.keyboard.press("Alt+d")
    page.wait_for_url("**/console")
    release_session()
    ticket = db.session.scalar(select(Ticket))
    assert ticket is not None and ticket.status == "pending_sign"
    assert ticket.department is not None and ticket.department.code == "PJQ"
    linked = db.session.scalar(select(CallRecord.ticket_id).where(CallRecord.call_sid == SID))
    assert linked == ticket.id
    release_session()
    assert problems == []


def test_a_consultation_is_answered_from_the_knowledge_base_the_agent_sees_while_typing(
    app: Flask, catalogue: Any, live_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    """The caller's question, typed in the caller's own words, brings up the article that
    answers it; its text becomes the answer, and Alt+A closes the ticket as answered
    directly, the article kept on it (and no knowledge gap counted)."""
    app.config["TWILIO_NUMBER"] = NUMBER
    import_knowledge_base(_one_article(tmp_path, ["狗牌去哪里领"]))
    db.session.commit()
    warmup.warm(app)
    problems = _live_console(page)
    _put_through(page)

    page.fill("#ticket-content", "家里养了条狗，那个狗牌要去边度领")
    expect(page.locator("#kb-hits .kb-hit").first).to_contain_text("犬只登记怎么办理？")
    expect(page.locator("textarea[name=answer]")).to_have_value(re.compile("领取犬牌"))
    page.keyboard.press("Alt+a")
    page.wait_for_url("**/console")
    release_session()
    ticket = db.session.scalar(select(Ticket))
    assert ticket is not None and ticket.status == "closed"
    used = db.session.scalars(select(TicketArticle.article_key)).all()
    assert used == ["kb-0301"]
    assert db.session.scalar(select(func.count(KnowledgeGap.id))) == 0
    release_session()
    assert problems == []


def test_a_reconnected_console_shows_what_arrived_while_it_was_away(
    app: Flask, catalogue: Any, client: FlaskClient, live_server: LiveServer, page: Any
) -> None:
    app.config.update(PUBLIC_BASE_URL=BASE, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_NUMBER=NUMBER)
    _live_console(page)

    page.evaluate("window.hotlineLive.disconnect()")
    expect(page.locator("#console-live")).to_contain_text("连接中断")
    response = post_signed(client, "/twilio/sms", sms("SM" + "8" * 32, "小区门口路灯坏了三天了"))
    assert response.status_code == 200
    release_session()
    reference = db.session.scalar(select(Ticket.reference))
    assert reference is not None
    _relay()  # pushed while the console was away: it hears nothing
    page.wait_for_timeout(500)
    expect(page.locator(f"tr[data-reference='{reference}']")).to_have_count(0)

    page.evaluate("window.hotlineLive.connect()")
    expect(page.locator("#console-live")).to_contain_text("实时")
    expect(page.locator(f"tr[data-reference='{reference}']")).to_be_visible(timeout=3_000)


def _queue(call_sid: str) -> dict[str, str]:
    """A call that chose 人工服务 and waits in the queue."""
    call = {"CallSid": call_sid, "From": CALLER, "To": NUMBER, "CallStatus": "ringing"}
    voice.answer_call(call)
    voice.choose_from_menu({**call, "Digits": "0"}, 1)
    return call


def _wallboard_with_one_call_waiting(app: Flask, page: Any) -> dict[str, str]:
    """A supervisor's wallboard, live, showing one call waiting for the agent 李敏."""
    app.config["TWILIO_NUMBER"] = NUMBER
    add_user("wang", "supervisor", password=PASSWORD, display_name="王督")
    add_user("li", "agent", password=PASSWORD, display_name="李敏")
    release_session()
    call = _queue(SID)
    release_session()
    sign_in(page, "wang", lands_on="/tickets")
    page.goto("/wallboard")
    expect(page.locator("#wallboard-live")).to_contain_text("实时")
    expect(page.locator("#calls-waiting .value")).to_have_text("1")
    return call


def test_the_wallboard_updates_live_when_a_call_is_answered(
    app: Flask, catalogue: Any, live_server: LiveServer, page: Any
) -> None:
    call = _wallboard_with_one_call_waiting(app, page)
    expect(page.locator("#answered-today .value")).to_have_text("0")
    page.evaluate("document.body.dataset.loadedOnce = 'yes'")

    agent = db.session.scalar(select(User).where(User.username == "li"))
    assert agent is not None
    voice_reports.record_dequeue({**call, "QueueTime": "5"}, str(agent.id))
    _relay()
    expect(page.locator("#calls-waiting .value")).to_have_text("0", timeout=3_000)
    expect(page.locator("#answered-today .value")).to_have_text("1")
    expect(page.locator("#answer-rate-15s .value")).to_have_text("100%")
    assert page.evaluate("document.body.dataset.loadedOnce") == "yes"


def test_a_change_heard_while_the_wallboard_is_fetching_is_fetched_again(
    app: Flask, catalogue: Any, live_server: LiveServer, page: Any
) -> None:
    """The wallboard's first fetch is held until the second call has been answered and
    its push heard: what it brings back is already stale, so the page must ask again."""
    first = _wallboard_with_one_call_waiting(app, page)
    page.wait_for_load_state("networkidle")  # the refresh after connecting, if any

    held: list[tuple[Any, Any]] = []

    def hold_the_first(route: Any) -> None:
        if held:
            route.continue_()
        else:  # the answer as it is now, handed to the page only later
            held.append((route, route.fetch()))

    page.route("**/wallboard?fragment=1", hold_the_first)
    page.evaluate(
        """() => { window.heard = 0;
        document.addEventListener('live:call.queue', () => { window.heard += 1; }); }"""
    )
    _queue("CA" + "7" * 32)
    _relay()
    page.wait_for_function("window.heard >= 1")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the wallboard did not ask for its numbers after the second call"

    agent = db.session.scalar(select(User).where(User.username == "li"))
    assert agent is not None
    voice_reports.record_dequeue({**first, "QueueTime": "5"}, str(agent.id))
    _relay()
    page.wait_for_function("window.heard >= 2")  # heard while the first fetch is held
    route, stale = held[0]
    route.fulfill(response=stale)  # two waiting: true when it was read
    expect(page.locator("#calls-waiting .value")).to_have_text("1", timeout=3_000)
    expect(page.locator("#answered-today .value")).to_have_text("1")
