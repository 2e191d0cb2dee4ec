"""The screen pop (/console/calls/<sid>) and the office's one-keystroke decisions: a call
put through to an agent opens with the caller's history, the line dialled and its preset;
the ticket made from it is linked to the call and, in the same step, answered directly,
dispatched, rejected or handed to an emergency line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.intake import voice, voice_reports
from hotline.models import CallRecord, Ticket, TicketArticle, User
from hotline.tickets.intake import NewTicket, open_ticket
from knowledge_base.io import import_knowledge_base
from tests.web.socket_client import Socket, login, relay

SAMPLE_KB = Path(__file__).resolve().parent.parent / "knowledge_base" / "data" / "kb.sample.yaml"
CALLER = "+8613800138000"
NUMBER = "+14155550123"
SID = "CA" + "5" * 32
ZH = {"Accept-Language": "zh-CN"}
NONCE = "a" * 32


@pytest.fixture
def lines(app: Flask, staff: Any) -> Flask:
    app.config["TWILIO_NUMBER"] = NUMBER
    import_knowledge_base(SAMPLE_KB)
    return app


def _call_form(**extra: str) -> dict[str, str]:
    return {"CallSid": SID, "From": CALLER, "To": NUMBER, "CallStatus": "ringing", **extra}


def _answered_by(agent: User, **extra: str) -> None:
    voice.answer_call(_call_form(**extra))
    voice_reports.record_dequeue(
        _call_form(QueueTime="7", DequeingCallSid="CA" + "9" * 32), str(agent.id)
    )


def _user(username: str) -> User:
    found = db.session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def _tickets() -> list[Ticket]:
    db.session.rollback()
    return list(db.session.scalars(select(Ticket).order_by(Ticket.id)))


def _past_ticket(content: str, phone: str = CALLER) -> Ticket:
    ticket, _ = open_ticket(
        NewTicket(
            channel="phone", type="complaint", urgency="general", content=content, phone=phone
        ),
        None,
    )
    return ticket


def test_the_answering_agent_alone_hears_the_call_and_sees_it_on_the_console(
    lines: Flask,
) -> None:
    mine = login(lines, "agent-a", "agent")
    theirs = login(lines, "agent-b", "agent")
    mine_socket = Socket(lines, "/office", mine)
    their_socket = Socket(lines, "/office", theirs)
    _answered_by(_user("agent-a"))
    relay()
    assert mine_socket.received("call.answered")[0]["call_sid"] == SID
    assert their_socket.received("call.answered") == []
    console = mine.get("/console", headers=ZH).text
    assert f"/console/calls/{SID}" in console and "通话中" in console
    assert f"/console/calls/{SID}" not in theirs.get("/console").text
    # A repeated dequeue report (Twilio retries) does not pop the screen twice.
    voice_reports.record_dequeue(
        _call_form(QueueTime="7", DequeingCallSid="CA" + "9" * 32), str(_user("agent-a").id)
    )
    relay()
    assert mine_socket.received("call.answered") == []


def test_the_screen_pop_shows_the_caller_the_line_and_the_history(lines: Flask) -> None:
    earlier = _past_ticket("超市卖过期食品")
    other = _past_ticket("别人的工单", phone="+8613912345678")
    agent = login(lines, "agent-a", "agent")
    _answered_by(_user("agent-a"), ForwardedFrom="+8612315")
    page = agent.get(f"/console/calls/{SID}", headers=ZH)
    assert page.status_code == 200
    assert CALLER in page.text and "市场监管投诉举报热线" in page.text
    assert earlier.reference in page.text and other.reference not in page.text
    preset = re.search(r'name="category" maxlength="16" value="([^"]*)"', page.text)
    assert preset is not None and preset[1] == "0102"
    assert agent.get(f"/console/calls/CA{'0' * 32}").status_code == 404
    handler = login(lines, "h-pjq", "handler", "PJQ")
    assert handler.get(f"/console/calls/{SID}").status_code == 403


def test_suggestions_follow_the_typing_and_are_for_the_centre_only(lines: Flask) -> None:
    agent = login(lines, "agent-a", "agent")
    found = agent.get(
        "/console/suggest",
        query_string={"text": "我家门口路灯坏了一个星期", "type": "help", "call": SID},
    )
    assert found.status_code == 200
    body = found.json
    assert len(body["routing"]) >= 1 and body["routing"][0]["reasons"]
    assert body["deadline"]["due_at"] and body["deadline"]["sign_due_at"]
    dog = agent.get("/console/suggest", query_string={"text": "养狗要办狗证吗，去哪里办"}).json
    assert dog["kb"][0]["key"] == "kb-9002" and dog["deadline"] is None
    empty = agent.get("/console/suggest").json
    assert empty == {"kb": [], "routing": [], "deadline": None}
    handler = login(lines, "h-pjq", "handler", "PJQ")
    assert handler.get("/console/suggest", query_string={"text": "路灯"}).status_code == 403


def _take(client: FlaskClient, **fields: str):  # type: ignore[no-untyped-def]
    data = {"nonce": NONCE, "type": "help", "urgency": "general", **fields}
    return client.post(f"/console/calls/{SID}", data=data, headers=ZH)


def test_a_ticket_from_the_call_is_linked_to_it_and_made_once(lines: Flask) -> None:
    agent = login(lines, "agent-a", "agent")
    _answered_by(_user("agent-a"), ForwardedFrom="+8612315")
    first = _take(
        agent, content="网购商品质量问题，商家拒绝退货", type="complaint", category="0102"
    )
    assert first.status_code == 303 and "from=console" in first.headers["Location"]
    again = _take(
        agent, content="网购商品质量问题，商家拒绝退货", type="complaint", category="0102"
    )
    assert again.status_code == 303
    (ticket,) = _tickets()
    assert (ticket.channel, ticket.status, ticket.category.code) == ("phone", "accepted", "0102")
    assert ticket.line_dialled == "+8612315" and ticket.contact.phone == CALLER
    call = db.session.scalar(select(CallRecord).where(CallRecord.call_sid == SID))
    assert call is not None and call.ticket_id == ticket.id


@pytest.mark.parametrize(
    ("then", "fields", "status", "check"),
    [
        (
            "answer_directly",
            {
                "content": "养狗要办狗证吗，去哪里办",
                "type": "consult",
                "article": "kb-9002",
                "answer": "需要办理犬只登记，到辖区派出所。",
            },
            "closed",
            lambda t: t.disposition == "direct_answer",
        ),
        (
            "dispatch",
            {"content": "我家门口路灯坏了一个星期", "route": "PJQ|"},
            "pending_sign",
            lambda t: t.department.code == "PJQ",
        ),
        (
            "reject",
            {"content": "这个案子法院已经在审理了", "reason": "litigation", "note": "已告知"},
            "closed",
            lambda t: t.reject_reason == "litigation",
        ),
        (
            "hand_to_emergency",
            {"content": "楼下有人打架", "line": "110"},
            "closed",
            lambda t: t.emergency_line == "110",
        ),
    ],
)
def test_one_keystroke_makes_the_ticket_and_decides_it(
    lines: Flask, then: str, fields: dict[str, str], status: str, check: Any
) -> None:
    agent = login(lines, "agent-a", "agent")
    _answered_by(_user("agent-a"))
    response = _take(agent, then=then, **fields)
    assert response.status_code == 303 and response.headers["Location"].endswith("/console")
    (ticket,) = _tickets()
    assert ticket.status == status and check(ticket)
    if then == "answer_directly":
        assert db.session.scalars(select(TicketArticle.article_key)).all() == ["kb-9002"]


def test_a_wrong_decision_writes_no_ticket_and_keeps_what_was_typed(lines: Flask) -> None:
    agent = login(lines, "agent-a", "agent")
    _answered_by(_user("agent-a"))
    no_reason = _take(agent, then="reject", content="市民来电反映的内容")
    assert no_reason.status_code == 422 and "原因" in no_reason.text
    assert "市民来电反映的内容" in no_reason.text and _tickets() == []
    no_content = _take(agent, content="   ")
    assert no_content.status_code == 422 and _tickets() == []
    stale = agent.post(f"/console/calls/{SID}", data={"nonce": "x", "content": "有内容"})
    assert stale.status_code == 422 and _tickets() == []
    unknown_unit = _take(agent, then="dispatch", content="路灯坏了", department="NOPE")
    assert unknown_unit.status_code in (404, 422)
    # The ticket itself was accepted (the call is never lost); only the dispatch failed.
    assert [t.status for t in _tickets()] == ["accepted"]
    supervisor = login(lines, "sup", "supervisor")
    refused = supervisor.post(
        f"/console/calls/{SID}", data={"nonce": "b" * 32, "content": "x", "type": "help"}
    )
    assert refused.status_code == 403


def _page_decision(client: FlaskClient, reference: str, action: str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post(f"/tickets/{reference}/decide/{action}", data=fields, headers=ZH)


def test_the_ticket_page_decides_a_request_from_the_queue(lines: Flask, staff: Any) -> None:
    agent = login(lines, "agent-a", "agent")
    sms = staff.post(
        "agent", "/tickets", {"channel": "sms", "type": "help", "content": "小区门口路灯坏了"}
    ).json["reference"]
    page = agent.get(f"/tickets/{sms}?from=console", headers=ZH).text
    for key in (
        'accesskey="a"',
        'accesskey="d"',
        'accesskey="r"',
        'accesskey="e"',
        'accesskey="m"',
    ):
        assert key in page
    assert 'name="route"' in page and 'value="console"' in page
    done = _page_decision(agent, sms, "dispatch", route="PJQ|", next="console")
    assert done.status_code == 303 and done.headers["Location"].endswith("/console")
    assert _tickets()[0].status == "pending_sign"
    again = _page_decision(agent, sms, "reject", reason="invalid")
    assert again.status_code == 409 and "受理" in again.text
    handler = login(lines, "h-pjq", "handler", "PJQ")
    assert 'accesskey="d"' not in handler.get(f"/tickets/{sms}").text
    refused = _page_decision(handler, sms, "dispatch", department="SCJGJ")
    assert refused.status_code == 403 and _tickets()[0].department.code == "PJQ"
    assert agent.post(f"/tickets/{sms}/decide/close_everything").status_code == 404


def test_a_repeated_request_is_merged_from_the_ticket_page(lines: Flask, staff: Any) -> None:
    agent = login(lines, "agent-a", "agent")
    first = staff.post(
        "agent",
        "/tickets",
        {"channel": "phone", "type": "complaint", "content": "楼下烧烤店油烟很大", "phone": CALLER},
    ).json["reference"]
    second = staff.post(
        "agent",
        "/tickets",
        {
            "channel": "phone",
            "type": "complaint",
            "content": "楼下烧烤店油烟又来了",
            "phone": CALLER,
        },
    ).json["reference"]
    page = agent.get(f"/tickets/{second}", headers=ZH).text
    assert f'name="into" value="{first}"' in page
    merged = _page_decision(agent, second, "merge", into=first)
    assert merged.status_code == 303
    statuses = {t.reference: t.status for t in _tickets()}
    assert statuses == {first: "accepted", second: "merged"}
    count = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.status == "merged"))
    assert count == 1


def test_a_practice_call_reaches_the_agents_console_like_a_real_one(
    lines: Flask, runner: Any
) -> None:
    agent = login(lines, "agent-a", "agent")
    socket = Socket(lines, "/office", agent)
    result = runner.invoke(
        args=["calls", "ring", "--caller", "13800138000", "--agent", "agent-a", "--line", "12315"]
    )
    assert result.exit_code == 0, result.output
    sid = result.output.split("screen pop: /console/calls/")[1].strip()
    db.session.rollback()
    call = db.session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
    assert call is not None and call.status == "answered" and call.data["practice"] is True
    assert call.agent_id == _user("agent-a").id and call.caller == CALLER
    relay()
    assert socket.received("call.answered") == [{"call_sid": sid, "event_id": socket_event_id(sid)}]
    page = agent.get(f"/console/calls/{sid}", headers=ZH).text
    assert "市场监管投诉举报热线" in page

    login(lines, "h-pjq", "handler", "PJQ")
    refused = runner.invoke(args=["calls", "ring", "--caller", "13800138000", "--agent", "h-pjq"])
    assert refused.exit_code == 2 and "not an active agent" in refused.output
    bad = runner.invoke(args=["calls", "ring", "--caller", "12", "--agent", "agent-a"])
    assert bad.exit_code == 2 and "not a valid phone number" in bad.output


def socket_event_id(sid: str) -> int:
    from hotline.models import OutboxItem

    found = db.session.scalar(
        select(OutboxItem.id)
        .where(OutboxItem.name == "call.answered")
        .order_by(OutboxItem.id.desc())
    )
    assert found is not None
    return int(found)


def test_another_agents_call_is_theirs_and_supervisors_see_it_masked(lines: Flask) -> None:
    login(lines, "agent-a", "agent")
    other = login(lines, "agent-b", "agent")
    _answered_by(_user("agent-a"))
    refused = _take(other, content="我来替他受理")
    assert refused.status_code == 403 and "其他话务员" in refused.text and _tickets() == []
    supervisor = login(lines, "sup", "supervisor")
    page = supervisor.get(f"/console/calls/{SID}", headers=ZH).text
    assert CALLER not in page and "138****8000" in page
    dispatcher = login(lines, "disp", "dispatcher")
    assert _take(dispatcher, content="派单员可以代为受理").status_code == 303


def test_a_refused_decision_is_carried_out_when_the_form_is_sent_again(lines: Flask) -> None:
    agent = login(lines, "agent-a", "agent")
    _answered_by(_user("agent-a"))
    first = _take(agent, then="dispatch", content="路灯坏了", department="NOPE")
    assert first.status_code in (404, 422)
    again = _take(agent, then="dispatch", content="路灯坏了", department="PJQ")
    assert again.status_code == 303
    (ticket,) = _tickets()
    assert ticket.status == "pending_sign" and ticket.department.code == "PJQ"
    twice = _take(agent, then="dispatch", content="路灯坏了", department="PJQ")
    assert twice.status_code == 303 and len(_tickets()) == 1  # not dispatched again
