"""The agent console (/console): the live queue of everything waiting for an agent,
oldest first, and the agents' presence, shared through Redis and pushed to the centre."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from hotline import console
from hotline.extensions import db
from hotline.models import CallbackRequest, CallRecord, Ticket, User, utcnow
from tests.api_helpers import new_ticket
from tests.web.socket_client import PageClient, Socket, login

ZH = {"Accept-Language": "zh-CN"}


@pytest.mark.parametrize(
    ("role", "department", "status"),
    [
        ("agent", None, 200),
        ("dispatcher", None, 200),
        ("supervisor", None, 200),
        ("admin", None, 200),
        ("handler", "PJQ", 403),
        ("editor", None, 403),
    ],
)
def test_the_console_is_for_the_hotline_centre(
    app: Flask, staff: Any, role: str, department: str | None, status: int
) -> None:
    assert login(app, f"u-{role}", role, department).get("/console").status_code == status


def _age(reference: str, minutes: int) -> None:
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    ticket.received_at = utcnow() - timedelta(minutes=minutes)
    db.session.commit()


def test_everything_waiting_is_listed_oldest_first(app: Flask, staff: Any) -> None:
    sms = new_ticket(staff, channel="sms", content="短信反映路灯坏了", phone="13800138001")
    web = new_ticket(staff, channel="web", content="网上反映噪音扰民")
    on_phone = new_ticket(staff, channel="phone", content="电话里已受理")  # the agent has it
    handled = new_ticket(staff, channel="sms", content="已派出的短信工单")
    staff.act("agent", handled, "dispatch", {"department": "PJQ"})
    _age(sms, 30)
    _age(web, 5)
    now = utcnow()
    db.session.add(
        CallRecord(
            call_sid="CA" + "1" * 32,
            caller="+8613800138002",
            status="queued",
            started_at=now - timedelta(minutes=11),
            queued_at=now - timedelta(minutes=10),
        )
    )
    db.session.add(
        CallbackRequest(
            phone_hash="x",
            phone="+8613800138003",
            requested_at=now - timedelta(minutes=20),
            status="pending",
        )
    )
    db.session.commit()

    agent = login(app, "a1", "agent")
    page = agent.get("/console", headers=ZH).text
    assert "坐席工作台" in page and "已等待" in page
    fragment = agent.get("/console?fragment=1", headers=ZH).text
    assert "<html" not in fragment
    # Oldest first: the SMS of 30 minutes ago, the callback (20), the call (10), the web (5).
    rows = fragment.split('<tr class="queue-item ')[1:]
    assert [row.split('"')[0] for row in rows] == ["ticket", "callback", "call", "ticket"]
    assert sms in rows[0] and web in rows[3]
    assert on_phone not in fragment and handled not in fragment
    assert "+8613800138003" in rows[1]  # the agent calls back: the whole number
    supervisor = login(app, "s1", "supervisor").get("/console?fragment=1").text
    assert "+8613800138003" not in supervisor and "138****8003" in supervisor
    assert "+8613800138001" in rows[0] and "138****8001" in supervisor


def test_an_agents_state_is_kept_and_pushed_to_the_centre(app: Flask, staff: Any) -> None:
    app.test_client_class = PageClient
    watcher = Socket(app, "/office", login(app, "s1", "supervisor"))
    agent = login(app, "a1", "agent")
    assert agent.post("/console/state", data={"state": "busy"}).status_code == 303
    me = db.session.scalar(select(User).where(User.username == "a1"))
    assert console.state_of(me)["state"] == "busy"
    pushed = watcher.received("agent.state")
    assert pushed and pushed[-1]["state"] == "busy" and pushed[-1]["name"] == "a1"
    assert "忙碌" in agent.get("/console", headers=ZH).text
    refused = agent.post("/console/state", data={"state": "napping"}, headers=ZH)
    assert refused.status_code == 422 and "坐席状态须为" in refused.text
    assert console.state_of(me)["state"] == "busy"
    assert [s["name"] for s in console.all_states()] == ["a1"]


def test_without_redis_the_console_still_opens_and_says_why_a_state_is_not_saved(
    app: Flask, staff: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = login(app, "a1", "agent")
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens
    page = agent.get("/console", headers=ZH)
    assert page.status_code == 200 and "未设置" in page.text
    refused = agent.post("/console/state", data={"state": "busy"}, headers=ZH)
    assert refused.status_code == 503 and "坐席状态暂时无法保存" in refused.text


def test_an_available_agent_gets_a_callback_and_marks_it_done(app: Flask, staff: Any) -> None:
    db.session.add(CallbackRequest(phone_hash="x", phone="+8613800138003", requested_at=utcnow()))
    db.session.commit()
    agent = login(app, "a1", "agent")
    assert agent.post("/console/state", data={"state": "available"}).status_code == 303
    page = agent.get("/console", headers=ZH).text
    assert "分配给我的" in page and "+8613800138003" in page and "已回拨" in page
    task = db.session.scalar(select(CallbackRequest))
    assert task.status == "assigned"
    other = login(app, "a2", "agent")
    refused = other.post(f"/console/callbacks/{task.id}/done", headers=ZH)
    assert refused.status_code == 409 and "未分配给您" in refused.text
    assert agent.post(f"/console/callbacks/{task.id}/done").status_code == 303
    db.session.expire_all()
    assert db.session.get(CallbackRequest, task.id).status == "done"
    assert agent.post("/console/callbacks/999999/done").status_code == 404
