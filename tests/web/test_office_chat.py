"""The chat panel on a chat ticket's page: agents write in an open chat, supervisors
read, an ended chat is shown ended, and other tickets have no panel."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from hotline.extensions import db
from hotline.intake import chat
from hotline.models import Ticket, User
from tests.api_helpers import new_ticket
from tests.web.socket_client import login

ZH = {"Accept-Language": "zh-CN"}


def _panel(page: str) -> str | None:
    marker = 'id="office-chat" data-closed="'
    if marker not in page:
        return None
    return page.split(marker, 1)[1].split('"', 1)[0]


def test_the_chat_panel_is_for_the_office_and_follows_the_chat(app: Flask, staff: Any) -> None:
    reference = chat.start_chat("社保卡丢失了怎么补办？").ticket.reference
    agent = login(app, "agent-a", "agent")
    supervisor = login(app, "sup", "supervisor")
    page = agent.get(f"/tickets/{reference}", headers=ZH).text
    assert _panel(page) == "false" and "回复市民" in page and "office_chat.js" in page
    assert _panel(supervisor.get(f"/tickets/{reference}").text) == "true"  # reads only

    agent_user = db.session.scalar(select(User).where(User.username == "agent-a"))
    assert agent_user is not None
    chat.close_chat(reference, agent_user)
    assert _panel(agent.get(f"/tickets/{reference}").text) == "true"

    phone = new_ticket(staff, content="电话工单没有在线咨询")
    assert _panel(agent.get(f"/tickets/{phone}").text) is None
    assert db.session.scalar(select(Ticket.channel).where(Ticket.reference == phone)) == "phone"
